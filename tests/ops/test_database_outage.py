"""A database outage answers 503 with Retry-After (JSON under /api/), never a 500; other errors stay 500."""

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/me/recommendations/"
PAGE = "/recommendations/"


@pytest.fixture
def outage(monkeypatch):
    def fail(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("recommendations.selectors.training_run_serving", fail)
    # A token request reads the run with its token (recommendations.selectors.SERVING_LIST_WITH_TOKEN).
    monkeypatch.setattr("accounts.authentication.token_get_with_user", fail)


def test_the_api_answers_503_in_its_error_shape(outage):
    user = UserFactory()
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    response = client.get(API)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "service_unavailable"


def test_pages_answer_a_503_page_that_needs_no_database(outage, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())

    response = client.get(PAGE)

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "briefly unavailable" in response.content.decode()


def test_a_broken_connection_counts_as_an_outage_and_other_errors_stay_500(monkeypatch, settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory())

    def broken(*args, **kwargs):
        raise InterfaceError("connection already closed")

    monkeypatch.setattr("recommendations.selectors.training_run_serving", broken)
    assert client.get(PAGE).status_code == 503

    def bug(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("recommendations.selectors.training_run_serving", bug)
    response = client.get(PAGE)
    assert response.status_code == 500 and "Retry-After" not in response
