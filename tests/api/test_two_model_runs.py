"""A run that publishes two models: lists ranked by the list model, stars predicted by the stars model."""

import pytest
from django.urls import reverse

from accounts.selectors import user_taste_version
from recommendations.models import Recommendation, UserFactor
from tests.factories import RatingFactory, make_active_run

pytestmark = pytest.mark.django_db
MINE = reverse("api:my_recommendations")


@pytest.fixture
def two_model_run(catalogue):
    movies = catalogue["comedies"] + catalogue["dramas"]
    # The stars model: no factor term, a bias per movie that disagrees with the list order on purpose.
    stars = {movie: (0.1 * i - 0.5, [0.0, 0.0]) for i, movie in enumerate(movies)}
    return make_active_run(catalogue["factors"], stars=stars, global_mean=3.0)


def test_lists_come_from_the_list_model_and_stars_from_the_stars_model(alice, alice_client, catalogue, two_model_run):
    comedies = catalogue["comedies"]
    RatingFactory(user=alice, movie=comedies[0], value=5)
    user_bias = (5 - 3.0 - (-0.5)) / (5.0 + 1)  # Σ(r − μ − b_i) / (λ_u + n)

    results = alice_client.get(MINE, {"n": 3, "min_ratings": 0}).json()["results"]

    assert [r["movie"]["id"] for r in results] == [m.pk for m in comedies[1:4]]  # the list model's order
    expected = [3.0 + user_bias + 0.1 * i - 0.5 for i in (1, 2, 3)]  # rising, though ranked falling
    assert [r["predicted_rating"] for r in results] == pytest.approx(expected)
    assert all(r["because"]["id"] == comedies[0].pk for r in results)
    one = alice_client.get(reverse("api:my_prediction", args=[comedies[2].pk])).json()
    assert one["predicted_rating"] == pytest.approx(expected[1])


def test_only_low_ratings_give_no_list_preference_so_popular_movies_are_served(
    alice, alice_client, catalogue, two_model_run
):
    RatingFactory(user=alice, movie=catalogue["comedies"][0], value=2)  # below the list model's centre of 3

    body = alice_client.get(MINE).json()

    assert body["personal"] is False and body["results"]
    assert all(r["predicted_rating"] is None for r in body["results"])
    # The stars model still predicts from that rating.
    one = alice_client.get(reverse("api:my_prediction", args=[catalogue["dramas"][0].pk])).json()
    assert one["predicted_rating"] == pytest.approx(3.0 + (2 - 3.0 + 0.5) / 6 + 0.1)


def test_an_unchanged_user_is_served_the_stored_list_in_one_query(
    alice, alice_client, catalogue, two_model_run, django_assert_num_queries
):
    RatingFactory(user=alice, movie=catalogue["comedies"][0], value=5)
    two_model_run.parameters |= {"top_n": 5}
    two_model_run.save(update_fields=["parameters"])
    folded = alice_client.get(MINE, {"n": 5, "min_ratings": 0}).json()["results"]  # nothing stored yet: fold-in
    # What a retrain would publish for alice: the same list and stars, and her taste version at the export.
    UserFactor.objects.create(
        run=two_model_run, user=alice, taste_version=user_taste_version(user=alice), factors=[0.0, 0.0]
    )
    Recommendation.objects.bulk_create(
        Recommendation(
            run=two_model_run, user=alice, movie_id=r["movie"]["id"], rank=r["rank"], score=r["predicted_rating"]
        )
        for r in folded
    )

    # token, with the user, their taste version, the active run, the run's new movies (none here) and her stored
    # rows; the movies are cached. Was 3, then 2: the new movies and the stored rows had queries of their own.
    with django_assert_num_queries(1):
        stored = alice_client.get(MINE, {"n": 3, "min_ratings": 0}).json()["results"]

    def shown(results):
        return [(r["movie"], r["predicted_rating"]) for r in results]

    assert shown(stored) == shown(folded[:3])
    assert all(r["because"] is None for r in stored)
    assert {r["explanation"] for r in stored} == {"Matches the tastes your ratings show."}
