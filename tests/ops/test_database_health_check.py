"""Reused database connections are checked before a request's first query without a round trip
(movierec_site.postgresql), and one the server has ended is still replaced before that query."""

import time

import pytest
from django.db import connection, connections

pytestmark = pytest.mark.django_db


@pytest.fixture
def reused():
    """A connection of its own to the test database, as a request finds it: open, used, check not yet done."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    assert wrapper.health_check_enabled  # CONN_HEALTH_CHECKS
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 42")
    wrapper.health_check_done = False  # what Django does when a request ends and the connection is kept
    yield wrapper
    wrapper.close()


def _activity(cursor):
    cursor.execute("SELECT pg_stat_clear_snapshot()")  # the test's transaction would see its first snapshot again


def _last_statement(pid: int) -> str:
    with connection.cursor() as cursor:
        _activity(cursor)
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_a_live_connection_passes_the_check_without_a_query(reused):
    pid = reused.connection.get_backend_pid()
    reused.close_if_health_check_failed()
    assert reused.connection is not None and reused.health_check_done
    assert _last_statement(pid) == "SELECT 42"  # Django's own check would have sent SELECT 1
    with reused.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] == pid


def test_a_connection_the_server_ended_is_replaced_before_the_first_query(reused):
    pid = reused.connection.get_backend_pid()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10
    while True:  # the backend exits (and says so on the socket) shortly after the signal
        with connection.cursor() as cursor:
            _activity(cursor)
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone()[0] == 0:
                break
        assert time.monotonic() < deadline, "the terminated backend did not exit"
        time.sleep(0.05)
    reused.close_if_health_check_failed()
    with reused.cursor() as cursor:  # no error: the dead connection was dropped and a new one opened
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
