"""The home page lists new arrivals: movies the recommender has not learned yet."""

import pytest
from django.urls import reverse

from tests.factories import MovieFactory, make_active_run

pytestmark = pytest.mark.django_db


def test_home_lists_movies_added_since_the_run_was_trained(client):
    trained = MovieFactory(title="Heat (1995)", rating_count=50)
    make_active_run({trained: [1.0, 0.0]})
    MovieFactory(title="Dune: Part Two (2024)", year=2024)
    response = client.get(reverse("home"))
    assert [m.title for m in response.context["new_arrivals"]] == ["Dune: Part Two (2024)"]
    html = response.content.decode()
    assert 'id="new-heading">New arrivals</h2>' in html
    assert html.index("Dune: Part Two (2024)") > html.index('id="new-heading"')


def test_home_has_no_new_arrivals_section_without_a_run(client):
    MovieFactory(title="Heat (1995)", rating_count=50)
    html = client.get(reverse("home")).content.decode()
    assert "New arrivals" not in html
