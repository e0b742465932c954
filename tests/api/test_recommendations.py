import pytest
from django.urls import reverse

from ratings.models import NotInterested
from tests.factories import MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db
MINE = reverse("api:my_recommendations")


def _titles(response) -> list[str]:
    return [item["movie"]["title"] for item in response.json()["results"]]


def test_without_a_run_recommendations_are_popular_and_say_so(alice_client):
    MovieFactory(title="Everyone saw it (1994)", rating_count=300, rating_mean=4.1)
    MovieFactory(title="Rarely rated (2001)", rating_count=30, rating_mean=4.9)
    MovieFactory(title="Too few ratings (2010)", rating_count=3, rating_mean=5.0)
    response = alice_client.get(MINE)
    assert response.status_code == 200
    body = response.json()
    assert body["personal"] is False and body["run"] is None
    assert _titles(response) == ["Everyone saw it (1994)", "Rarely rated (2001)"]
    first = body["results"][0]
    assert first["rank"] == 1 and first["predicted_rating"] is None and first["because"] is None
    assert first["explanation"] == "Popular: rated by 300 people, 4.1 stars on average."


def test_fresh_ratings_change_the_very_next_response(alice_client, catalogue, active_run):
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]
    rate = reverse("api:my_rating_list")

    alice_client.post(rate, {"movie": comedies[0].pk, "value": 5}, format="json")
    body = alice_client.get(MINE).json()
    assert body["personal"] is True and body["run"] == active_run.pk
    assert [r["movie"]["id"] for r in body["results"][:5]] == [m.pk for m in comedies[1:6]]
    assert comedies[0].pk not in [r["movie"]["id"] for r in body["results"]]
    top = body["results"][0]
    assert 0.5 <= top["predicted_rating"] <= 5
    assert top["because"] == {
        "id": comedies[0].pk,
        "url": f"http://testserver/api/v1/movies/{comedies[0].pk}/",
        "title": comedies[0].title,
    }
    assert top["explanation"] == f"Because you rated {comedies[0].title}."

    # Change of heart, no retrain: the next response follows.
    alice_client.put(reverse("api:my_rating_detail", args=[comedies[0].pk]), {"value": 0.5}, format="json")
    alice_client.post(rate, {"movie": dramas[0].pk, "value": 5}, format="json")
    body = alice_client.get(MINE).json()
    assert [r["movie"]["id"] for r in body["results"][:5]] == [m.pk for m in dramas[1:6]]


def test_filters_n_genre_and_min_ratings(alice, alice_client, catalogue, active_run):
    RatingFactory(user=alice, movie=catalogue["comedies"][0], value=5)
    NotInterested.objects.create(user=alice, movie=catalogue["comedies"][1])
    body = alice_client.get(MINE, {"n": 3}).json()
    assert len(body["results"]) == 3
    assert catalogue["comedies"][1].pk not in [r["movie"]["id"] for r in body["results"]]  # hidden
    dramas = alice_client.get(MINE, {"genre": "drama"}).json()["results"]
    assert dramas and all(r["movie"]["genres"] == ["Drama"] for r in dramas)
    # Comedies have 95..100 ratings, dramas 85..90.
    popular = alice_client.get(MINE, {"min_ratings": 95}).json()["results"]
    assert {r["movie"]["id"] for r in popular} == {m.pk for m in catalogue["comedies"][2:6]}


def test_an_unknown_genre_matches_no_movie(alice, alice_client, bob_client, catalogue, active_run):
    RatingFactory(user=alice, movie=catalogue["comedies"][0], value=5)
    personal = alice_client.get(MINE, {"genre": "Unknown"})
    assert personal.status_code == 200
    assert personal.json()["personal"] is True and personal.json()["results"] == []
    # Without a rating, popular movies: none of an unknown genre either, some of a known one.
    popular = bob_client.get(MINE, {"genre": "Unknown"}).json()
    assert popular["personal"] is False and popular["results"] == []
    assert bob_client.get(MINE, {"genre": "drama"}).json()["results"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"n": 0}, "n"),
        ({"n": 101}, "n"),
        ({"n": 10**40}, "n"),
        ({"n": "ten"}, "n"),
        ({"genre": "x" * 65}, "genre"),
        ({"min_ratings": -5}, "min_ratings"),
        ({"min_ratings": 1.5}, "min_ratings"),
    ],
)
def test_invalid_recommendation_filters_are_400(alice_client, params, field):
    response = alice_client.get(MINE, params)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_recommendations_query_count_is_fixed(alice, alice_client, catalogue, active_run, django_assert_num_queries):
    for movie in catalogue["dramas"][:4]:
        RatingFactory(user=alice, movie=movie, value=4)
    alice_client.get(MINE)  # loads the run's factors, filter masks and the top 20 movies into process caches
    # token (with the user, their taste version and the active run), hidden movies, ratings (movies are cached)
    with django_assert_num_queries(3):
        response = alice_client.get(MINE, {"n": 8})
    assert len(response.json()["results"]) == 8
    # the same request again: the fold-in result is cached under the unchanged taste version
    with django_assert_num_queries(1):
        again = alice_client.get(MINE, {"n": 8})
    assert again.json() == response.json()


def test_predicted_rating_for_one_movie(alice, alice_client, catalogue, active_run):
    comedies = catalogue["comedies"]
    url = reverse("api:my_prediction", args=[comedies[1].pk])
    before = alice_client.get(url).json()
    assert before["movie"] == {
        "id": comedies[1].pk,
        "url": f"http://testserver/api/v1/movies/{comedies[1].pk}/",
        "title": comedies[1].title,
    }
    assert before["predicted_rating"] is None and before["my_rating"] is None  # no ratings yet

    RatingFactory(user=alice, movie=comedies[0], value=5)
    liked = alice_client.get(url).json()["predicted_rating"]
    disliked_url = reverse("api:my_prediction", args=[catalogue["dramas"][1].pk])
    assert liked > alice_client.get(disliked_url).json()["predicted_rating"]
    assert alice_client.get(reverse("api:my_prediction", args=[comedies[0].pk])).json()["my_rating"] == 5.0
    assert alice_client.get(reverse("api:my_prediction", args=[123456])).status_code == 404


def test_staff_see_anyones_recommendations(staff_client, bob, catalogue, active_run):
    RatingFactory(user=bob, movie=catalogue["dramas"][0], value=5)
    response = staff_client.get(reverse("api:user_recommendations", args=[bob.pk]), {"n": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["user"] == bob.pk and body["personal"] is True
    assert [r["movie"]["id"] for r in body["results"]] == [m.pk for m in catalogue["dramas"][1:3]]
    assert staff_client.get(reverse("api:user_recommendations", args=[987654])).status_code == 404
    assert staff_client.get(reverse("api:user_recommendations", args=[2**70])).status_code == 404


def test_hand_rendered_recommendations_match_their_documented_serializer(alice, alice_client, catalogue, active_run):
    from catalog.api import MovieSummarySerializer
    from recommendations.api import RecommendationsSerializer

    RatingFactory(user=alice, movie=catalogue["comedies"][0], value=5)
    body = alice_client.get(MINE, {"n": 4}).json()
    serializer = RecommendationsSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert set(body["results"][0]) == set(RecommendationsSerializer.ItemSerializer().fields)
    assert set(body["results"][0]["movie"]) == set(MovieSummarySerializer().fields)
    assert set(body["results"][0]["movie"]) == {"id", "url", "title", "year", "genres", "rating_count", "rating_mean"}
