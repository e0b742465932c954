from decimal import Decimal

import pytest
from django.urls import reverse

from ratings.models import NotInterested
from ratings.services import rating_upsert
from recommendations.selectors import recommendation_list_for_user_fresh
from tests.factories import GenreFactory, MovieFactory, RatingFactory, UserFactory

from .conftest import make_active_run

pytestmark = pytest.mark.django_db
URL = reverse("recommendations")


def _titles(response) -> list[str]:
    return [item.movie.title for item in response.context["result"].items]


def test_recommendations_need_a_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_without_a_run_a_new_user_sees_popular_movies_labelled_as_such(logged_in):
    MovieFactory(title="Rarely rated (2001)", rating_count=30, rating_mean=4.9)
    MovieFactory(title="Everyone saw it (1994)", rating_count=300, rating_mean=4.1)
    MovieFactory(title="Too few ratings (2010)", rating_count=3, rating_mean=5.0)
    response = logged_in.get(URL)
    assert response.status_code == 200
    assert response.context["result"].personal is False
    assert _titles(response) == ["Everyone saw it (1994)", "Rarely rated (2001)"]
    assert b"These are popular movies, not personal picks." in response.content


def test_with_a_run_but_no_ratings_the_page_is_popular_not_empty(logged_in, two_taste_catalogue):
    make_active_run(two_taste_catalogue["factors"])
    response = logged_in.get(URL)
    assert response.context["result"].personal is False
    assert len(_titles(response)) == 12


def test_a_new_rating_changes_the_next_page_without_a_retrain(logged_in, user, two_taste_catalogue):
    cat = two_taste_catalogue
    make_active_run(cat["factors"])

    logged_in.post(reverse("rate", args=[cat["comedies"][0].pk]), {"value": "5"})
    first = logged_in.get(URL)
    assert first.context["result"].personal is True
    assert _titles(first)[:5] == [m.title for m in cat["comedies"][1:6]]
    assert cat["comedies"][0].title not in _titles(first)  # rated movies are never recommended
    assert b"We think you'd give it" in first.content

    # Change of heart: comedies are out, dramas are in. The very next page says so.
    logged_in.post(reverse("rate", args=[cat["comedies"][0].pk]), {"value": "0.5"})
    logged_in.post(reverse("rate", args=[cat["dramas"][0].pk]), {"value": "5"})
    second = logged_in.get(URL)
    assert _titles(second)[:5] == [m.title for m in cat["dramas"][1:6]]


def test_each_recommendation_names_the_rated_movie_that_contributes_most(user, two_taste_catalogue):
    cat = two_taste_catalogue
    make_active_run(cat["factors"])
    rating_upsert(user=user, movie=cat["comedies"][0], value=5)
    rating_upsert(user=user, movie=cat["dramas"][0], value=4)
    result = recommendation_list_for_user_fresh(user=user, limit=12)
    because = {item.movie.pk: item.because for item in result.items}
    assert all(because[m.pk] == cat["comedies"][0] for m in cat["comedies"][1:])
    assert all(because[m.pk] == cat["dramas"][0] for m in cat["dramas"][1:])


def test_predicted_stars_are_clipped_to_the_rating_scale(user, two_taste_catalogue):
    cat = two_taste_catalogue
    make_active_run({m: [v * 10 for v in f] for m, f in cat["factors"].items()}, reg_param=0.0)
    rating_upsert(user=user, movie=cat["comedies"][0], value=5)
    result = recommendation_list_for_user_fresh(user=user, limit=12)
    assert all(0.5 <= item.score <= 5.0 for item in result.items)


def test_filters_genre_and_minimum_number_of_ratings(logged_in, user, two_taste_catalogue):
    cat = two_taste_catalogue
    make_active_run(cat["factors"])
    rating_upsert(user=user, movie=cat["comedies"][0], value=5)
    response = logged_in.get(URL, {"genre": "Drama"})
    assert set(_titles(response)) == {m.title for m in cat["dramas"]}
    response = logged_in.get(URL, {"min_ratings": 98})
    assert _titles(response) == ["Comedy 1 (1991)", "Comedy 2 (1992)"]
    assert response.context["min_ratings"] == 98


