"""Child processes reach the database of the process that starts them (issue 18).

`manage.py serve`, the tests and the benches start children (gunicorn, qcluster, `manage.py retrain`).
A child that rebuilt its database address by hand once connected to 127.0.0.1:5432 while the
parent ran on the embedded server's Unix socket: green on this machine, red on a fresh one.
"""

import subprocess

import environ
import pytest
from django.db import connection

from movierec_site.database import child_environ, database_url_of
from tests.ops.conftest import PYTHON, ROOT, subprocess_env


@pytest.mark.parametrize(
    "db",
    [
        # The embedded server: the socket folder lives in OPTIONS, as pgserver's URL puts it.
        {
            "NAME": "test_movierec",
            "USER": "postgres",
            "PASSWORD": "",
            "HOST": "",
            "PORT": "",
            "OPTIONS": {"host": "/x/.pgdata"},
        },
        # A socket folder given as HOST, with a non-default port (it names the socket file).
        {"NAME": "db", "USER": "u", "PASSWORD": "", "HOST": "/var/run/postgresql", "PORT": "5433", "OPTIONS": {}},
        # TCP, with a password that needs quoting.
        {
            "NAME": "test_m",
            "USER": "postgres",
            "PASSWORD": "p@ss/w:rd",
            "HOST": "db.example",
            "PORT": 6432,
            "OPTIONS": {},
        },
    ],
)
def test_database_url_of_parses_back_to_the_same_server_and_database(db):
    parsed = environ.Env.db_url_config(database_url_of(db))
    for key in ("NAME", "USER", "PASSWORD"):
        assert parsed[key] == db[key]
    socket = db["OPTIONS"].get("host") or (db["HOST"] if db["HOST"].startswith("/") else None)
    if socket:
        assert parsed["OPTIONS"]["host"] == socket and not parsed["HOST"]
        assert str(parsed["OPTIONS"].get("port", "")) == str(db["PORT"])
    else:
        assert (parsed["HOST"], str(parsed["PORT"])) == (db["HOST"], str(db["PORT"]))


def test_child_environ_points_at_this_test_database_and_keeps_overrides():
    env = child_environ({"DATABASE_URL": "postgres://elsewhere/other", "KEEP": "1"}, EXTRA="2")
    assert environ.Env.db_url_config(env["DATABASE_URL"])["NAME"] == connection.settings_dict["NAME"]
    assert env["KEEP"] == "1" and env["EXTRA"] == "2"


def _server_identity(cursor) -> tuple[str, str]:
    cursor.execute("SELECT current_database(), system_identifier::text FROM pg_control_system()")
    return tuple(cursor.fetchone())


@pytest.mark.django_db
def test_a_child_process_reaches_this_very_database_cluster():
    """Same database name and the same PostgreSQL cluster (its system identifier), whichever way it was configured."""
    with connection.cursor() as cursor:
        parent = _server_identity(cursor)
    code = (
        "from django.db import connection\n"
        "with connection.cursor() as c:\n"
        "    c.execute('SELECT current_database(), system_identifier::text FROM pg_control_system()')\n"
        "    print(*c.fetchone())\n"
    )
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "shell", "-c", code],
        env=subprocess_env(DEBUG="1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert tuple(result.stdout.split()[-2:]) == parent


def test_database_create_if_missing_creates_a_database_once(django_db_blocker):
    import uuid

    from movierec_site.database import database_create_if_missing

    name = f"test_movierec_create_{uuid.uuid4().hex[:8]}"
    db = {**connection.settings_dict, "NAME": name}

    def exists() -> bool:
        with connection._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
            return cursor.fetchone() is not None

    with django_db_blocker.unblock():
        assert not exists()
        try:
            assert database_create_if_missing(db) is True
            assert exists()
            assert database_create_if_missing(db) is False  # there already: left alone
        finally:
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
