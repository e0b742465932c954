"""The movie-night API: the access matrix, the group list's shape against its documented serializer, and bad input
answered in the API's error shape."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from movienight.api import GroupMoviesSerializer
from movienight.models import Group, Membership
from movienight.services import MAX_MEMBERS
from ratings.services import rating_upsert
from tests.factories import UserFactory

from .conftest import make_group

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def world(alice, bob, outsider):
    group = make_group(alice, bob)
    return {"owner": alice, "member": bob, "outsider": outsider, "group": group}


def _group(w):
    return [w["group"].pk]


def _token(w):
    return [w["group"].invite_token]


CASES = {
    "my groups": ("get", "api:group_list", lambda w: [], None, {"owner": 200, "member": 200, "outsider": 200}),
    "create": ("post", "api:group_list", lambda w: [], {"name": "New"}, {"owner": 201, "member": 201, "outsider": 201}),
    "detail": ("get", "api:group_detail", _group, None, {"owner": 200, "member": 200, "outsider": 404}),
    "delete": (
        "delete", "api:group_detail", _group, None, {"owner": 204, "member": 403, "outsider": 404},
    ),
    "leave": ("post", "api:group_leave", _group, None, {"owner": 204, "member": 204, "outsider": 404}),
    "new invite": (
        "post", "api:group_invite", _group, None, {"owner": 200, "member": 403, "outsider": 404},
    ),
    "join": (
        "post", "api:group_join", lambda w: [], lambda w: {"token": w["group"].invite_token},
        {"owner": 200, "member": 200, "outsider": 201},
    ),
    "movies": ("get", "api:group_movies", _group, None, {"owner": 200, "member": 200, "outsider": 404}),
}  # fmt: skip

MATRIX = [(case, actor, status) for case, spec in CASES.items() for actor, status in [*spec[4].items(), ("anon", 401)]]


@pytest.mark.parametrize("case, actor, expected", MATRIX, ids=[f"{c}-{a}" for c, a, _ in MATRIX])
def test_api_access(world, case, actor, expected):
    method, name, args, body, _ = CASES[case]
    client = APIClient() if actor == "anon" else client_for(world[actor])
    body = body(world) if callable(body) else body
    response = getattr(client, method)(reverse(name, args=args(world)), body, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert Group.objects.filter(pk=world["group"].pk).exists() == (not (case == "delete" and actor == "owner"))


def test_create_join_leave_through_the_api(alice, bob, carol):
    created = client_for(alice).post(reverse("api:group_list"), {"name": "  Film   club "}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Film club" and body["owner"] == "alice" and body["is_owner"] is True
    assert created["Location"] == body["url"] == f"http://testserver/api/v1/groups/{body['id']}/"
    assert body["invite_url"] == f"http://testserver/groups/join/{body['invite_token']}/"
    assert [m["username"] for m in body["members"]] == ["alice"]

    joined = client_for(bob).post(reverse("api:group_join"), {"token": body["invite_token"]}, format="json")
    assert joined.status_code == 201 and joined.json()["is_owner"] is False
    mine = client_for(bob).get(reverse("api:group_list")).json()
    assert mine["count"] == 1 and mine["results"][0] | {"created_at": None} == {
        "id": body["id"],
        "name": "Film club",
        "url": body["url"],
        "created_at": None,
        "member_count": 2,
        "owner": "alice",
        "is_owner": False,
    }

    assert client_for(alice).post(reverse("api:group_leave", args=[body["id"]])).status_code == 204
    detail = client_for(bob).get(reverse("api:group_detail", args=[body["id"]])).json()
    assert detail["owner"] == "bob" and detail["is_owner"] is True
    old = detail["invite_token"]
    renewed = client_for(bob).post(reverse("api:group_invite", args=[body["id"]])).json()
    assert renewed["invite_token"] != old
    gone = client_for(carol).post(reverse("api:group_join"), {"token": old}, format="json")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    assert client_for(bob).post(reverse("api:group_leave", args=[body["id"]])).status_code == 204
    assert not Group.objects.exists()


def test_a_full_group_refuses_one_more(alice):
    group = make_group(alice, *UserFactory.create_batch(MAX_MEMBERS - 1))
    response = client_for(UserFactory()).post(reverse("api:group_join"), {"token": group.invite_token}, format="json")
    assert response.status_code == 400 and "full" in response.json()["error"]["message"]
    assert Membership.objects.filter(group=group).count() == MAX_MEMBERS


@pytest.mark.parametrize(
    "method, name, body",
    [
        ("post", "api:group_list", {}),
        ("post", "api:group_list", {"name": ""}),
        ("post", "api:group_list", {"name": "   "}),
        ("post", "api:group_list", {"name": 5}),
        ("post", "api:group_list", {"name": "x" * 101}),
        ("post", "api:group_list", {"name": "nul\x00"}),
        ("post", "api:group_list", ["name"]),
        ("post", "api:group_join", {}),
        ("post", "api:group_join", {"token": None}),
        ("post", "api:group_join", {"token": "x" * 65}),
    ],
)
def test_bad_bodies_are_400s_in_the_error_shape(alice, method, name, body):
    response = getattr(client_for(alice), method)(reverse(name), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"invalid", "parse_error"}
    assert not Group.objects.exists()


@pytest.mark.parametrize(
    "query",
    [
        {"aggregation": "median"},
        {"aggregation": ""},
        {"n": "0"},
        {"n": "101"},
        {"n": "1.5"},
        {"min_ratings": "-1"},
        {"min_ratings": "1e3"},
        {"min_ratings": ""},
        {"genre": "x" * 65},
    ],
)
def test_bad_filters_are_400s_in_the_error_shape(world, query):
    response = client_for(world["member"]).get(reverse("api:group_movies", args=[world["group"].pk]), query)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid" and set(response.json()["error"]["fields"]) == set(query)


def test_bad_filters_for_someone_elses_group_are_still_404s(world):
    url = reverse("api:group_movies", args=[world["group"].pk])
    assert client_for(world["outsider"]).get(url, {"n": "0"}).status_code == 404


@pytest.mark.parametrize("group_id", [0, 2**63, 10**30])
def test_ids_no_group_can_have_are_404s(alice, group_id):
    for name in ("api:group_detail", "api:group_movies"):
        assert client_for(alice).get(reverse(name, args=[group_id])).status_code == 404


def test_the_group_list_as_documented(world, catalogue, stars_run, django_assert_num_queries):
    alice, bob = world["owner"], world["member"]
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    url = reverse("api:group_movies", args=[world["group"].pk])
    client = client_for(bob)
    response = client.get(url, {"aggregation": "least_misery", "n": 3, "min_ratings": 0})
    body = response.json()
    serializer = GroupMoviesSerializer(data=body)
    assert serializer.is_valid(), serializer.errors
    assert (body["personal"], body["reason"], body["run"], body["aggregation"]) == (
        True,
        None,
        stars_run.pk,
        "least_misery",
    )
    assert body["members"] == [
        {"username": "alice", "display_name": "Alice Liddell", "counted": True},
        {"username": "bob", "display_name": "bob", "counted": False},
    ]
    assert len(body["results"]) == 3
    first = body["results"][0]
    assert first["rank"] == 1 and first["score"] == first["least_misery"] == first["average"]
    assert [p["username"] for p in first["predictions"]] == ["alice", "bob"]
    assert first["predictions"][1]["predicted_rating"] is None
    assert "rating" not in str(first).replace("predicted_rating", "").replace("rating_count", "").replace(
        "rating_mean", ""
    )
    # the token with its user, the group with its members, the active run, its new movies; the list is cached
    with django_assert_num_queries(4):
        assert client.get(url, {"aggregation": "least_misery", "n": 3, "min_ratings": 0}).json() == body


def test_the_popular_fallback_is_labelled(world, catalogue):
    body = client_for(world["owner"]).get(reverse("api:group_movies", args=[world["group"].pk])).json()
    assert (body["personal"], body["reason"], body["run"]) == (False, "no_run", None)
    assert body["results"][0]["score"] is None and body["results"][0]["predictions"] == []
    assert [m["counted"] for m in body["members"]] == [False, False]
