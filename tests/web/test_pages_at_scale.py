"""Pages whose queries must not grow with what a person has (bench/bench_pages.py times them at ML-25M scale)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ratings.models import NotInterested, WishlistEntry
from tests.factories import GenreFactory, MovieFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("model", "url_name"), [(WishlistEntry, "wishlist"), (NotInterested, "hidden_movies")])
def test_a_list_of_movies_costs_the_same_queries_for_2_or_20_movies(logged_in, user, model, url_name):
    drama = GenreFactory(name="Drama")

    def queries_for(count: int) -> int:
        model.objects.filter(user=user).delete()
        for movie in MovieFactory.create_batch(count):
            movie.genres.set([drama])
            model.objects.create(user=user, movie=movie)
        with CaptureQueriesContext(connection) as queries:
            response = logged_in.get(reverse(url_name))
        assert response.status_code == 200
        return len(queries)

    queries_for(1)  # the session's first page
    assert queries_for(20) == queries_for(2)
