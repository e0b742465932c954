"""A request with an API token skips sessions and messages (ops.middleware); everything else keeps them, and CSRF
still guards every session-authenticated write."""

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ratings.models import Rating
from tests.factories import MovieFactory

pytestmark = pytest.mark.django_db
ME = reverse("api:me")
RATINGS = reverse("api:my_rating_list")


def _browser_of(user) -> APIClient:
    """A browser signed in as `user` (a session cookie) that checks CSRF as a real one does."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_a_token_request_never_touches_the_session_even_with_a_session_cookie(alice, bob, django_assert_num_queries):
    client = _browser_of(bob)
    session_key = client.cookies["sessionid"].value
    expiry = Session.objects.get(session_key=session_key).expire_date
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    with django_assert_num_queries(1):  # the token and its user; no session row read
        response = client.get(ME)
    assert response.status_code == 200 and response.json()["username"] == "alice"  # the token decides
    assert not response.cookies  # no session, CSRF or messages cookie set
    request = response.wsgi_request
    assert not hasattr(request, "session") and not hasattr(request, "_messages")
    assert Session.objects.get(session_key=session_key).expire_date == expiry


def test_a_token_write_needs_no_csrf_token(alice):
    movie = MovieFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"token {Token.objects.create(user=alice).key}")  # any case, as DRF
    response = client.post(RATINGS, {"movie": movie.pk, "value": 4}, format="json")
    assert response.status_code == 201 and not response.cookies
    assert Rating.objects.filter(user=alice, movie=movie).exists()


def test_a_bad_token_is_refused_even_with_a_valid_session(bob):
    client = _browser_of(bob)
    client.credentials(HTTP_AUTHORIZATION="Token not-a-key")
    response = client.get(ME)
    assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "authentication_failed"


def test_a_session_write_without_the_csrf_token_is_still_refused(alice):
    movie = MovieFactory()
    client = _browser_of(alice)
    response = client.post(RATINGS, {"movie": movie.pk, "value": 4}, format="json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]
    # Another kind of Authorization header is no token: the session (and its CSRF check) still decides.
    response = client.post(RATINGS, {"movie": movie.pk, "value": 4}, format="json", HTTP_AUTHORIZATION="Bearer x")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]
    assert not Rating.objects.filter(user=alice).exists()
    # With the token from its CSRF cookie, as the browsable API sends it, the same write succeeds.
    client.get(ME, HTTP_ACCEPT="text/html")
    csrf = client.cookies["csrftoken"].value
    response = client.post(RATINGS, {"movie": movie.pk, "value": 4}, format="json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201
    assert Rating.objects.filter(user=alice, movie=movie).exists()


def test_a_session_request_still_has_its_session_and_messages(alice):
    response = _browser_of(alice).get(ME, HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and b"alice" in response.content
    request = response.wsgi_request
    assert request.session.session_key and hasattr(request, "_messages")


def test_a_token_header_outside_the_api_changes_nothing(alice, bob):
    client = _browser_of(bob)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    response = client.get("/")
    assert response.wsgi_request.user == bob  # the site's pages know sessions only
    assert response.wsgi_request.session.session_key
