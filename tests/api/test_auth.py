import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import MovieLensUserFactory

pytestmark = pytest.mark.django_db
TOKEN = reverse("api:token")
ME = reverse("api:me")
PASSWORD = "correct horse battery staple"


def test_a_user_creates_uses_and_revokes_a_token(alice, anon):
    response = anon.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 201
    key = response.json()["token"]
    assert response.json()["user"] == alice.pk
    again = anon.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")
    assert again.status_code == 200 and again.json()["token"] == key

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(ME).json()["username"] == "alice"
    assert client.delete(TOKEN).status_code == 204
    assert not Token.objects.exists()
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_wrong_password_or_missing_fields(alice, anon):
    response = anon.post(TOKEN, {"username": "alice", "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    response = anon.post(TOKEN, {"username": "alice"}, format="json")
    assert response.status_code == 400 and "password" in response.json()["error"]["fields"]


def test_movielens_raters_cannot_get_a_token(anon):
    MovieLensUserFactory(movielens_id=7)  # an unusable password, as the importer sets
    assert anon.post(TOKEN, {"username": "movielens-7", "password": "!"}, format="json").status_code == 401


@override_settings(AXES_FAILURE_LIMIT=2)
def test_repeated_failures_lock_the_username_out_with_429_json(alice, anon):
    for _ in range(2):
        anon.post(TOKEN, {"username": "alice", "password": "wrong"}, format="json")
    response = anon.post(TOKEN, {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "throttled"
    assert not Token.objects.exists()


def test_session_authentication_serves_the_browsable_api(alice, client):
    client.force_login(alice)
    response = client.get(ME, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"alice" in response.content and b"<html" in response.content


def test_anonymous_requests_to_private_endpoints_get_401_with_a_challenge(anon):
    response = anon.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": "Authentication credentials were not provided.", "fields": {}}
    }
