from decimal import Decimal

import pytest
from django.urls import reverse

from ratings.models import Rating, WishlistEntry
from tests.factories import MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db
LIST = reverse("api:my_rating_list")
BULK = reverse("api:my_rating_bulk")


def _detail(movie_id) -> str:
    return reverse("api:my_rating_detail", args=[movie_id])


def test_rating_a_movie_creates_then_replaces(alice, alice_client):
    movie = MovieFactory(title="Heat (1995)")
    WishlistEntry.objects.create(user=alice, movie=movie)

    response = alice_client.post(LIST, {"movie": movie.pk, "value": 4.5}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["movie"] == movie.pk and body["title"] == "Heat (1995)" and body["value"] == 4.5
    assert not WishlistEntry.objects.filter(user=alice).exists()  # rating takes it off the wishlist

    response = alice_client.post(LIST, {"movie": movie.pk, "value": 3}, format="json")
    assert response.status_code == 200
    assert Rating.objects.get(user=alice, movie=movie).value == Decimal("3.0")


def test_put_patch_get_and_delete_one_rating(alice, alice_client):
    movie = MovieFactory()
    assert alice_client.get(_detail(movie.pk)).status_code == 404
    assert alice_client.put(_detail(movie.pk), {"value": 2}, format="json").status_code == 201
    assert alice_client.patch(_detail(movie.pk), {"value": 2.5}, format="json").status_code == 200
    response = alice_client.get(_detail(movie.pk))
    assert response.status_code == 200 and response.json()["value"] == 2.5
    assert alice_client.delete(_detail(movie.pk)).status_code == 204
    assert not Rating.objects.filter(user=alice).exists()
    response = alice_client.delete(_detail(movie.pk))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("value", [0, 0.3, 5.5, 4.25, -1, "4.5", "abc", "", None, True, [4], {"v": 4}, "NaN", 10**400])
def test_invalid_values_are_400_and_nothing_is_saved(alice_client, value):
    movie = MovieFactory()
    response = alice_client.post(LIST, {"movie": movie.pk, "value": value}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and "value" in error["fields"]
    assert not Rating.objects.exists()


@pytest.mark.parametrize("movie_id", [999, 0, -5, 2**31, 10**30, "x", "1", None, 1.5, True])
def test_unknown_or_malformed_movie_is_400(alice_client, movie_id):
    MovieFactory(id=1)
    response = alice_client.post(LIST, {"movie": movie_id, "value": 4}, format="json")
    assert response.status_code == 400
    assert "movie" in response.json()["error"]["fields"]


def test_unrated_and_unknown_movies_in_the_path_are_404(alice_client):
    for path in [_detail(999), _detail(2**40), "/api/v1/me/ratings/-1/"]:
        assert alice_client.put(path, {"value": 3}, format="json").status_code == 404
        assert alice_client.get(path).status_code == 404


def test_list_is_mine_only_sorted_and_paginated(alice, bob, alice_client, django_assert_num_queries):
    movies = [MovieFactory(title=f"M{i} (2000)") for i in range(25)]
    for i, movie in enumerate(movies):
        RatingFactory(user=alice, movie=movie, value=Decimal(1 + (i % 9) / 2))
    RatingFactory(user=bob, movie=movies[0])
    # token lookup, count, one page of ratings with their movies
    with django_assert_num_queries(3):
        response = alice_client.get(LIST, {"sort": "value"})
    body = response.json()
    assert body["count"] == 25 and len(body["results"]) == 20
    assert body["results"][0]["value"] == 5.0
    assert alice_client.get(LIST, {"sort": "sideways"}).status_code == 400


def test_bulk_creates_and_updates_in_one_request(alice, alice_client):
    old, new = MovieFactory(), MovieFactory()
    RatingFactory(user=alice, movie=old, value=Decimal("1.0"))
    payload = {"ratings": [{"movie": old.pk, "value": 5}, {"movie": new.pk, "value": 3.5}]}
    response = alice_client.post(BULK, payload, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"]) == (1, 1)
    assert {r["movie"]: r["value"] for r in body["ratings"]} == {old.pk: 5.0, new.pk: 3.5}
    assert dict(Rating.objects.filter(user=alice).values_list("movie_id", "value")) == {
        old.pk: Decimal("5.0"),
        new.pk: Decimal("3.5"),
    }


def test_bulk_costs_the_same_few_queries_for_many_ratings(alice, alice_client, django_assert_max_num_queries):
    movies = MovieFactory.create_batch(60)
    RatingFactory(user=alice, movie=movies[0], value=Decimal("1.0"))
    WishlistEntry.objects.create(user=alice, movie=movies[1])
    payload = {"ratings": [{"movie": m.pk, "value": 4.5} for m in movies]}
    # token, movies, already rated, savepoint/upsert/wishlist, ... but never one per rating
    with django_assert_max_num_queries(10):
        response = alice_client.post(BULK, payload, format="json")
    assert response.status_code == 200
    assert (response.json()["created"], response.json()["updated"]) == (59, 1)
    assert Rating.objects.filter(user=alice, value=Decimal("4.5")).count() == 60
    assert not WishlistEntry.objects.filter(user=alice).exists()  # rated movies leave the wishlist
    returned = response.json()["ratings"]
    assert [r["movie"] for r in returned] == [m.pk for m in movies]
    assert {r["title"] for r in returned} == {m.title for m in movies}


def test_bulk_is_all_or_nothing_with_errors_per_item(alice, alice_client):
    good, dup = MovieFactory(), MovieFactory()
    payload = {
        "ratings": [
            {"movie": good.pk, "value": 4},
            {"movie": 424242, "value": 4},
            {"movie": dup.pk, "value": 7},
            {"movie": dup.pk, "value": 3},
            {"movie": dup.pk, "value": 3},
        ]
    }
    response = alice_client.post(BULK, payload, format="json")
    assert response.status_code == 400
    items = response.json()["error"]["fields"]["ratings"]
    # Field-level errors come first; movie existence is checked once the shapes are valid.
    assert list(items) == ["2"] and "value" in items["2"]
    assert not Rating.objects.exists()

    payload["ratings"][2]["value"] = 3
    items = alice_client.post(BULK, payload, format="json").json()["error"]["fields"]["ratings"]
    assert sorted(items) == ["1", "3", "4"]
    assert "424242" in items["1"]["movie"][0] and "more than once" in items["4"]["movie"][0]
    assert not Rating.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        [{"movie": 1, "value": 4}],
        {"ratings": {"movie": 1, "value": 4}},
        {"ratings": "all of them"},
        {"ratings": []},
        {"ratings": [1, 2]},
        {"ratings": [None]},
        {},
        "ratings",
        {"ratings": [{"movie": 1, "value": 4}] * 501},
    ],
)
def test_bulk_rejects_malformed_payloads(alice_client, payload):
    MovieFactory(id=1)
    response = alice_client.post(BULK, payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] in {"invalid", "not_a_list", "empty", "max_length", "parse_error"}
    assert not Rating.objects.exists()


@pytest.mark.parametrize("body", ['{"movie": 1, "value": 1e400}', '{"movie": 1, "value": NaN}', "null", "[]", '"4"'])
def test_non_finite_numbers_and_wrong_top_level_types_are_400(alice_client, body):
    MovieFactory(id=1)
    response = alice_client.generic("POST", LIST, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Rating.objects.exists()


def test_malformed_json_is_400_parse_error(alice_client):
    response = alice_client.generic("POST", LIST, '{"movie": 1, "value": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_unsupported_media_type_is_415(alice_client):
    response = alice_client.generic("POST", LIST, "<rating/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
