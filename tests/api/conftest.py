import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory, make_active_run, two_taste_catalogue  # noqa: F401 - re-exported


@pytest.fixture
def anon():
    return APIClient()


def client_for(user) -> APIClient:
    """An API client authenticating with the user's token, as a real client would."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def staff(db):
    return UserFactory(username="root", is_staff=True)


@pytest.fixture
def alice_client(alice):
    return client_for(alice)


@pytest.fixture
def bob_client(bob):
    return client_for(bob)


@pytest.fixture
def staff_client(staff):
    return client_for(staff)


@pytest.fixture
def catalogue(db):
    return two_taste_catalogue()


@pytest.fixture
def active_run(catalogue):
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]
    return make_active_run(catalogue["factors"], similar={comedies[0]: comedies[1:4], dramas[0]: dramas[1:3]})
