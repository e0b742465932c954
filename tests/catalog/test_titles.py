import pytest

from catalog.titles import (
    display_title,
    fold,
    natural_title,
    split_year,
    title_variants,
    unflip_article,
    without_leading_article,
)


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Toy Story (1995)", ("Toy Story", 1995)),
        ("Godfather, The (1972)", ("Godfather, The", 1972)),
        ("Babylon 5 (1994-1998)", ("Babylon 5", 1994)),
        ("No Year Here", ("No Year Here", None)),
        ("(500) Days of Summer (2009)", ("(500) Days of Summer", 2009)),
    ],
)
def test_split_year(title, expected):
    assert split_year(title) == expected


@pytest.mark.parametrize(
    "title, expected",
    [
        ("Godfather, The", "The Godfather"),
        ("Haine, La", "La Haine"),
        ("Visiteurs, Les", "Les Visiteurs"),
        ("Ours, L'", "L'Ours"),
        ("Blechtrommel, Die", "Die Blechtrommel"),
        ("Himmel über Berlin, Der", "Der Himmel über Berlin"),
        ("Boot, Das", "Das Boot"),
        ("Laberinto del fauno, El", "El Laberinto del fauno"),
        ("Postino, Il", "Il Postino"),
        ("Single Girl, A", "A Single Girl"),
        ("American Tail, An", "An American Tail"),
        ("Lord of the Rings: The Two Towers, The", "The Lord of the Rings: The Two Towers"),
        ("Crow, The: Wicked Prayer", "The Crow: Wicked Prayer"),
        ("Good, the Bad and the Ugly, The", "The Good, the Bad and the Ugly"),
        ("Hello, Dolly!", "Hello, Dolly!"),
        ("Toy Story", "Toy Story"),
    ],
)
def test_unflip_article_moves_movielens_trailing_articles_to_the_front(title, expected):
    assert unflip_article(title) == expected


def test_alternative_titles_in_parentheses_are_variants_with_their_articles_in_front():
    variants = title_variants("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)")
    assert {"Amelie", "Le Fabuleux destin d'Amélie Poulain"} <= variants
    assert {fold(v) for v in variants} >= {"amelie", "le fabuleux destin damelie poulain"}


def test_aka_and_several_alternative_titles():
    variants = title_variants("Léon: The Professional (a.k.a. The Professional) (Léon) (1994)")
    assert {"Léon: The Professional", "The Professional", "Léon"} <= variants
    assert "Seven" in title_variants("Seven (a.k.a. Se7en) (1995)") and "Se7en" in title_variants(
        "Seven (a.k.a. Se7en)"
    )


def test_a_leading_parenthesis_is_part_of_the_title():
    assert title_variants("(500) Days of Summer (2009)") == {"(500) Days of Summer"}


def test_display_title_is_how_people_write_it():
    assert display_title("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)") == "Amelie"
    assert display_title("Godfather, The (1972)") == "The Godfather"


@pytest.mark.parametrize(
    "a, b",
    [
        ("Amélie", "AMELIE"),
        ("Schindler's List", "Schindler’s List"),
        ("Schindler's List", "Schindlers List"),
        ("Se7en!", "se7en"),
        ("Star Wars: Episode IV - A New Hope", "Star Wars Episode IV – A New Hope"),
        ("Me, Myself & Irene", "Me Myself and Irene"),
        ("Æon Flux", "aeon flux"),
        ("Łódź", "lodz"),
        ("Straße", "strasse"),
        ("8½", "8½"),
    ],
)
def test_fold_ignores_case_accents_and_punctuation(a, b):
    assert fold(a) == fold(b)


def test_fold_keeps_words_apart():
    assert fold("Hamlet 2") != fold("Hamlet")
    assert fold("Léon") == "leon"


def test_without_leading_article_only_drops_english_articles():
    assert without_leading_article("the godfather") == "godfather"
    assert without_leading_article("a beautiful mind") == "beautiful mind"
    assert without_leading_article("die hard") == "die hard"
    assert without_leading_article("the") == "the"


@pytest.mark.parametrize(
    "title, natural",
    [
        ("Matrix, The (1999)", "The Matrix (1999)"),
        ("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Amelie (Le Fabuleux destin d'Amélie Poulain) (2001)"),
        ("Godfather: Part II, The (1974)", "The Godfather: Part II (1974)"),
        ("Ours, L' (1988)", "L'Ours (1988)"),
        ("(500) Days of Summer (2009)", "(500) Days of Summer (2009)"),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto (2006–2007)"),
        ("Yes, Minister", "Yes, Minister"),
    ],
)
def test_natural_title_puts_articles_in_front_and_keeps_every_part(title, natural):
    assert natural_title(title) == natural
