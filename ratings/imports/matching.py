"""Finding each imported row's movie in the catalogue, without ever guessing.

Pure: a `CatalogueIndex` is built once per file from (id, title, year, imdb_id, tmdb_id) tuples
(dicts keyed by IMDb id, TMDB id and folded title variants), then every row is looked up in it,
so a 20,000-row file costs dictionary lookups, not queries.

The rules:

- By id (IMDb, TMDB): exactly one catalogue movie with that id is a match; two movies sharing it,
  or an IMDb and a TMDB id naming different movies, are for the person to choose between.
- By title and year: every way MovieLens writes a title counts (articles moved to the end,
  alternative titles in parentheses; see catalog.titles), case, accents and punctuation ignored.
  The exact year is preferred, then one year either way. One candidate is a match; several are
  for the person to choose; none leaves the row not found, with near titles suggested (rapidfuzz,
  same year ±1) that the person may pick. A suggestion is never applied by itself.
- A movie rated on several rows keeps the newest (the last on a tie); the others are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from catalog.titles import display_title, fold, split_year, title_variants, without_leading_article

from .formats import IMDB, MOVIEREC, ParsedRow

MATCHED = "matched"
CHOOSE = "choose"
NOT_FOUND = "not_found"
SKIPPED = "skipped"

MAX_CANDIDATES = 8
MAX_SUGGESTIONS = 3
SUGGESTION_MIN_SCORE = 80


@dataclass(frozen=True, slots=True)
class MatchResult:
    status: str  # MATCHED, CHOOSE, NOT_FOUND or SKIPPED
    movie_id: int | None = None  # when MATCHED
    candidates: tuple[int, ...] = ()  # CHOOSE: the movies it may be; NOT_FOUND: suggestions (may be empty)
    reason: str = ""  # why it was skipped or not found, how it was matched


@dataclass
class CatalogueIndex:
    """The catalogue as lookup tables: build it with `CatalogueIndex.build(rows)`."""

    years: dict[int, int | None] = field(default_factory=dict)
    by_imdb: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_tmdb: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_key: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_short_key: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    keys_by_year: dict[int | None, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    keys_of: dict[int, set[str]] = field(default_factory=dict)

    @classmethod
    def build(cls, movies: Iterable[tuple[int, str, int | None, str, int | None]]) -> CatalogueIndex:
        """`movies`: (id, MovieLens title, year, IMDb id digits or "", TMDB id or None) per catalogue movie."""
        index = cls()
        for movie_id, title, year, imdb_id, tmdb_id in movies:
            index.years[movie_id] = year
            keys = index.keys_of[movie_id] = set()
            if imdb_id and imdb_id.isdigit():
                index.by_imdb[int(imdb_id)].append(movie_id)
            if tmdb_id:
                index.by_tmdb[tmdb_id].append(movie_id)
            for variant in title_variants(title):
                key = fold(variant)
                if not key:
                    continue
                keys.add(key)
                index.by_key[key].add(movie_id)
                index.by_short_key[without_leading_article(key)].add(movie_id)
                index.keys_by_year[year].append((key, movie_id))
        return index

    def __len__(self) -> int:
        return len(self.years)


def _one_or_choose(movie_ids, how: str) -> MatchResult:
    movie_ids = sorted(set(movie_ids))
    if len(movie_ids) == 1:
        return MatchResult(MATCHED, movie_ids[0], reason=how)
    return MatchResult(CHOOSE, candidates=tuple(movie_ids[:MAX_CANDIDATES]), reason=f"{len(movie_ids)} movies {how}")


def _by_ids(index: CatalogueIndex, row: ParsedRow) -> MatchResult | None:
    found: dict[str, list[int]] = {}
    if row.imdb_id and row.imdb_id in index.by_imdb:
        found["IMDb id"] = index.by_imdb[row.imdb_id]
    if row.tmdb_id and row.tmdb_id in index.by_tmdb:
        found["TMDB id"] = index.by_tmdb[row.tmdb_id]
    if not found:
        return None
    movie_ids = {movie_id for ids in found.values() for movie_id in ids}
    how = "with this " + " and ".join(found) if len(movie_ids) > 1 else "by " + " and ".join(found)
    return _one_or_choose(movie_ids, how)


def _in_years(index: CatalogueIndex, movie_ids: set[int], year: int | None) -> MatchResult | None:
    if year is None:
        return _one_or_choose(movie_ids, "by title (no year given)")
    exact = [m for m in movie_ids if index.years[m] == year]
    if exact:
        return _one_or_choose(exact, "by title and year")
    near = [m for m in movie_ids if index.years[m] is not None and abs(index.years[m] - year) == 1]
    if near:
        return _one_or_choose(near, "by title, a year apart")
    return None


def match_title(index: CatalogueIndex, title: str, year: int | None) -> MatchResult:
    """The title rules above, for one title and year."""
    key = fold(title)
    if not key:
        return MatchResult(NOT_FOUND, reason="no title to look for")
    same_title: set[int] = set()
    for movie_ids in (index.by_key.get(key), index.by_short_key.get(without_leading_article(key))):
        if not movie_ids:
            continue
        result = _in_years(index, movie_ids, year)
        if result is not None:
            return result
        same_title |= movie_ids
    suggestions = sorted(same_title, key=lambda m: abs((index.years[m] or 0) - (year or 0)))[:MAX_SUGGESTIONS]
    if year is not None and len(suggestions) < MAX_SUGGESTIONS:
        suggestions += [m for m in _near_titles(index, key, year) if m not in suggestions]
    reason = "no movie with this title in that year" if same_title else "no movie with this title"
    return MatchResult(NOT_FOUND, candidates=tuple(suggestions[:MAX_SUGGESTIONS]), reason=reason)


def _near_titles(index: CatalogueIndex, key: str, year: int) -> list[int]:
    choices = [pair for y in (year - 1, year, year + 1) for pair in index.keys_by_year.get(y, ())]
    if not choices:
        return []
    best = process.extract(
        key,
        [choice for choice, _ in choices],
        scorer=fuzz.ratio,
        limit=MAX_SUGGESTIONS * 2,
        score_cutoff=SUGGESTION_MIN_SCORE,
    )
    found: list[int] = []
    for _, _, position in best:
        movie_id = choices[position][1]
        if movie_id not in found:
            found.append(movie_id)
    return found


def match_row(index: CatalogueIndex, row: ParsedRow, format: str) -> MatchResult:  # noqa: A002
    """Where `row` of a file in `format` stands: matched, to choose, not found or skipped."""
    if row.skip_reason:
        return MatchResult(SKIPPED, reason=row.skip_reason)
    by_ids = _by_ids(index, row)
    if by_ids is not None:
        return by_ids
    if format == IMDB:
        # IMDb rows are matched by their id only; a title that fits is offered, not applied.
        title = match_title(index, row.title, row.year)
        offered = (title.movie_id,) if title.movie_id else title.candidates
        return MatchResult(NOT_FOUND, candidates=offered[:MAX_SUGGESTIONS], reason="no movie with this IMDb id")
    if format == MOVIEREC:
        # Our own titles are MovieLens titles ("Heat (1995)", "Godfather, The (1972)").
        if row.movie_id and row.movie_id in index.years:
            # Our own id, trusted only when the title agrees (another MovieRec may number movies differently).
            if {fold(variant) for variant in title_variants(row.title)} & index.keys_of[row.movie_id]:
                return MatchResult(MATCHED, row.movie_id, reason="by MovieRec id and title")
        return match_title(index, display_title(row.title), row.year or split_year(row.title)[1])
    return match_title(index, row.title, row.year)


def match_rows(index: CatalogueIndex, rows: list[ParsedRow], format: str) -> list[MatchResult]:  # noqa: A002
    """`match_row` for every row, then one row per matched movie: the newest rating (the last on a tie)."""
    results = [match_row(index, row, format) for row in rows]
    kept: dict[int, int] = {}  # movie id -> position of the row that wins
    for position, (row, result) in enumerate(zip(rows, results, strict=True)):
        if result.status != MATCHED:
            continue
        other = kept.get(result.movie_id)
        if other is None or _newer_or_same(row, rows[other]):
            kept[result.movie_id] = position
    for position, result in enumerate(results):
        if result.status == MATCHED and kept[result.movie_id] != position:
            winner = rows[kept[result.movie_id]]
            results[position] = MatchResult(
                SKIPPED, reason=f"the same movie as line {winner.line}, whose rating is newer or later in the file"
            )
    return results


def _newer_or_same(row: ParsedRow, other: ParsedRow) -> bool:
    if row.rated_at is None or other.rated_at is None:
        return True
    return row.rated_at >= other.rated_at
