"""Who may do what: every private endpoint, for an anonymous client, the owner, another user and staff.

Another user's objects answer 404 (never 403), so their existence does not leak; staff-only
endpoints answer 403 to signed-in users who are not staff; anonymous clients always get 401.
"""

from decimal import Decimal

import pytest
from django.urls import reverse

from ratings.models import Rating
from recommendations.models import TrainingRun
from tests.factories import MovieFactory, RatingFactory

from .conftest import client_for

pytestmark = pytest.mark.django_db

# (method, url name, url args from the world, body) -> expected status per actor.
CASES = {
    "read alice's rating": (
        "get", "api:my_rating_detail", lambda w: [w["movie"].pk], None,
        {"anon": 401, "alice": 200, "bob": 404, "staff": 404},
    ),
    "re-rate alice's movie": (
        "put", "api:my_rating_detail", lambda w: [w["movie"].pk], {"value": 1},
        {"anon": 401, "alice": 200, "bob": 201, "staff": 201},  # others rate it for themselves
    ),
    "patch alice's rating": (
        "patch", "api:my_rating_detail", lambda w: [w["movie"].pk], {"value": 1},
        {"anon": 401, "alice": 200, "bob": 201, "staff": 201},
    ),
    "delete alice's rating": (
        "delete", "api:my_rating_detail", lambda w: [w["movie"].pk], None,
        {"anon": 401, "alice": 204, "bob": 404, "staff": 404},
    ),
    "list my ratings": ("get", "api:my_rating_list", lambda w: [], None, {"anon": 401, "alice": 200, "bob": 200}),
    "bulk rate": (
        "post", "api:my_rating_bulk", lambda w: [], {"ratings": [{"movie": 1, "value": 2}]},
        {"anon": 401, "alice": 200, "bob": 200},
    ),
    "my recommendations": ("get", "api:my_recommendations", lambda w: [], None, {"anon": 401, "alice": 200}),
    "my prediction": ("get", "api:my_prediction", lambda w: [w["movie"].pk], None, {"anon": 401, "alice": 200}),
    "alice's recommendations by id": (
        "get", "api:user_recommendations", lambda w: [w["alice"].pk], None,
        {"anon": 401, "alice": 200, "bob": 404, "staff": 200},
    ),
    "training runs": ("get", "api:training_run_list", lambda w: [], None,
                      {"anon": 401, "alice": 403, "staff": 200}),
    "one training run": (
        "get", "api:training_run_detail", lambda w: [w["run"].pk], None, {"anon": 401, "alice": 403, "staff": 200},
    ),
    "trigger a retrain": (
        "post", "api:training_run_list", lambda w: [], {}, {"anon": 401, "alice": 403, "staff": 202},
    ),
    "who am I": ("get", "api:me", lambda w: [], None, {"anon": 401, "alice": 200}),
    "revoke a token": ("delete", "api:token", lambda w: [], None, {"anon": 401, "alice": 204}),
    "whether I have a token": ("get", "api:token", lambda w: [], None, {"anon": 401, "alice": 200}),
    "the API root": ("get", "api:root", lambda w: [], None, {"anon": 200, "alice": 200, "staff": 200}),
    "browse movies": ("get", "api:movie_list", lambda w: [], None, {"anon": 200, "alice": 200}),
    "a movie": ("get", "api:movie_detail", lambda w: [w["movie"].pk], None, {"anon": 200, "alice": 200}),
}  # fmt: skip

MATRIX = [(case, actor, status) for case, spec in CASES.items() for actor, status in spec[4].items()]


@pytest.fixture
def world(alice, bob, staff, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)  # never run Spark here
    movie = MovieFactory(id=1)
    RatingFactory(user=alice, movie=movie, value=Decimal("4.5"))
    run = TrainingRun.objects.create(status=TrainingRun.Status.FAILED)
    return {"alice": alice, "bob": bob, "staff": staff, "movie": movie, "run": run}


@pytest.mark.parametrize("case, actor, expected", MATRIX, ids=[f"{c}-{a}" for c, a, _ in MATRIX])
def test_access(world, anon, case, actor, expected):
    method, name, args, body, _ = CASES[case]
    client = anon if actor == "anon" else client_for(world[actor])
    response = getattr(client, method)(reverse(name, args=args(world)), body, format="json")
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    if actor != "alice":
        # Whatever others do, alice's rating stays as she left it.
        assert Rating.objects.get(user=world["alice"], movie=world["movie"]).value == Decimal("4.5")


def test_list_of_my_ratings_never_shows_someone_elses(world):
    assert client_for(world["bob"]).get(reverse("api:my_rating_list")).json()["count"] == 0
    assert client_for(world["alice"]).get(reverse("api:my_rating_list")).json()["count"] == 1


def test_recommendations_by_id_of_another_user_are_404_even_if_they_exist(world):
    response = client_for(world["alice"]).get(reverse("api:user_recommendations", args=[world["bob"].pk]))
    assert response.status_code == 404
    missing = client_for(world["alice"]).get(reverse("api:user_recommendations", args=[10**6]))
    assert missing.json()["error"]["message"].replace(str(10**6), "ID") == response.json()["error"]["message"].replace(
        str(world["bob"].pk), "ID"
    )
