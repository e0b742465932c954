import pytest

from movierec_site.database import child_environ


@pytest.fixture
def manage_env():
    """Environment for a `manage.py` subprocess that works on this test's database with the test settings."""
    return child_environ(DJANGO_SETTINGS_MODULE="movierec_site.test_settings")
