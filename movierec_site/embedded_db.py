"""Zero-config database: an embedded PostgreSQL (pgserver) when DATABASE_URL is unset.

The server listens only on a Unix socket inside its data folder, so it never clashes with a
system PostgreSQL. It is left running when the process exits (cleanup_mode=None): `make run`
starts several processes (web, qcluster, management commands) that must share one server, and
the data folder survives restarts. `make db-stop` stops it.
"""

from __future__ import annotations

import logging
from pathlib import Path

DEFAULT_DATABASE_NAME = "movierec"


def embedded_database_url(data_dir: Path, database: str = DEFAULT_DATABASE_NAME) -> str:
    """Start (or attach to) the embedded server in `data_dir` and return a URL for `database`.

    Creates the database on first use. Raises RuntimeError with a hint when pgserver is missing.
    """
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - only without the project's requirements
        raise RuntimeError(
            "DATABASE_URL is unset and the embedded PostgreSQL (pgserver) is not installed; "
            "run `make setup` or set DATABASE_URL"
        ) from exc

    # Unix socket paths are limited to ~100 characters; pgserver falls back to a temp dir
    # when the data folder path is too long, which is fine.
    data_dir.mkdir(parents=True, exist_ok=True)
    # pgserver reports every attach and, from an atexit hook, every detach at INFO: one line per
    # process on stderr, written after logging may have closed its streams. Keep its warnings only.
    logging.getLogger("pgserver").setLevel(logging.WARNING)
    server = pgserver.get_server(str(data_dir), cleanup_mode=None)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)


def stop_embedded_server(data_dir: Path) -> None:
    """Stop the embedded server if it runs (used by `make db-stop`)."""
    import subprocess

    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(str(data_dir), cleanup_mode=None)
    # pgserver's own wrapper: as root the server runs as its `pgserver` system user, and only that
    # user may stop it (a plain pg_ctl from root is refused).
    try:
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=Path(data_dir), user=server.system_user)
    except subprocess.CalledProcessError:
        pass  # not running
    del server
