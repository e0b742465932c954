"""The list pages' filter forms: the markup of Django's widget templates written in Python (catalog.widgets), the
genre choices cached (catalog.selectors.genre_names) and forgotten when genres change, and browse by genre showing
the genre's kept movie count (Genre.movie_count, catalog migration 0006) instead of counting per request."""

from __future__ import annotations

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.forms import MovieFilterForm
from catalog.models import Genre, Movie
from catalog.selectors import GENRE_NAMES_KEY, genre_names
from movielens.services import movielens_import
from recommendations.forms import RecommendationFilterForm
from tests.factories import GenreFactory, MovieFactory
from tests.movielens.conftest import MOVIELENS

pytestmark = pytest.mark.django_db
LIST = reverse("movie_list")


def _django_widgets(form: forms.Form) -> forms.Form:
    """The same form drawn by Django's own widget classes (the Plain* widgets' parents) and templates."""
    for field in form.fields.values():
        plain = type(field.widget)
        if plain.__module__ == "catalog.widgets":
            field.widget.__class__ = plain.__bases__[0]
    return form


@pytest.fixture
def genres():
    return [GenreFactory(name=name) for name in ("Drama", "Comedy", "Film-Noir", "Sci & Fi <x>")]


@pytest.mark.parametrize(
    "data",
    [
        None,
        {"q": "the matrix"},
        {"q": 'quotes " & <tags>', "genre": "Sci & Fi <x>", "decade": "1990", "sort": "rating", "min_ratings": "100"},
        {"genre": "Comedy", "sort": "title"},
        {"genre": "No such genre", "decade": "1234", "sort": "bogus", "min_ratings": "-3"},  # errors: aria attributes
        {"min_ratings": "lots"},
    ],
)
def test_the_filter_forms_draw_the_same_markup_as_djangos_widget_templates(genres, data):
    for form_class in (MovieFilterForm, RecommendationFilterForm):
        ours = form_class(data)
        theirs = _django_widgets(form_class(data))
        if data:
            assert ours.is_valid() == theirs.is_valid()
        assert [str(field) for field in ours] == [str(field) for field in theirs]
    assert "Sci &amp; Fi &lt;x&gt;</option>" in str(MovieFilterForm()["genre"])


def test_the_browse_page_draws_its_form_without_widget_templates_or_a_genre_query(client, genres):
    client.get(LIST)  # the first page caches the genre names
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST)
    used = [template.name for template in response.templates]
    assert not [name for name in used if name and name.startswith("django/forms/widgets/")]
    assert not [q["sql"] for q in queries.captured_queries if "catalog_genre" in q["sql"]]
    page = response.content.decode()
    assert '<option value="Film-Noir">Film-Noir</option>' in page
    assert '<option value="" selected>Any</option>' in page


def test_a_genre_added_renamed_or_deleted_shows_in_the_form_at_once(client, genres):
    assert "Western" not in client.get(LIST).content.decode()
    western = Genre.objects.create(name="Western")
    assert '<option value="Western">Western</option>' in client.get(LIST).content.decode()
    western.name = "Westerns"
    western.save()
    page = client.get(LIST).content.decode()
    assert '<option value="Westerns">Westerns</option>' in page and '"Western"' not in page
    western.delete()
    assert "Western" not in client.get(LIST).content.decode()


def test_an_import_that_brings_genres_forgets_the_cached_names():
    assert genre_names() == []
    movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)  # raw SQL: no model signal
    assert genre_names() == list(Genre.objects.order_by("name").values_list("name", flat=True))
    assert "Crime" in genre_names()


def test_a_submitted_genre_is_read_from_the_database_not_the_cache(client, genres):
    genre_names()
    Genre.objects.filter(name="Drama").update(name="Dramas")  # no signal: the cache still says "Drama"
    from django.core.cache import cache

    assert "Drama" in cache.get(GENRE_NAMES_KEY)
    assert client.get(LIST, {"genre": "Drama"}).context["form"].errors  # no longer a genre
    assert not client.get(LIST, {"genre": "Dramas"}).context["form"].errors


def _counted(genre: Genre) -> int:
    return Movie.genres.through.objects.filter(genre=genre).count()


def test_each_genres_movie_count_is_kept_by_every_kind_of_write(genres):
    drama, comedy, noir, scifi = genres

    def kept() -> dict[str, int]:
        return dict(Genre.objects.values_list("name", "movie_count"))

    def check() -> None:
        assert kept() == {g.name: _counted(g) for g in Genre.objects.all()}

    movies = MovieFactory.create_batch(4)
    for movie in movies:
        movie.genres.add(drama)
    movies[0].genres.add(comedy, noir)
    check()
    assert kept()["Drama"] == 4
    movies[1].genres.set([comedy])  # a delete and an insert
    movies[2].genres.clear()
    check()
    movies[0].delete()  # the through rows go with the movie
    check()
    assert kept() == {"Drama": 1, "Comedy": 1, "Film-Noir": 0, "Sci & Fi <x>": 0}
    through = Movie.genres.through._meta.db_table
    with connection.cursor() as cursor:  # an importer's raw SQL, a whole set in one statement
        cursor.execute(f"INSERT INTO {through} (movie_id, genre_id) SELECT m.id, %s FROM catalog_movie AS m", [noir.pk])
        cursor.execute(f"UPDATE {through} SET genre_id = %s WHERE genre_id = %s", [scifi.pk, noir.pk])
    check()
    assert (kept()["Film-Noir"], kept()["Sci & Fi <x>"]) == (0, 3)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses while deferred FK checks are pending
        cursor.execute(f"TRUNCATE {through}")
    check()
    assert set(kept().values()) == {0}


def test_browse_by_genre_shows_the_kept_count_instead_of_counting(client, genres):
    drama = genres[0]
    for movie in MovieFactory.create_batch(3, year=1995, rating_count=50):
        movie.genres.add(drama)
    MovieFactory(year=1995)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST, {"genre": "Drama"})
    assert response.context["page"].paginator.count == 3 and b"3 movies" in response.content
    assert not [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    # Any other filter narrows the genre's movies: those are counted.
    for other in ({"decade": "1990"}, {"q": "movie"}, {"min_ratings": "10"}, {"sort": "rating"}):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST, {"genre": "Drama", **other})
        assert [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()], other
        assert response.context["page"].paginator.count == response.context["page"].paginator.object_list.count()
    assert client.get(LIST, {"genre": "Drama", "min_ratings": "0"}).context["page"].paginator.count == 3