def test_minimum_number_of_ratings_defaults_to_25(logged_in, user, two_taste_catalogue):
    cat = two_taste_catalogue
    obscure = MovieFactory(title="Obscure comedy (2003)", rating_count=24, rating_mean=4.5)
    make_active_run(cat["factors"] | {obscure: [2.0, 0.0]})
    rating_upsert(user=user, movie=cat["comedies"][0], value=5)
    assert obscure.title not in _titles(logged_in.get(URL))
    assert obscure.title in _titles(logged_in.get(URL, {"min_ratings": 0}))


def test_not_interested_hides_a_movie_for_good(logged_in, user, two_taste_catalogue):
    cat = two_taste_catalogue
    make_active_run(cat["factors"])
    rating_upsert(user=user, movie=cat["comedies"][0], value=5)
    hidden = cat["comedies"][1]
    response = logged_in.post(reverse("not_interested", args=[hidden.pk]), {"action": "add", "next": URL})
    assert response.status_code == 302 and response.url == URL
    assert hidden.title not in _titles(logged_in.get(URL))
    assert NotInterested.objects.filter(user=user, movie=hidden).exists()
    # Popular fallback honours it too.
    other = UserFactory()
    NotInterested.objects.create(user=other, movie=cat["comedies"][0])
    fallback = recommendation_list_for_user_fresh(user=other, limit=20)
    assert fallback.personal is False and cat["comedies"][0] not in [i.movie for i in fallback.items]


def test_ratings_of_movies_the_run_never_saw_fall_back_to_popular(logged_in, user, two_taste_catalogue):
    cat = two_taste_catalogue
    make_active_run(cat["factors"])
    RatingFactory(user=user, movie=MovieFactory(title="Added after training"), value=Decimal("4"))
    assert logged_in.get(URL).context["result"].personal is False


def test_recommendations_page_query_count_is_pinned(logged_in, user, two_taste_catalogue, django_assert_num_queries):
    cat = two_taste_catalogue
    make_active_run(cat["factors"])
    for movie in cat["comedies"][:3]:
        rating_upsert(user=user, movie=movie, value=4)
    GenreFactory(name="Western")
    logged_in.get(URL, {"genre": "Comedy"})  # loads the factor matrix, filter masks and this list into caches
    # session, user (with the taste version), genre lookup, the list flavour chosen, active run, wishlist (the genre
    # choices are cached); the fold-in result and its movies come from the caches while the user's taste version stands
    with django_assert_num_queries(6):
        response = logged_in.get(URL, {"genre": "Comedy"})
    assert response.status_code == 200
    rating_upsert(user=user, movie=cat["comedies"][3], value=5)
    # a new rating bumps the taste version: the user's ratings and hidden movies are read again and
    # folded in (the movies themselves are still in the movie cache)
    with django_assert_num_queries(8):
        response = logged_in.get(URL, {"genre": "Comedy"})
    assert cat["comedies"][3] not in [item.movie for item in response.context["result"].items]


def test_order_follows_the_match_and_the_stars_are_labelled_as_a_separate_prediction(logged_in, two_taste_catalogue):
    """The rule: cards are in the list model's order (labelled "Match #n"); the stars model's prediction is shown
    beside each, so a lower card may carry more stars, and the page says so."""
    cat = two_taste_catalogue
    comedies = cat["comedies"]
    # The stars model likes the comedy the list model ranks last of the five far more than the others.
    stars = {movie: (0.0, [0.0, 0.0]) for movie in cat["factors"]}
    stars[comedies[5]] = (1.4, [0.0, 0.0])
    make_active_run(cat["factors"], stars=stars)
    logged_in.post(reverse("rate", args=[comedies[0].pk]), {"value": "5"})

    response = logged_in.get(URL)
    items = response.context["result"].items
    assert [item.movie for item in items[:5]] == comedies[1:6]  # the match order, whatever the stars say
    assert max(items[:5], key=lambda item: item.score).movie == comedies[5]
    html = response.content.decode()
    assert "in order of how well they match your taste" in html
    # Each card's title is followed by its own place in the match order.
    places = [(html.index(movie.natural_title), html.index(f"Match #{k}<")) for k, movie in enumerate(comedies[1:6], 1)]
    assert all(title < label for title, label in places)
    assert [label for _, label in places] == sorted(label for _, label in places)
    assert html.count('class="match-rank"') == len(items)
