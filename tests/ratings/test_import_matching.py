"""Matching imported rows to the catalogue (ratings/imports/matching.py): pure, no database."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ratings.imports.formats import IMDB, LETTERBOXD, MOVIEREC, TRAKT, ParsedRow
from ratings.imports.matching import CHOOSE, MATCHED, NOT_FOUND, SKIPPED, CatalogueIndex, match_row, match_rows

CATALOGUE = [
    # id, MovieLens title, year, IMDb digits, TMDB
    (1, "Godfather, The (1972)", 1972, "0068646", 238),
    (2, "Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", 2001, "0211915", 194),
    (3, "Haine, La (1995)", 1995, "0113247", 406),
    (4, "Ours, L' (1988)", 1988, "0095800", None),
    (5, "Hamlet (1990)", 1990, "0099726", None),
    (6, "Hamlet (1996)", 1996, "0116477", None),
    (7, "Hamlet (2000)", 2000, "0171359", None),
    (8, "Emma (1996)", 1996, "0116191", None),
    (9, "Emma (1996)", 1996, "0118308", None),  # MovieLens has the film and the TV film, same year
    (10, "Crow, The (1994)", 1994, "0109506", None),
    (11, "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)", 1994, "0110413", 101),
    (12, "Birdcage, The (1996)", 1996, "0115685", None),
    (13, "Dup Imdb A (2001)", 2001, "1234567", None),
    (14, "Dup Imdb B (2001)", 2001, "1234567", None),
    (15, "Heat (1995)", 1995, "0113277", 949),
    (16, "Sabrina (1954)", 1954, "0047437", None),
    (17, "Sabrina (1995)", 1995, "0114319", None),
]


@pytest.fixture(scope="module")
def index():
    return CatalogueIndex.build(CATALOGUE)


def row(title="", year=None, value="4", **kwargs) -> ParsedRow:
    return ParsedRow(line=kwargs.pop("line", 2), title=title, year=year, value=Decimal(value), **kwargs)


@pytest.mark.parametrize(
    "title, year, movie_id",
    [
        ("The Godfather", 1972, 1),
        ("the godfather", 1972, 1),
        ("Godfather, The", 1972, 1),
        ("Godfather", 1972, 1),  # an article one side leaves out
        ("La Haine", 1995, 3),
        ("L'Ours", 1988, 4),
        ("Amelie", 2001, 2),
        ("Amélie", 2001, 2),
        ("Le Fabuleux Destin d'Amélie Poulain", 2001, 2),
        ("Léon: The Professional", 1994, 11),
        ("The Professional", 1994, 11),
        ("Leon", 1994, 11),
        ("The Birdcage", 1996, 12),
        ("Birdcage", 1996, 12),
    ],
)
def test_title_rules_articles_accents_alternative_titles(index, title, year, movie_id):
    result = match_row(index, row(title, year), LETTERBOXD)
    assert (result.status, result.movie_id) == (MATCHED, movie_id)


def test_year_one_apart_matches_when_nothing_has_the_exact_year(index):
    for year in (1971, 1973):
        assert match_row(index, row("The Godfather", year), LETTERBOXD).movie_id == 1
    result = match_row(index, row("The Godfather", 1974), LETTERBOXD)
    assert result.status == NOT_FOUND and result.candidates == (1,)  # offered, never applied


def test_exact_year_is_preferred_to_a_year_apart(index):
    assert match_row(index, row("Hamlet", 1996), LETTERBOXD).movie_id == 6
    assert match_row(index, row("Hamlet", 1990), LETTERBOXD).movie_id == 5
    assert match_row(index, row("Hamlet", 1991), LETTERBOXD).movie_id == 5
    assert match_row(index, row("Hamlet", 1995), LETTERBOXD).movie_id == 6


def test_more_than_one_candidate_is_never_guessed(index):
    result = match_row(index, row("Emma", 1996), LETTERBOXD)
    assert result.status == CHOOSE and result.candidates == (8, 9) and result.movie_id is None
    # Without a year every Hamlet fits.
    result = match_row(index, row("Hamlet"), LETTERBOXD)
    assert result.status == CHOOSE and result.candidates == (5, 6, 7)


def test_a_single_candidate_without_a_year_matches(index):
    assert match_row(index, row("La Haine"), LETTERBOXD).movie_id == 3


def test_not_found_suggests_near_titles_of_that_year(index):
    result = match_row(index, row("The Godfathr", 1972), LETTERBOXD)
    assert result.status == NOT_FOUND and 1 in result.candidates
    assert match_row(index, row("Something Else Entirely", 1972), LETTERBOXD).candidates == ()


def test_imdb_rows_match_by_id_only(index):
    assert match_row(index, row("Whatever", 1999, imdb_id=68646), IMDB).movie_id == 1
    result = match_row(index, row("The Godfather", 1972, imdb_id=9999999), IMDB)
    assert result.status == NOT_FOUND and result.candidates == (1,)
    assert result.reason == "no movie with this IMDb id"


def test_two_catalogue_movies_with_one_imdb_id_are_for_the_person_to_choose(index):
    result = match_row(index, row("Dup", 2001, imdb_id=1234567), IMDB)
    assert result.status == CHOOSE and result.candidates == (13, 14)


def test_trakt_by_imdb_or_tmdb_then_title(index):
    assert match_row(index, row("x", None, imdb_id=113277), TRAKT).movie_id == 15
    assert match_row(index, row("x", None, tmdb_id=949), TRAKT).movie_id == 15
    assert match_row(index, row("Heat", 1995, imdb_id=1, tmdb_id=2), TRAKT).movie_id == 15  # unknown ids: title
    disagree = match_row(index, row("x", None, imdb_id=113277, tmdb_id=238), TRAKT)
    assert disagree.status == CHOOSE and disagree.candidates == (1, 15)


def test_movierec_ids_then_own_id_only_when_the_title_agrees(index):
    assert match_row(index, row("Anything", None, tmdb_id=238, movie_id=15), MOVIEREC).movie_id == 1
    assert match_row(index, row("Heat (1995)", 1995, movie_id=15), MOVIEREC).movie_id == 15
    assert match_row(index, row("Heat", None, movie_id=15), MOVIEREC).movie_id == 15
    # Another site's movie 15 is a different film: the title decides.
    other = match_row(index, row("Sabrina", 1995, movie_id=15), MOVIEREC)
    assert other.movie_id == 17


def test_skipped_rows_stay_skipped(index):
    parsed = ParsedRow(line=5, title="The Wire", year=2002, value=None, skip_reason="a TV series, not a film")
    result = match_row(index, parsed, IMDB)
    assert (result.status, result.reason) == (SKIPPED, "a TV series, not a film")


def test_a_movie_on_several_rows_keeps_the_newest(index):
    old = row("Heat", 1995, "2", line=2, rated_at=datetime(2020, 1, 1, tzinfo=UTC))
    new = row("Heat", 1995, "5", line=3, rated_at=datetime(2024, 1, 1, tzinfo=UTC))
    older_again = row("Heat", 1995, "1", line=4, rated_at=datetime(2019, 1, 1, tzinfo=UTC))
    results = match_rows(index, [old, new, older_again], LETTERBOXD)
    assert [r.status for r in results] == [SKIPPED, MATCHED, SKIPPED]
    assert "line 3" in results[0].reason
