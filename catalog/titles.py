"""Movie titles as MovieLens writes them, and keys to compare them the way people write them.

Pure functions, no Django: MovieLens titles carry the year ("Toy Story (1995)"), move leading
articles to the end ("Godfather, The (1972)", "Haine, La", "Ours, L'") and add alternative titles
in parentheses ("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Seven (a.k.a. Se7en)").
Other sites write "The Godfather", "La Haine", "L'Ours". `title_variants` gives every way a
MovieLens title may be written; `fold` makes the comparison key (case, accents and punctuation
ignored), so equal keys mean "the same words".
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Articles MovieLens moves to the end of a title, in the languages its catalogue has most of.
# An article ending in an apostrophe joins the next word without a space ("L'Ours").
TRAILING_ARTICLES = (
    "The", "A", "An",
    "Le", "La", "Les", "L'", "Un", "Une",
    "Der", "Die", "Das", "Ein", "Eine",
    "El", "Los", "Las", "Una",
    "Il", "Lo", "Gli", "I",
    "De", "Het", "Den", "Det",
)  # fmt: skip
# Articles a title may gain or lose between sites ("Birdcage" / "The Birdcage"); only English ones,
# since "Die", "El" or "I" also start titles as words of their own ("Die Hard", "I Am Legend").
OPTIONAL_ARTICLES = frozenset({"the", "a", "an"})

YEAR_RE = re.compile(r"\s*\((\d{4})(?:[-–]\d{4})?\)\s*$")
_TRAILING_ARTICLE_RE = re.compile(
    r"^(?P<rest>.+?),\s*(?P<article>" + "|".join(re.escape(a) for a in TRAILING_ARTICLES) + r")$", re.IGNORECASE
)
# "Crow, The: Wicked Prayer": the article of the part before a subtitle.
_SUBTITLE_ARTICLE_RE = re.compile(
    r"^(?P<rest>[^:]+?),\s*(?P<article>" + "|".join(re.escape(a) for a in TRAILING_ARTICLES) + r"):\s*(?P<sub>.+)$",
    re.IGNORECASE,
)
_AKA_RE = re.compile(r"^(?:a\.?k\.?a\.?)\s+", re.IGNORECASE)
# Letters that Unicode decomposition does not split into a base letter and an accent.
_LETTERS = str.maketrans({"æ": "ae", "œ": "oe", "ß": "ss", "ø": "o", "đ": "d", "ł": "l", "ħ": "h", "ı": "i", "þ": "th"})
_APOSTROPHES = re.compile(r"['’‘`´]")
_NOT_WORD = re.compile(r"[^0-9a-z]+")


def split_year(title: str) -> tuple[str, int | None]:
    """("Toy Story", 1995) from "Toy Story (1995)"; the title unchanged and None without a trailing year."""
    match = YEAR_RE.search(title)
    if match is None:
        return title.strip(), None
    return title[: match.start()].strip(), int(match.group(1))


def unflip_article(title: str) -> str:
    """ "Godfather, The" -> "The Godfather"; "Ours, L'" -> "L'Ours"; "Lord of the Rings: The Two Towers, The" ->
    "The Lord of the Rings: The Two Towers" (MovieLens moves the article of the whole title to its very end);
    "Crow, The: Wicked Prayer" -> "The Crow: Wicked Prayer". Titles without such an article come back unchanged."""
    title = title.strip()
    match = _TRAILING_ARTICLE_RE.match(title)
    subtitle = ""
    if match is None:
        match = _SUBTITLE_ARTICLE_RE.match(title)
        if match is None:
            return title
        subtitle = ": " + match.group("sub").strip()
    article = match.group("article")
    # Keep the capitalisation of the canonical article ("The", "L'") whatever MovieLens wrote.
    canonical = next(a for a in TRAILING_ARTICLES if a.lower() == article.lower())
    separator = "" if canonical.endswith("'") else " "
    return f"{canonical}{separator}{match.group('rest').strip()}{subtitle}"


def _trailing_groups(title: str) -> tuple[str, list[str]]:
    """Split off trailing balanced "(...)" groups: ("Léon: The Professional", ["a.k.a. The Professional", "Léon"])."""
    groups: list[str] = []
    rest = title.rstrip()
    while rest.endswith(")"):
        depth = 0
        for index in range(len(rest) - 1, -1, -1):
            if rest[index] == ")":
                depth += 1
            elif rest[index] == "(":
                depth -= 1
                if depth == 0:
                    break
        else:
            break  # unbalanced: leave it alone
        inner, before = rest[index + 1 : -1].strip(), rest[:index].rstrip()
        if not before or not inner:
            break  # "(500) Days of Summer" keeps its leading group; "()" is not a title
        groups.insert(0, inner)
        rest = before
    return rest, groups


def title_names(title: str) -> tuple[str, list[str]]:
    """A MovieLens title (year already removed) as its main name and its alternative names, articles in front.

    "Amelie (Fabuleux destin d'Amélie Poulain, Le)" -> ("Amelie", ["Le Fabuleux destin d'Amélie Poulain"]).
    """
    main, groups = _trailing_groups(title)
    alternatives = [unflip_article(_AKA_RE.sub("", group)) for group in groups]
    return unflip_article(main), [name for name in alternatives if name]


def display_title(title: str) -> str:
    """A MovieLens title as people write it: articles in front, no alternative titles, no year.

    "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)" -> "Amelie"; "Godfather, The (1972)" -> "The Godfather".
    """
    name, _ = title_names(split_year(title)[0])
    return name


def natural_title(title: str) -> str:
    """A MovieLens title read naturally, every part kept: articles in front, alternative names and year as written.

    "Matrix, The (1999)" -> "The Matrix (1999)"; "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)" ->
    "Amelie (Le Fabuleux destin d'Amélie Poulain) (2001)"; "Death Note: Desu nôto (2006–2007)" unchanged.
    """
    match = YEAR_RE.search(title)
    bare, year = (title[: match.start()], match.group(0).strip()) if match else (title, "")
    main, groups = _trailing_groups(bare.strip())
    parts = [unflip_article(main), *(f"({unflip_article(group)})" for group in groups)]
    if year:
        parts.append(year)
    return " ".join(part for part in parts if part)


def title_variants(title: str) -> set[str]:
    """Every way the MovieLens `title` (with or without its year) may be written elsewhere, as written (not folded).

    The main name and each alternative name with their articles in front, and the title as
    MovieLens wrote it (without the year), which covers titles that really end in parentheses.
    """
    bare, _ = split_year(title)
    main, alternatives = title_names(bare)
    return {name for name in (main, *alternatives, bare, unflip_article(bare)) if name}


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """The comparison key of a title: lower case, accents and punctuation removed, "&" read as "and".

    "L'Amélie, Part II!" -> "lamelie part ii"; "Schindler’s List" -> "schindlers list".
    """
    text = text.casefold()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
        text = "".join(char for char in text if not unicodedata.combining(char))
    text = _APOSTROPHES.sub("", text.replace("&", " and "))
    return _NOT_WORD.sub(" ", text).strip()


def without_leading_article(key: str) -> str:
    """A folded key without a leading English article ("the godfather" -> "godfather")."""
    first, _, rest = key.partition(" ")
    return rest if rest and first in OPTIONAL_ARTICLES else key
