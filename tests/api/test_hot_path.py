"""The recommendations endpoint's shortcuts (token query compiled once, default filters, orjson)
give exactly what the general code they stand in for gives."""

import datetime
import decimal

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from accounts.authentication import TokenAuthentication, token_get_with_user
from accounts.models import User
from catalog.api import movie_summary, movie_summary_cached
from catalog.models import Movie
from recommendations.api import DEFAULT_MIN_RATINGS, DEFAULT_RECOMMENDATIONS, FastJSONRenderer, _default_filters
from tests.factories import MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db
ME = reverse("api:me")
MINE = reverse("api:my_recommendations")


def _fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_compiled_token_query_loads_what_drfs_query_loads(alice):
    key = Token.objects.create(user=alice).key
    fast = token_get_with_user(key=key)
    drf = Token.objects.select_related("user").get(key=key)
    assert _fields(fast) == _fields(drf)
    assert _fields(fast.user) == _fields(drf.user)
    assert fast.user.auth_token is fast  # both sides of the one-to-one are set, as select_related does
    assert token_get_with_user(key="no-such-key") is None


def test_token_authentication_is_one_query(alice, django_assert_num_queries):
    key = Token.objects.create(user=alice).key
    with django_assert_num_queries(1):
        user, token = TokenAuthentication().authenticate_credentials(key)
    assert user == alice and token.key == key and user.taste_version == alice.taste_version


def test_refusals_are_drfs(alice):
    key = Token.objects.create(user=alice).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    response = client.get(ME)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json() == {"error": {"code": "authentication_failed", "message": "Invalid token.", "fields": {}}}
    User.objects.filter(pk=alice.pk).update(is_active=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive or deleted."


def test_no_query_string_means_the_serializers_defaults(alice, alice_client, catalogue, active_run):
    assert dict(_default_filters()) == {
        "n": DEFAULT_RECOMMENDATIONS,
        "min_ratings": DEFAULT_MIN_RATINGS,
        "flavour": "top_picks",
    }
    for movie in catalogue["dramas"][:3]:
        RatingFactory(user=alice, movie=movie, value=4)
    plain = alice_client.get(MINE)
    assert plain.status_code == 200
    assert plain.content == alice_client.get(MINE, {"n": DEFAULT_RECOMMENDATIONS, "min_ratings": 25}).content


def test_the_orjson_renderer_writes_drfs_bytes():
    data = {
        "title": 'Amélie (2001) \u2028 \u2029 "quoted" \\ \t',
        "numbers": [1, -2, 3.5, 4.123456789012345, 0.1 + 0.2, 1e300, None, True, False],
        "nested": {"empty": [], "dict": {}, 7: "int key"},
        "error": [ErrorDetail("Ensure this value is greater than or equal to 1.", code="min_value")],
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=datetime.UTC),
        "day": datetime.date(2024, 5, 6),
        "decimal": decimal.Decimal("3.25"),
        "numpy": np.float64(3.75),
        "numpy32": np.float32(1.5),
        "tuple": (1, 2),
    }
    assert FastJSONRenderer().render(data) == JSONRenderer().render(data)
    indented = "application/json; indent=4"
    assert FastJSONRenderer().render(data, indented) == JSONRenderer().render(data, indented)
    assert FastJSONRenderer().render(None) == b""


def test_recommendations_render_as_before_and_still_browse(alice, client, alice_client, catalogue, active_run):
    response = alice_client.get(MINE)
    assert response["Content-Type"] == "application/json"
    assert response.content == JSONRenderer().render(response.json())
    client.force_login(alice)
    page = client.get(MINE, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"<html" in page.content


def test_the_token_query_reads_the_serving_run_too(alice, active_run):
    from recommendations.selectors import SERVING_LIST_WITH_TOKEN, training_run_serving

    key = Token.objects.create(user=alice).key
    token = token_get_with_user(key=key, addition=SERVING_LIST_WITH_TOKEN)
    drf = Token.objects.select_related("user").get(key=key)
    assert _fields(token) == _fields(drf) and _fields(token.user) == _fields(drf.user)
    serving = training_run_serving()
    run = token.serving_read.run
    assert _fields(run) == _fields(serving) and run.pk == active_run.pk
    assert token_get_with_user(key="no-such-key", addition=SERVING_LIST_WITH_TOKEN) is None
    type(active_run).objects.update(is_active=False)
    read = token_get_with_user(key=key, addition=SERVING_LIST_WITH_TOKEN).serving_read
    assert read.run is None and read.stored is None


def test_a_token_request_for_recommendations_reads_the_run_with_the_token(
    alice, alice_client, catalogue, active_run, django_assert_num_queries
):
    for movie in catalogue["dramas"][:4]:
        RatingFactory(user=alice, movie=movie, value=4)
    first = alice_client.get(MINE)
    assert first.json()["run"] == active_run.pk
    with django_assert_num_queries(1):  # token, user and active run; the list is cached under the taste version
        again = alice_client.get(MINE)
    assert again.json() == first.json()
    # A new run is seen by the very next request.
    type(active_run).objects.filter(pk=active_run.pk).update(is_active=False)
    assert alice_client.get(MINE).json()["run"] is None


def test_a_cached_movie_summary_follows_the_movie_object_it_was_built_from():
    movie = MovieFactory(title="Before (2001)")
    url = "http://testserver/api/v1/movies/"
    first = movie_summary_cached(movie, movies_url=url)
    assert first == movie_summary(movie, movies_url=url) and movie_summary_cached(movie, movies_url=url) is first
    Movie.objects.filter(pk=movie.pk).update(title="After (2001)")
    reloaded = Movie.objects.with_genres().get(pk=movie.pk)  # what the movie cache holds once it reloads
    assert movie_summary_cached(reloaded, movies_url=url)["title"] == "After (2001)"
    assert movie_summary_cached(reloaded, movies_url="http://other/api/v1/movies/")["url"].startswith("http://other/")


def test_me_answers_what_its_serializer_documents(alice, alice_client, client):
    from accounts.api import MeApi

    alice.email, alice.is_staff = "alice@example.org", True
    alice.save()
    response = alice_client.get(ME)
    assert response.status_code == 200
    assert response.json() == dict(MeApi.OutputSerializer(alice).data)
    assert response.content == JSONRenderer().render(MeApi.OutputSerializer(alice).data)
    client.force_login(alice)  # the browsable API still shows it
    page = client.get(ME, HTTP_ACCEPT="text/html")
    assert page.status_code == 200 and b"alice@example.org" in page.content
