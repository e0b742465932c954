"""About your ratings: star distribution, genres and movies against everyone, and what the last ratings changed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from ratings.models import NotInterested
from tests.factories import RatingFactory, make_active_run, two_taste_catalogue
from yourdata.selectors import LAST_RATINGS, ratings_about_for_user

pytestmark = pytest.mark.django_db
START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def catalogue():
    return two_taste_catalogue()  # 6 comedies (mean 3.5) and 6 dramas (mean 3.6), 85 to 100 ratings each


def _rate(user, movies_and_values):
    for day, (movie, value) in enumerate(movies_and_values):
        RatingFactory(user=user, movie=movie, value=Decimal(value), rated_at=START + timedelta(days=day))


@pytest.fixture
def comedy_fan(alice, catalogue):
    """Three dramas panned long ago, then five comedies loved: the last ratings."""
    dramas, comedies = catalogue["dramas"], catalogue["comedies"]
    _rate(alice, [(m, "1.0") for m in dramas[:3]] + [(m, v) for m, v in zip(comedies[:5], "54545", strict=True)])
    return alice


def test_about_without_ratings(client, alice, django_assert_num_queries):
    client.force_login(alice)
    with django_assert_num_queries(3):  # session, user, ratings
        response = client.get(reverse("about_ratings"))
    assert response.status_code == 200
    assert "You have not rated anything yet" in response.content.decode()
    about = response.context["about"]
    assert about.count == 0 and about.list_change is None
    assert [n for _, n in about.distribution] == [0] * 10


def test_star_distribution_counts_every_half_star(comedy_fan):
    about = ratings_about_for_user(user=comedy_fan)
    assert about.count == 8
    assert about.mean == pytest.approx((3 * 1 + 5 + 4 + 5 + 4 + 5) / 8)
    assert dict(about.distribution) == {Decimal(n) / 2: {2: 3, 8: 2, 10: 3}.get(n, 0) for n in range(1, 11)}


def test_genres_compare_the_person_with_everyone_on_the_same_movies(comedy_fan):
    about = ratings_about_for_user(user=comedy_fan)
    [comedy] = about.genres_above
    assert (comedy.genre, comedy.ratings) == ("Comedy", 5)
    assert comedy.yours == pytest.approx(4.6) and comedy.everyone == pytest.approx(3.5)
    [drama] = about.genres_below
    assert (drama.genre, drama.ratings, drama.yours) == ("Drama", 3, 1.0)
    assert drama.difference == pytest.approx(1.0 - 3.6)


def test_genres_and_differences_leave_out_movies_with_few_raters(alice, catalogue):
    for movie in catalogue["comedies"]:
        movie.rating_count = 19
        movie.save()
    _rate(alice, [(m, "5.0") for m in catalogue["comedies"]])
    about = ratings_about_for_user(user=alice)
    assert about.genres_above == [] and about.loved_more == []


def test_movies_where_the_person_differs_most(comedy_fan, catalogue):
    about = ratings_about_for_user(user=comedy_fan)
    assert [r.movie.title for r in about.loved_more] == sorted([m.title for m in catalogue["comedies"][:5:2]]) + sorted(
        m.title for m in catalogue["comedies"][1:5:2]
    )
    assert about.loved_more[0].difference == pytest.approx(1.5)
    assert [r.movie for r in about.liked_less] == catalogue["dramas"][:3]
    assert about.liked_less[0].difference == pytest.approx(-2.6)


def test_no_list_change_without_an_active_run(comedy_fan):
    assert ratings_about_for_user(user=comedy_fan).list_change is None


def test_list_change_folds_in_without_the_last_ratings_and_with_all(comedy_fan, catalogue):
    make_active_run(catalogue["factors"])
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]
    NotInterested.objects.create(user=comedy_fan, movie=dramas[5])
    change = ratings_about_for_user(user=comedy_fan).list_change

    assert [(m, v) for m, v, _ in change.last_ratings] == [
        (m, Decimal(v)) for m, v in zip(reversed(comedies[:5]), "54545", strict=True)
    ]
    before_ids = [e.movie.pk for e in change.before]
    after_ids = [e.movie.pk for e in change.after]
    # Before: everything but the three dramas rated then and the hidden one; the five comedies among them.
    assert set(before_ids) == {m.pk for m in comedies + dramas[3:5]}
    # After: nothing rated or hidden; loving comedies put the last one first.
    assert set(after_ids) == {comedies[5].pk, dramas[3].pk, dramas[4].pk}
    assert after_ids[0] == comedies[5].pk
    assert {e.movie for e in change.left} == set(comedies[:5])
    assert all(e.rated_since for e in change.left)
    assert change.arrived == []
    moved = {e.movie: (e.rank, e.other_rank) for e in change.after}
    assert moved[comedies[5]][1] == before_ids.index(comedies[5].pk) + 1


def test_list_change_with_only_the_last_ratings_has_no_before(alice, catalogue):
    make_active_run(catalogue["factors"])
    _rate(alice, [(m, "5.0") for m in catalogue["comedies"][:LAST_RATINGS]])
    change = ratings_about_for_user(user=alice).list_change
    assert change.before is None and change.left == []
    assert change.after and change.arrived == change.after


def test_about_page_renders_everything_in_a_pinned_number_of_queries(
    client, comedy_fan, catalogue, django_assert_num_queries
):
    make_active_run(catalogue["factors"])
    client.force_login(comedy_fan)
    client.get(reverse("about_ratings"))  # loads the run's factors into this process's cache
    # session, user, ratings, genres, two for the differing movies, active run, hidden movies, movies named
    with django_assert_num_queries(9):
        response = client.get(reverse("about_ratings"))
    page = response.content.decode()
    assert response.status_code == 200
    assert '<svg class="chart"' in page and page.count('class="chart-bar series-1"') == 3
    assert "Comedy" in page and "Drama" in page
    assert catalogue["comedies"][5].title in page
    assert "<script" not in page.split("</head>")[1]  # the chart is SVG drawn on the server: no script


def test_about_page_needs_a_signed_in_user(client):
    assert client.get(reverse("about_ratings")).status_code == 302
