"""GET /api/v1/movies/?new=true: movies the serving run has not trained on, combinable with the other filters."""

import pytest
from django.urls import reverse

from tests.factories import MovieFactory

from .conftest import make_active_run

pytestmark = pytest.mark.django_db
LIST = reverse("api:movie_list")


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [movie["title"] for movie in response.json()["results"]]


def test_new_true_lists_only_movies_the_serving_run_has_not_learned(anon):
    heat = MovieFactory(title="Heat (1995)", rating_count=50)
    make_active_run({heat: [1.0, 0.0]})
    MovieFactory(title="Dune: Part Two (2024)")
    MovieFactory(title="Anora (2024)")
    assert _titles(anon.get(LIST, {"new": "true", "sort": "title"})) == ["Anora (2024)", "Dune: Part Two (2024)"]
    assert _titles(anon.get(LIST, {"new": "true", "search": "dune"})) == ["Dune: Part Two (2024)"]
    assert len(_titles(anon.get(LIST, {"new": "false"}))) == 3
    assert len(_titles(anon.get(LIST))) == 3


def test_new_true_is_empty_without_a_serving_run(anon):
    MovieFactory()
    assert _titles(anon.get(LIST, {"new": "true"})) == []


@pytest.mark.parametrize("value", ["", "maybe"])
def test_new_must_be_a_boolean(anon, value):
    response = anon.get(LIST, {"new": value})
    assert response.status_code == 400
    assert "new" in response.json()["error"]["fields"]


def test_the_schema_documents_the_new_filter(anon):
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    [parameter] = [p for p in schema["paths"]["/api/v1/movies/"]["get"]["parameters"] if p["name"] == "new"]
    assert parameter["schema"]["type"] == "boolean"
    assert "new arrivals" in parameter["description"]


def test_new_true_does_not_check_the_whole_catalogue_on_every_request(anon):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.models import Movie
    from recommendations.models import ItemFactor

    heat = MovieFactory(title="Heat (1995)", rating_count=50)
    make_active_run({heat: [1.0, 0.0]})
    MovieFactory(title="Dune: Part Two (2024)")
    assert _titles(anon.get(LIST, {"new": "true"})) == ["Dune: Part Two (2024)"]
    MovieFactory(id=Movie.objects.order_by("-pk").first().pk + 1, title="Anora (2024)")  # added since: seen at once
    with CaptureQueriesContext(connection) as queries:
        titles = _titles(anon.get(LIST, {"new": "true", "sort": "title"}))
    assert titles == ["Anora (2024)", "Dune: Part Two (2024)"]
    factors = ItemFactor._meta.db_table
    assert not [q["sql"] for q in queries.captured_queries if factors in q["sql"]]
