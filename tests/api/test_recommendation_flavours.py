"""`?flavour=` on /api/v1/me/recommendations/: each list flavour, its explanations, and the 400 for an unknown one."""

import pytest
from django.urls import reverse

from tests.factories import RatingFactory, long_tail, make_active_run

pytestmark = pytest.mark.django_db
MINE = reverse("api:my_recommendations")


@pytest.fixture
def two_tastes(alice, catalogue):
    # With a long tail, as a real catalogue has: the twelve movies are the trusted ones, and the candidates' scores
    # span a range (MMR's relevance is normalised over them).
    make_active_run(long_tail(catalogue["factors"]))
    RatingFactory(user=alice, movie=catalogue["comedies"][0], value=5)
    RatingFactory(user=alice, movie=catalogue["dramas"][0], value=4)
    return catalogue


def _ids(body) -> list[int]:
    return [item["movie"]["id"] for item in body["results"]]


def test_the_default_flavour_is_top_picks(alice_client, two_tastes):
    body = alice_client.get(MINE, {"n": 5}).json()
    assert body["flavour"] == "top_picks"
    assert _ids(body) == [m.pk for m in two_tastes["comedies"][1:6]]
    assert alice_client.get(MINE, {"n": 5, "flavour": "top_picks"}).json() == body


def test_something_different_brings_a_drama_up_and_says_why(alice_client, two_tastes):
    body = alice_client.get(MINE, {"n": 5, "flavour": "different"}).json()
    assert body["flavour"] == "different" and body["personal"] is True
    ids = _ids(body)
    # Relevance is the cosine: the comedy pointing most the person's way (top picks start with the longest vector)
    assert ids[0] == two_tastes["comedies"][5].pk
    assert ids[1] in {m.pk for m in two_tastes["dramas"]}
    assert [item["explanation"] for item in body["results"][:2]] == [
        "Your closest match.",
        "Unlike the rest of your list.",
    ]


def test_hidden_gems_are_the_less_rated_half_with_their_average(alice_client, two_tastes):
    body = alice_client.get(MINE, {"n": 10, "flavour": "hidden_gems"}).json()
    # counts 100..95 (comedies) and 90..85 (dramas): the median of the trusted ones is 92.5
    assert set(_ids(body)) == {m.pk for m in two_tastes["dramas"][1:]}
    first = body["results"][0]
    assert first["explanation"].startswith("Loved by few (")
    assert "rated ★ 3.6 on average" in first["explanation"]


def test_genre_mix_explains_each_pick_by_a_genre(alice_client, two_tastes):
    body = alice_client.get(MINE, {"n": 6, "flavour": "genre_mix"}).json()
    explanations = {item["explanation"] for item in body["results"]}
    assert explanations <= {"Keeps your mix: Comedy.", "Keeps your mix: Drama."}
    assert len(body["results"]) == 6


def test_flavours_honour_the_genre_and_min_ratings_filters(alice_client, two_tastes):
    body = alice_client.get(MINE, {"flavour": "different", "genre": "Drama"}).json()
    assert set(_ids(body)) <= {m.pk for m in two_tastes["dramas"]}
    body = alice_client.get(MINE, {"flavour": "genre_mix", "min_ratings": 96}).json()
    assert set(_ids(body)) == {m.pk for m in two_tastes["comedies"][1:5]}


def test_an_unknown_flavour_is_a_400_in_the_error_shape(alice_client, two_tastes):
    response = alice_client.get(MINE, {"flavour": "surprise"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] and error["message"]
    assert "flavour" in error["fields"]


def test_a_new_rating_changes_a_flavoured_list_at_once(alice, alice_client, two_tastes):
    before = _ids(alice_client.get(MINE, {"flavour": "different"}).json())
    RatingFactory(user=alice, movie=two_tastes["dramas"][1], value=5)
    after = _ids(alice_client.get(MINE, {"flavour": "different"}).json())
    assert two_tastes["dramas"][1].pk in before and two_tastes["dramas"][1].pk not in after


def test_the_schema_documents_the_flavours_as_an_enum(anon):
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/me/recommendations/"]["get"]
    (flavour,) = [p for p in operation["parameters"] if p["name"] == "flavour"]
    assert flavour["schema"]["enum"] == ["top_picks", "different", "hidden_gems", "genre_mix"]
    assert "maximal marginal relevance" in flavour["description"]
