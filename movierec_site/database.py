"""How child processes reach the database this process uses.

`manage.py serve` starts gunicorn and a qcluster, tests start `manage.py retrain` and workers, the
benches start servers. Each child must reach the same database as its parent, however the parent
was configured: a `DATABASE_URL` on TCP, the embedded server's Unix socket, or the test database
pytest-django created (whose name exists only in the parent's settings). Rebuilding a URL by hand
from HOST and PORT loses the socket folder (pgserver keeps it in OPTIONS) and lands on whatever
server listens on 127.0.0.1:5432; these two functions keep every detail.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import quote, urlencode

# Connection options Django keeps in OPTIONS that are part of "which server" (the rest, such as
# connect_timeout, are set again by the child's own settings).
_ADDRESS_OPTIONS = ("host", "port", "sslmode")


def database_url_of(db: Mapping) -> str:
    """A postgres:// URL that django-environ parses back into the connection settings `db`.

    `db` is a Django DATABASES entry (or `connection.settings_dict`). A Unix socket folder, whether
    in HOST or in OPTIONS["host"], travels as `?host=`, as pgserver writes it.
    """
    user = quote(str(db.get("USER") or ""), safe="")
    password = str(db.get("PASSWORD") or "")
    credentials = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    options = dict(db.get("OPTIONS") or {})
    host = str(db.get("HOST") or "")
    port = str(db.get("PORT") or "")
    query: dict[str, str] = {key: str(options[key]) for key in _ADDRESS_OPTIONS if options.get(key)}
    if host.startswith("/"):
        query["host"] = host
        host = ""
    netloc = host if not port or query.get("host") else f"{host}:{port}"
    if port and query.get("host"):
        query.setdefault("port", port)
    url = f"postgres://{credentials}{netloc}/{quote(str(db['NAME']), safe='')}"
    return f"{url}?{urlencode(query)}" if query else url


def child_environ(base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """The environment for a child process that must use this process's database.

    Starts from `base` (default: os.environ), sets DATABASE_URL to the default connection's exact
    address and name (so a child of a test run reaches the test database), then applies `overrides`.
    """
    from django.db import connection

    env = dict(os.environ if base is None else base)
    env["DATABASE_URL"] = database_url_of(connection.settings_dict)
    env.update(overrides)
    return env


def database_create_if_missing(db: Mapping) -> bool:
    """Create the database `db` names (a Django DATABASES entry) when its server does not have it; True if created.

    For scripts that prepare a database of their own (bench/bench_pages.py --prepare): `migrate` needs the database
    to exist. Connects to the server's `postgres` database as Django's test runner does; the role must be allowed
    to create databases (psycopg2's error says so otherwise).
    """
    from django.db.utils import load_backend

    wrapper = load_backend(db["ENGINE"]).DatabaseWrapper(dict(db), alias="__create__")
    try:
        with wrapper._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
            if cursor.fetchone() is not None:
                return False
            cursor.execute(f"CREATE DATABASE {wrapper.ops.quote_name(db['NAME'])}")
            return True
    finally:
        wrapper.close()
