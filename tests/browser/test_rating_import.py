"""Importing a Letterboxd file in a real browser: upload, preview, choose, confirm, see the ratings, undo."""

from decimal import Decimal

import pytest

from ratings.models import Rating
from tests.factories import GenreFactory, MovieFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-02-01,The Godfather,1972,https://boxd.it/1,5\n"
    "2024-02-01,Amélie,2001,https://boxd.it/2,4.5\n"
    "2024-02-01,Emma,1996,https://boxd.it/3,3.5\n"
    "2024-02-01,A Film Nobody Made,1990,https://boxd.it/4,2\n"
)


def test_import_a_letterboxd_file_choose_confirm_and_undo(page, live_server, tmp_path):
    from playwright.sync_api import expect

    UserFactory(username="cinephile", password="correct horse battery staple")
    godfather = MovieFactory(title="Godfather, The (1972)", year=1972, rating_count=90)
    amelie = MovieFactory(title="Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", year=2001, rating_count=80)
    MovieFactory(title="Emma (1996)", year=1996, rating_count=12).genres.add(GenreFactory(name="Comedy"))
    emma_drama = MovieFactory(title="Emma (1996)", year=1996, rating_count=30)
    emma_drama.genres.add(GenreFactory(name="Romance"))
    export = tmp_path / "ratings.csv"
    export.write_text(LETTERBOXD, encoding="utf-8")

    page.goto("/accounts/login/?next=/ratings/")
    page.fill("#id_username", "cinephile")
    page.fill("#id_password", "correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My ratings")

    # From My ratings to the upload form; nothing changes on upload, the preview says what will.
    page.get_by_role("link", name="Import ratings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import your ratings")
    page.set_input_files("#id_file", str(export))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your import")
    expect(page.get_by_role("heading", name="Choose the right movie (1)")).to_be_visible()
    expect(page.get_by_role("heading", name="Not found (1)")).to_be_visible()
    assert not Rating.objects.exists()

    # Two movies are called Emma (1996): the person picks the one they saw.
    emma = page.locator("fieldset.import-choice", has_text="“Emma” (1996)")
    expect(emma.get_by_label("None of these: leave it out")).to_be_checked()
    emma.locator("label", has_text="Romance").locator("input").check()
    page.get_by_role("button", name="Import these ratings").click()
    expect(page.locator(".messages")).to_have_text("Imported 3 ratings. You can undo this import below.")

    # My ratings lists them, with the file's stars.
    page.get_by_role("link", name="See my ratings").click()
    expect(page.locator(".result-count")).to_have_text("3 ratings")
    titles = page.locator(".ratings-table tbody th a").all_inner_texts()
    assert sorted(titles) == sorted([godfather.natural_title, amelie.natural_title, emma_drama.natural_title])
    assert Rating.objects.get(user__username="cinephile", movie=emma_drama).value == Decimal("3.5")

    # Undo from the import's page: the ratings are gone again.
    page.go_back()
    page.get_by_role("button", name="Undo this import").click()
    expect(page.locator(".messages")).to_have_text("Undone: removed 3 and restored 0 ratings.")
    expect(page.get_by_role("button", name="Undo this import")).to_have_count(0)
    page.get_by_role("link", name="See my ratings").click()
    expect(page.locator(".empty")).to_contain_text("You have not rated anything yet.")
    assert not Rating.objects.exists()


IMDB = (
    "Const,Your Rating,Date Rated,Title,Original Title,URL,Title Type,IMDb Rating,Runtime (mins),Year,Genres,"
    "Num Votes,Release Date,Directors\n"
    "tt0068646,10,2024-02-01,The Godfather,The Godfather,https://www.imdb.com/title/tt0068646/,Movie,9.2,175,1972,"
    'Crime,2000000,1972-03-24,"Francis Ford Coppola"\n'
    "tt0211915,9,2024-02-01,Amélie,Le Fabuleux Destin d'Amélie Poulain,https://www.imdb.com/title/tt0211915/,Movie,"
    "8.3,122,2001,Comedy,800000,2001-04-25,Jean-Pierre Jeunet\n"
    "tt0903747,10,2024-02-01,Breaking Bad,Breaking Bad,https://www.imdb.com/title/tt0903747/,TV Series,9.5,49,2008,"
    "Drama,2000000,2008-01-20,\n"
)
TRAKT = (
    '[{"rated_at": "2024-02-01T10:00:00.000Z", "rating": 10, "type": "movie",'
    ' "movie": {"title": "The Godfather", "year": 1972, "ids": {"imdb": "tt0068646", "tmdb": 238}}},'
    ' {"rated_at": "2024-02-01T10:00:00.000Z", "rating": 9, "type": "movie",'
    ' "movie": {"title": "Amélie", "year": 2001, "ids": {"imdb": "tt0211915", "tmdb": 194}}}]'
)
MOVIEREC = (
    "movie_id,imdb_id,tmdb_id,title,year,rating,rated_at\n"
    '858,tt0068646,238,"Godfather, The (1972)",1972,5.0,2024-02-01T10:00:00Z\n'
    '4973,tt0211915,194,"Amelie (Fabuleux destin d\'Amélie Poulain, Le) (2001)",2001,4.5,2024-02-01T10:00:00Z\n'
)


@pytest.mark.parametrize(
    "filename, content",
    [("ratings.csv", IMDB), ("trakt-ratings.json", TRAKT), ("movierec-ratings.csv", MOVIEREC)],
    ids=["imdb", "trakt", "movierec"],
)
def test_import_each_other_format_end_to_end(page, live_server, tmp_path, filename, content):
    """IMDb (by id, a series skipped), Trakt (by id) and MovieRec's own export: upload, preview, confirm, undo."""
    from playwright.sync_api import expect

    UserFactory(username="cinephile", password="correct horse battery staple")
    godfather = MovieFactory(id=858, title="Godfather, The (1972)", year=1972, imdb_id="0068646", tmdb_id=238)
    amelie = MovieFactory(
        id=4973, title="Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", year=2001, imdb_id="0211915", tmdb_id=194
    )
    export = tmp_path / filename
    export.write_text(content, encoding="utf-8")

    page.goto("/accounts/login/?next=/ratings/import/")
    page.fill("#id_username", "cinephile")
    page.fill("#id_password", "correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    page.set_input_files("#id_file", str(export))
    page.get_by_role("button", name="Upload and preview").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your import")
    expect(page.get_by_text("Matched (2)")).to_be_visible()
    if filename == "ratings.csv":  # IMDb: the series is reported, not matched
        expect(page.get_by_text("“Breaking Bad” (2008): a TV series")).to_have_count(1)
    assert not Rating.objects.exists()

    page.get_by_role("button", name="Import these ratings").click()
    expect(page.locator(".messages")).to_have_text("Imported 2 ratings. You can undo this import below.")
    values = dict(Rating.objects.values_list("movie_id", "value"))
    assert values == {godfather.pk: Decimal("5.0"), amelie.pk: Decimal("4.5")}

    page.get_by_role("button", name="Undo this import").click()
    expect(page.get_by_role("button", name="Undo this import")).to_have_count(0)
    assert not Rating.objects.exists()
