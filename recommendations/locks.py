"""The retrain lock: a PostgreSQL session-level advisory lock on a connection of its own.

PostgreSQL releases a session lock when its connection ends, so a retrain whose process is
killed (kill -9, OOM, a dead qcluster worker) cannot leave the lock stuck: the server notices
the closed socket and frees it. A dedicated connection keeps the lock independent of Django's
connection handling (transactions, CONN_MAX_AGE recycling) during a long run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import connections

# An arbitrary, fixed 64-bit key: "movierec retrain".
RETRAIN_LOCK_KEY = 0x6D6F_7669_6572_6563 & 0x7FFF_FFFF_FFFF_FFFF


def _new_raw_connection():
    wrapper = connections["default"]
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    raw.autocommit = True
    return raw


@contextlib.contextmanager
def retrain_lock() -> Iterator[bool]:
    """Try to take the retrain lock without waiting; yields whether it was acquired."""
    raw = _new_raw_connection()
    try:
        with raw.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [RETRAIN_LOCK_KEY])
            acquired = bool(cursor.fetchone()[0])
        try:
            yield acquired
        finally:
            if acquired:
                with contextlib.suppress(Exception), raw.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [RETRAIN_LOCK_KEY])
    finally:
        raw.close()


def retrain_lock_is_held() -> bool:
    """Whether some session holds the retrain lock right now (for triggers and health checks)."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND ((classid::bigint << 32) | objid::bigint) = %s)",
            [RETRAIN_LOCK_KEY],
        )
        return bool(cursor.fetchone()[0])
