"""New arrivals: movies the serving run has not trained on."""

import pytest

from catalog.models import Movie
from recommendations.selectors import movie_filter_new_arrivals, movie_list_new_arrivals
from tests.factories import MovieFactory, make_active_run

pytestmark = pytest.mark.django_db


def test_new_arrivals_are_the_movies_without_factors_in_the_serving_run_newest_first():
    trained = [MovieFactory(id=10 + i) for i in range(3)]
    make_active_run({movie: [1.0, 0.0] for movie in trained})
    added = [MovieFactory(id=5), MovieFactory(id=50), MovieFactory(id=20)]
    assert [m.pk for m in movie_list_new_arrivals(limit=10)] == [50, 20, 5]
    assert [m.pk for m in movie_list_new_arrivals(limit=2)] == [50, 20]
    assert set(movie_filter_new_arrivals(movies=Movie.objects.all())) == set(added)


def test_nothing_is_new_without_a_serving_run():
    MovieFactory()
    assert movie_list_new_arrivals() == []


def test_new_arrivals_load_genres_and_details_for_cards(django_assert_num_queries):
    make_active_run({MovieFactory(): [1.0, 0.0]})
    MovieFactory.create_batch(3)
    # The serving run, which movies are new, those movies with their details, their genres.
    with django_assert_num_queries(4):
        movies = movie_list_new_arrivals()
        for movie in movies:
            list(movie.genres.all())
            hasattr(movie, "details")
    assert len(movies) == 3


def test_which_movies_are_new_is_not_worked_out_again_on_every_page(django_assert_num_queries):
    # Finding them checks every movie against the run's factors: 20-100 ms at 59,047 movies.
    make_active_run({MovieFactory(): [1.0, 0.0]})
    added = MovieFactory.create_batch(2)
    first = movie_list_new_arrivals()
    with django_assert_num_queries(1):  # the serving run only
        again = movie_list_new_arrivals()
    assert [m.pk for m in again] == [m.pk for m in first] == sorted((m.pk for m in added), reverse=True)
