from decimal import Decimal

import pytest

from catalog.models import Movie
from ratings.services import movie_stats_refresh
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_refresh_counts_and_averages_every_movies_ratings(django_assert_num_queries):
    rated, unrated, stale = MovieFactory(), MovieFactory(), MovieFactory()
    for value in ("4.5", "3.0", "0.5"):
        RatingFactory(movie=rated, user=UserFactory(), value=Decimal(value))
    Movie.objects.filter(pk=stale.pk).update(rating_count=7, rating_mean=2.0)

    with django_assert_num_queries(1):
        updated = movie_stats_refresh()

    assert updated == 2  # `unrated` was already right
    assert Movie.objects.filter(pk=rated.pk).values_list("rating_count", "rating_mean").get() == (3, 8.0 / 3)
    assert Movie.objects.filter(pk=unrated.pk).values_list("rating_count", "rating_mean").get() == (0, None)
    assert Movie.objects.filter(pk=stale.pk).values_list("rating_count", "rating_mean").get() == (0, None)


def test_refresh_twice_writes_nothing_the_second_time():
    RatingFactory(value=Decimal("4.0"))
    movie_stats_refresh()

    assert movie_stats_refresh() == 0
