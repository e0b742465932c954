"""The hottest queries run as server-side prepared statements, prepared once per connection
(movierec_site.postgresql.base.execute_prepared), with the same answers as a plain execute."""

import pytest
from django.db import DatabaseError, connections
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from accounts.authentication import token_get_with_user
from movierec_site.postgresql.base import PREPARED_PER_CONNECTION, execute_prepared
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

SQL = "SELECT %s::int + 1, %s::text"


@pytest.fixture
def own():
    """A connection of its own to the test database (its session's prepared statements are its own)."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def _prepared(wrapper) -> list[str]:
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements ORDER BY prepare_time")
        return [row[0] for row in cursor.fetchall()]


def _run(wrapper, sql=SQL, params=(41, "x")):
    with CaptureQueriesContext(wrapper) as sent, wrapper.cursor() as cursor:
        execute_prepared(wrapper, cursor, sql, list(params))
        return cursor.fetchall(), [query["sql"] for query in sent.captured_queries]


def test_a_statement_is_prepared_once_per_connection_and_answers_as_a_plain_execute(own):
    first, sent_first = _run(own)
    again, sent_again = _run(own, params=(1, "y"))
    assert first == [(42, "x")] and again == [(2, "y")]
    assert len(sent_first) == 1 and "PREPARE" in sent_first[0]  # prepared and run in one round trip
    assert len(sent_again) == 1 and sent_again[0].startswith("EXECUTE ")
    assert _prepared(own) == [own.prepared_statements[SQL]]


def test_a_new_connection_prepares_again(own):
    _run(own)
    own.close()  # a new server session has none
    rows, sent = _run(own)
    assert rows == [(42, "x")] and "PREPARE" in sent[0] and len(_prepared(own)) == 1


def test_old_texts_are_deallocated_beyond_the_limit(own):
    for number in range(PREPARED_PER_CONNECTION + 3):
        assert _run(own, sql=f"SELECT %s::int + {number}", params=(1,))[0] == [(1 + number,)]
    assert len(_prepared(own)) == PREPARED_PER_CONNECTION
    assert len(own.prepared_statements) == PREPARED_PER_CONNECTION
    # The most recent are kept.
    assert f"SELECT %s::int + {PREPARED_PER_CONNECTION + 2}" in own.prepared_statements


def test_off_by_setting_and_for_sql_with_other_percent_signs(own, settings):
    assert _run(own, sql="SELECT %s::text LIKE 'a%%'", params=("abc",))[0] == [(True,)]
    settings.DATABASE_PREPARED_STATEMENTS = False
    rows, sent = _run(own)
    assert rows == [(42, "x")] and not sent[0].startswith(("PREPARE", "EXECUTE"))
    assert _prepared(own) == []


def test_a_wrong_number_of_parameters_is_refused(own):
    with own.cursor() as cursor, pytest.raises(ValueError):
        execute_prepared(own, cursor, SQL, [1])
    assert _prepared(own) == []


def test_the_token_query_is_prepared():
    user = UserFactory()
    key = Token.objects.create(user=user).key
    with CaptureQueriesContext(connections["default"]) as sent:
        assert token_get_with_user(key=key).user == user
        assert token_get_with_user(key=key).user == user
        assert token_get_with_user(key="no-such-key") is None
    assert sent.captured_queries[-1]["sql"].startswith("EXECUTE ")


def test_a_statement_the_session_lost_fails_once_then_is_prepared_again(own):
    _run(own)
    with own.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    with pytest.raises(DatabaseError, match="does not exist"):
        _run(own)
    rows, sent = _run(own)
    assert rows == [(42, "x")] and "PREPARE" in sent[0]
