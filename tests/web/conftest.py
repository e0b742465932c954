import pytest

from tests.factories import UserFactory, make_active_run  # noqa: F401 - re-exported
from tests.factories import two_taste_catalogue as make_two_taste_catalogue


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def two_taste_catalogue(db):
    return make_two_taste_catalogue()
