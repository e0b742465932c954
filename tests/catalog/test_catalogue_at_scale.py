"""What keeps browse and search fast on a 59,047-movie catalogue (bench/bench_pages.py): the folded title stored
by PostgreSQL instead of computed per row and per query, a trigram index on it where pg_trgm exists, and an index
for every browse order."""

import pytest
from django.db import connection
from django.db.models import F, OrderBy

from catalog.models import Movie
from catalog.selectors import MOVIE_SORTS, MovieFilters, movie_search
from tests.factories import MovieFactory

pytestmark = pytest.mark.django_db


def test_the_folded_title_follows_every_write_whoever_makes_it():
    movie = MovieFactory(title="Amélie (2001)")
    assert Movie.objects.get(pk=movie.pk).title_folded == "amélie (2001)".replace("é", "e")
    # A write that bypasses the ORM, as the MovieLens importer's SQL does.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE catalog_movie SET title = %s WHERE id = %s", ["Æon Flux (2005)", movie.pk])
    assert Movie.objects.get(pk=movie.pk).title_folded == "aeon flux (2005)"
    assert [m.pk for m in movie_search(filters=MovieFilters(query="AEON"))] == [movie.pk]


def test_search_compares_the_stored_folded_title_not_one_folded_per_row():
    # movierec_fold() costs ~50 µs a title: folding every title at query time made a search of the 25M-scale
    # catalogue take 3 s, twice per page (the count and the page).
    sql = str(movie_search(filters=MovieFilters(query="love story")).query)
    assert "title_folded" in sql
    assert 'movierec_fold("catalog_movie"."title")' not in sql


def test_search_has_a_trigram_index_where_postgresql_offers_pg_trgm():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
        if cursor.fetchone() is None:
            pytest.skip("this PostgreSQL has no pg_trgm (the embedded pgserver): search scans the stored column")
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'catalog_movie' AND indexname = %s",
            ["catalog_movie_title_folded_trgm"],
        )
        row = cursor.fetchone()
    assert row is not None
    assert "gin_trgm_ops" in row[0] and "title_folded" in row[0]


def _key(term) -> tuple[str, bool, bool] | None:
    """(column, descending, nulls last) of an ordering term or index expression; None for other expressions."""
    if isinstance(term, str):
        return term.lstrip("-"), term.startswith("-"), False
    if isinstance(term, OrderBy) and isinstance(term.expression, F):
        return term.expression.name, term.descending, bool(term.nulls_last)
    if isinstance(term, F):
        return term.name, False, False
    return None


@pytest.mark.parametrize("sort", sorted(MOVIE_SORTS))
def test_every_browse_order_has_an_index_in_the_same_order(sort):
    # Without one, every page of the sorted catalogue sorts all 59,047 movies (or all that match a filter).
    indexes = [tuple(_key(e) for e in index.expressions) for index in Movie._meta.indexes if index.expressions]
    assert tuple(_key(term) for term in MOVIE_SORTS[sort]) in indexes


def test_a_deep_browse_page_reads_its_keys_without_the_joins_then_loads_only_its_own_movies(client, monkeypatch):
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from movierec_site.admin_utils import KeysFirstPaginator
    from movierec_site.pages import MOVIES_PER_PAGE
    from tests.factories import GenreFactory

    # As if page 2 were page 1000: OFFSET 23,976 joined every skipped movie to its TMDB details.
    monkeypatch.setattr(KeysFirstPaginator, "keys_first_from_offset", MOVIES_PER_PAGE)
    drama = GenreFactory(name="Drama")
    for n in range(MOVIES_PER_PAGE + 5):
        MovieFactory(title=f"Film {n:02d} (2000)", rating_count=100 - n).genres.add(drama)
    expected = [m.pk for m in movie_search(filters=MovieFilters())][MOVIES_PER_PAGE:]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("movie_list"), {"page": "2"})
    assert [m.pk for m in response.context["movies"]] == expected
    assert "Drama" in response.content.decode()  # genres still prefetched for the cards
    offset = [q["sql"] for q in queries.captured_queries if "OFFSET" in q["sql"].upper()]
    assert offset and all("JOIN" not in sql.upper() for sql in offset)
