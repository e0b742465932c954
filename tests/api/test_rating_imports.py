"""The rating-import API: upload -> preview and its rows -> confirm -> undo, and who may touch what."""

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from ratings.imports.formats import MAX_BYTES
from ratings.imports.models import RatingImport
from ratings.models import Rating
from tests.factories import MovieFactory, RatingFactory

from .conftest import client_for

pytestmark = pytest.mark.django_db

LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-01-01,The Godfather,1972,u,5\n"
    "2024-01-01,Emma,1996,u,3.5\n"
    "2024-01-01,Heat,1995,u,1\n"
    "2024-01-01,Unknown Film,1990,u,2\n"
)


@pytest.fixture
def movies(db):
    return {
        "godfather": MovieFactory(id=1, title="Godfather, The (1972)", year=1972, imdb_id="0068646"),
        "emma_a": MovieFactory(id=2, title="Emma (1996)", year=1996),
        "emma_b": MovieFactory(id=3, title="Emma (1996)", year=1996),
        "heat": MovieFactory(id=4, title="Heat (1995)", year=1995, imdb_id="0113277", tmdb_id=949),
    }


def upload(client: APIClient, content: str | bytes = LETTERBOXD, name="ratings.csv", **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = content.encode() if isinstance(content, str) else content
    return client.post(
        reverse("api:my_rating_import_list"), {"file": SimpleUploadedFile(name, data), **fields}, format="multipart"
    )


def items_by_title(client, import_id, **params) -> dict:
    response = client.get(reverse("api:my_rating_import_items", args=[import_id]), params)
    assert response.status_code == 200, response.content
    return {item["title"]: item for item in response.json()["results"]}


def test_upload_returns_the_preview_and_changes_nothing(alice, alice_client, movies):
    RatingFactory(user=alice, movie=movies["heat"], value=Decimal("4.0"))
    response = upload(alice_client)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "preview" and body["format"] == "letterboxd" and body["filename"] == "ratings.csv"
    assert body["counts"] == {"matched": 2, "choose": 1, "not_found": 1, "skipped": 0}
    assert body["applied"]["created"] == 0 and body["applied_at"] is None
    assert Rating.objects.filter(user=alice).count() == 1

    rows = items_by_title(alice_client, body["id"])
    assert rows["The Godfather"]["movie"] == {"id": 1, "title": "Godfather, The (1972)", "year": 1972}
    assert [c["id"] for c in rows["Emma"]["candidates"]] == [2, 3] and rows["Emma"]["match"] == "choose"
    assert rows["Heat"]["mine"]["value"] == 4.0 and rows["Heat"]["value"] == 1.0  # a conflict to see
    assert rows["Unknown Film"]["match"] == "not_found"
    assert set(items_by_title(alice_client, body["id"], match="choose")) == {"Emma"}


def test_confirm_with_choices_and_conflicts_then_undo(alice, alice_client, movies):
    RatingFactory(user=alice, movie=movies["heat"], value=Decimal("4.0"))
    import_id = upload(alice_client).json()["id"]
    rows = items_by_title(alice_client, import_id)
    response = alice_client.post(
        reverse("api:my_rating_import_confirm", args=[import_id]),
        {
            "conflict_policy": "theirs",
            "choices": [{"item": rows["Emma"]["id"], "movie": 3}],
            "conflicts": [{"item": rows["Heat"]["id"], "keep": "mine"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "applied"
    assert response.json()["applied"] == {
        "created": 2, "updated": 0, "kept": 1, "unchanged": 0, "duplicate": 0, "left_out": 0,
    }  # fmt: skip
    assert dict(Rating.objects.filter(user=alice).values_list("movie_id", "value")) == {
        1: Decimal("5.0"), 3: Decimal("3.5"), 4: Decimal("4.0"),
    }  # fmt: skip
    assert items_by_title(alice_client, import_id)["Emma"]["outcome"] == "created"

    response = alice_client.post(reverse("api:my_rating_import_undo", args=[import_id]))
    assert response.status_code == 200 and response.json()["status"] == "undone"
    assert response.json()["undone"] == {"removed": 2, "restored": 0, "changed_since": 0}
    assert dict(Rating.objects.filter(user=alice).values_list("movie_id", "value")) == {4: Decimal("4.0")}


def test_confirm_replaces_and_undo_restores(alice, alice_client, movies):
    RatingFactory(user=alice, movie=movies["heat"], value=Decimal("4.0"), rated_at=datetime(2020, 1, 1, tzinfo=UTC))
    import_id = upload(alice_client).json()["id"]
    alice_client.post(reverse("api:my_rating_import_confirm", args=[import_id]), {}, format="json")  # newest wins
    assert Rating.objects.get(user=alice, movie=movies["heat"]).value == Decimal("1.0")
    assert items_by_title(alice_client, import_id)["Heat"]["previous"]["value"] == 4.0
    alice_client.post(reverse("api:my_rating_import_undo", args=[import_id]))
    assert Rating.objects.get(user=alice, movie=movies["heat"]).value == Decimal("4.0")


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"PK\x03\x04xxxx", "zip archive"),
        (b"\x00\x01\x02binary", "binary"),
        (b"foo,bar\n1,2\n", "Name, Year, Rating"),
        (b"[1, 2, 3]", "rated_at"),
    ],
)
def test_a_file_that_cannot_be_imported_is_a_400_saying_why(alice_client, content, expected):
    response = upload(alice_client, content)
    assert response.status_code == 400
    error = response.json()["error"]
    assert expected in error["message"] and error["code"] in ("invalid_file", "invalid")
    assert not RatingImport.objects.exists()


def test_a_chosen_format_that_does_not_fit_names_the_expected_columns(alice_client):
    response = upload(alice_client, LETTERBOXD, format="imdb")
    assert response.status_code == 400
    assert "Const, Your Rating, Title, Title Type" in response.json()["error"]["message"]
    assert upload(alice_client, LETTERBOXD, format="nonsense").json()["error"]["fields"]["format"]


def test_oversize_and_missing_file(alice_client):
    response = upload(alice_client, b"x" * (MAX_BYTES + 100_000))
    assert response.status_code == 400 and "5 MB" in json.dumps(response.json())
    response = alice_client.post(reverse("api:my_rating_import_list"), {}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    response = alice_client.post(reverse("api:my_rating_import_list"), {"file": "x"}, format="json")
    assert response.status_code == 415


def test_trakt_json_by_ids(alice, alice_client, movies):
    trakt = [{"rated_at": "2024-01-01T00:00:00Z", "rating": 8, "type": "movie",
              "movie": {"title": "Heat", "year": 1995, "ids": {"imdb": "tt0113277", "tmdb": 949}}}]  # fmt: skip
    body = upload(alice_client, json.dumps(trakt), name="ratings-movies.json").json()
    assert body["format"] == "trakt" and body["counts"]["matched"] == 1


def test_bad_confirm_bodies_are_400_and_change_nothing(alice, alice_client, movies):
    import_id = upload(alice_client).json()["id"]
    url = reverse("api:my_rating_import_confirm", args=[import_id])
    rows = items_by_title(alice_client, import_id)
    for body in (
        {"conflict_policy": "sometimes"},
        {"choices": [{"item": "1", "movie": 2}]},
        {"choices": [{"item": rows["Emma"]["id"], "movie": 4}]},  # not a candidate
        {"choices": [{"item": rows["Emma"]["id"], "movie": 2}, {"item": rows["Emma"]["id"], "movie": 3}]},
        {"conflicts": [{"item": rows["Heat"]["id"], "keep": "both"}]},
        {"choices": [{"item": 10**9, "movie": 2}]},
    ):
        response = alice_client.post(url, body, format="json")
        assert response.status_code == 400, body
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not Rating.objects.filter(user=alice).exists()
    assert RatingImport.objects.get(pk=import_id).status == "preview"


def test_state_errors(alice_client, movies):
    import_id = upload(alice_client).json()["id"]
    undo = reverse("api:my_rating_import_undo", args=[import_id])
    confirm = reverse("api:my_rating_import_confirm", args=[import_id])
    assert alice_client.post(undo).json()["error"]["code"] == "not_applied"
    assert alice_client.post(confirm, {}, format="json").status_code == 200
    assert alice_client.post(confirm, {}, format="json").json()["error"]["code"] == "not_preview"
    assert alice_client.delete(reverse("api:my_rating_import_detail", args=[import_id])).status_code == 400


def test_delete_drops_a_preview(alice_client, movies):
    import_id = upload(alice_client).json()["id"]
    assert alice_client.delete(reverse("api:my_rating_import_detail", args=[import_id])).status_code == 204
    assert not RatingImport.objects.exists()


def test_list_of_my_imports_with_counts(alice_client, bob_client, movies):
    upload(alice_client)
    body = alice_client.get(reverse("api:my_rating_import_list")).json()
    assert body["count"] == 1 and body["results"][0]["counts"]["choose"] == 1
    assert bob_client.get(reverse("api:my_rating_import_list")).json()["count"] == 0


def test_another_users_import_is_404_and_anonymous_is_401(alice, alice_client, bob, anon, movies):
    import_id = upload(alice_client).json()["id"]
    bob_client = client_for(bob)
    calls = [
        ("get", "api:my_rating_import_detail", None),
        ("delete", "api:my_rating_import_detail", None),
        ("get", "api:my_rating_import_items", None),
        ("post", "api:my_rating_import_confirm", {}),
        ("post", "api:my_rating_import_undo", None),
    ]
    for method, name, body in calls:
        url = reverse(name, args=[import_id])
        response = getattr(bob_client, method)(url, body, format="json")
        assert response.status_code == 404, name
        assert response.json()["error"]["code"] == "not_found"
        assert getattr(anon, method)(url, body, format="json").status_code == 401, name
    assert anon.get(reverse("api:my_rating_import_list")).status_code == 401
    assert upload(anon).status_code == 401
    assert RatingImport.objects.get(pk=import_id).status == "preview"
    assert not Rating.objects.exists()
