"""Readiness checks for /readyz: the database, the django-q2 cluster, the serving training run.

Each check returns a `Check`; none raises. Failure details are short, fixed phrases: the
endpoint is public, so no exception text (which may name hosts, users or paths) goes out;
the exception itself is logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone

from recommendations.selectors import training_run_active

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, **self.detail}


def readiness_database_check(*, timeout_seconds: int | None = None) -> Check:
    """`SELECT 1` on a new connection that gives up after `timeout_seconds` (READYZ_DB_TIMEOUT).

    A connection of its own, not the request's: its connect and statement timeouts can be short
    without touching the pooled connection's settings, and it proves the server still accepts
    new connections (not the case when it is restarting or out of connection slots).
    """
    timeout = max(2, timeout_seconds or settings.READYZ_DB_TIMEOUT)  # libpq's minimum is 2 s
    wrapper = connections["default"]
    params = {**wrapper.get_connection_params(), "connect_timeout": timeout}
    started = time.perf_counter()
    raw = None
    try:
        raw = wrapper.get_new_connection(params)
        with raw.cursor() as cursor:
            # SET LOCAL: for this transaction only, which closing the connection rolls back (safe
            # behind a transaction-pooling PgBouncer too, unlike a startup `options` parameter).
            cursor.execute("SET LOCAL statement_timeout = %s", [timeout * 1000])
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        logger.warning("readiness: database unreachable", exc_info=True)
        return Check(False, {"error": "unreachable"})
    finally:
        if raw is not None:
            try:
                raw.close()
            except Exception:
                pass
    return Check(True, {"latency_ms": round((time.perf_counter() - started) * 1000, 1)})


def readiness_task_queue_check(*, max_age_seconds: float | None = None) -> Check:
    """At least one django-q2 cluster is up (idle or working) and reported within `max_age_seconds`.

    Clusters report (django_q.status.Stat) every half second through the broker: to Redis with the
    Redis broker, else to Q_CLUSTER["cache"], which must be shared with the web processes for this
    to see them (settings: a file cache on this host, or CACHE_URL).
    """
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.status import Stat

    max_age = settings.READYZ_QCLUSTER_MAX_AGE if max_age_seconds is None else max_age_seconds
    try:
        stats = Stat.get_all(broker=get_broker())
    except Exception:
        logger.warning("readiness: cannot read django-q2 cluster status", exc_info=True)
        return Check(False, {"error": "status unavailable"})
    now = timezone.now()
    running = {str(Conf.IDLE), str(Conf.WORKING)}
    ages = [(now - stat.timestamp).total_seconds() for stat in stats if str(stat.status) in running]
    recent = [age for age in ages if age <= max_age]
    if not recent:
        return Check(False, {"clusters": 0, "error": f"no task cluster reported in the last {max_age:g} s"})
    return Check(True, {"clusters": len(recent), "last_seen_seconds": round(max(0.0, min(recent)), 1)})


def readiness_training_run_check() -> Check:
    """A training run is serving recommendations; reports its id and age (seconds since it finished)."""
    try:
        run = training_run_active()
    except Exception:
        logger.warning("readiness: cannot read the active training run", exc_info=True)
        return Check(False, {"error": "unavailable"})
    if run is None:
        return Check(False, {"error": "no active training run"})
    trained = run.finished_at or run.created_at
    return Check(True, {"run_id": run.pk, "age_seconds": round((timezone.now() - trained).total_seconds())})


def readiness_checks() -> dict[str, Check]:
    """All checks by name. Without a database the others cannot be trusted, so they are not run."""
    database = readiness_database_check()
    if not database.ok:
        skipped = Check(False, {"error": "skipped: database unreachable"})
        return {"database": database, "task_queue": skipped, "training_run": skipped}
    return {
        "database": database,
        "task_queue": readiness_task_queue_check(),
        "training_run": readiness_training_run_check(),
    }
