import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import caches
from django.utils import timezone

from movierec_site.database import child_environ

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_ops_caches():
    # Rate-limit and throttle counters (default cache) and cluster status (django_q) start empty
    # (a name of its own: tests/conftest.py's _fresh_caches runs as well).
    for alias in ("default", "django_q"):
        caches[alias].clear()
    yield
    for alias in ("default", "django_q"):
        caches[alias].clear()


def report_cluster(*, status=None, seconds_ago: float = 0.0, cluster_id: str = "test-cluster") -> None:
    """Store a django-q2 cluster status exactly as a running cluster's sentinel does (Stat.save)."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.signing import SignedPackage
    from django_q.status import Stat, Status

    stat = Status(pid=os.getpid(), cluster_id=cluster_id)
    stat.status = Conf.IDLE if status is None else status
    stat.timestamp = timezone.now() - timedelta(seconds=seconds_ago)
    get_broker().set_stat(Stat.get_key(cluster_id), SignedPackage.dumps(stat, True), 3)


def subprocess_env(**overrides: str) -> dict[str, str]:
    """This test run's environment for a child Python, run from the project root, on this test's database."""
    base = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return child_environ(base, PYTHONPATH=str(ROOT), **overrides)


PYTHON = sys.executable
