"""/healthz and /readyz: what load balancers and monitors see."""

import os
import signal
import subprocess
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from ops import selectors
from recommendations.models import TrainingRun
from tests.ops.conftest import PYTHON, ROOT, report_cluster, subprocess_env

pytestmark = pytest.mark.django_db


def active_run(*, hours_ago: float = 2.0) -> TrainingRun:
    finished = timezone.now() - timedelta(hours=hours_ago)
    return TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        is_active=True,
        started_at=finished - timedelta(minutes=1),
        finished_at=finished,
    )


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_is_503_without_an_active_run_or_a_cluster_heartbeat(client):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["task_queue", "training_run"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["task_queue"] == {
        "ok": False,
        "clusters": 0,
        "error": f"no task cluster reported in the last {settings.READYZ_QCLUSTER_MAX_AGE:g} s",
    }
    assert body["checks"]["training_run"] == {"ok": False, "error": "no active training run"}


def test_readyz_is_200_with_a_live_cluster_and_an_active_run(client):
    run = active_run(hours_ago=2)
    report_cluster()
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["failed"] == []
    assert body["checks"]["task_queue"]["ok"] and body["checks"]["task_queue"]["clusters"] == 1
    training = body["checks"]["training_run"]
    assert training["ok"] and training["run_id"] == run.pk
    assert 2 * 3600 - 60 <= training["age_seconds"] <= 2 * 3600 + 60


def test_readyz_is_503_when_a_run_serves_but_no_cluster_reported(client):
    active_run()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["task_queue"]


@pytest.mark.parametrize("case", ["stale", "stopping"])
def test_a_stale_or_stopping_cluster_does_not_count(client, case):
    from django_q.conf import Conf

    active_run()
    if case == "stale":
        report_cluster(seconds_ago=settings.READYZ_QCLUSTER_MAX_AGE + 5)
    else:
        report_cluster(status=Conf.STOPPING)
    assert client.get("/readyz").json()["failed"] == ["task_queue"]


def test_readyz_is_503_fast_when_the_database_is_unreachable_and_says_nothing_secret(client, monkeypatch):
    wrapper = connections["default"]
    real_params = wrapper.get_connection_params

    def unreachable():
        return {**real_params(), "host": "127.0.0.1", "port": 1}  # nothing listens on port 1

    monkeypatch.setattr(wrapper, "get_connection_params", unreachable)
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < settings.READYZ_DB_TIMEOUT + 1
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database", "task_queue", "training_run"]
    assert body["checks"]["database"] == {"ok": False, "error": "unreachable"}
    text = response.content.decode()
    for secret in ("5432", connection.settings_dict["NAME"], "postgres", "password", settings.SECRET_KEY):
        assert secret not in text


def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/").status_code == 301  # everything else still is


def test_database_check_uses_short_connect_and_statement_timeouts(monkeypatch):
    """A hung or unreachable server cannot hold the check for long."""
    seen = {"sql": []}
    wrapper = connections["default"]
    real_new_connection = wrapper.get_new_connection

    class Recorded:
        def __init__(self, target):
            self._target = target

        def __getattr__(self, name):
            return getattr(self._target, name)

        def __enter__(self):
            return Recorded(self._target.__enter__())

        def __exit__(self, *exc):
            return self._target.__exit__(*exc)

        def cursor(self):
            return Recorded(self._target.cursor())

        def execute(self, sql, params=None):
            seen["sql"].append((sql, params))
            return self._target.execute(sql, params)

    def spy(params):
        seen["connect_timeout"] = params["connect_timeout"]
        return Recorded(real_new_connection(params))

    monkeypatch.setattr(wrapper, "get_new_connection", spy)
    assert selectors.readiness_database_check(timeout_seconds=3).ok
    assert seen["connect_timeout"] == 3
    assert seen["sql"][0] == ("SET LOCAL statement_timeout = %s", [3000])


@pytest.mark.slow
def test_a_real_qcluster_process_is_seen_and_then_missed(tmp_path, settings):
    """The heartbeat crosses processes: a qcluster started here reports through a shared cache."""
    stats_dir = tmp_path / "q-stats"
    settings.CACHES = {
        **settings.CACHES,
        "django_q": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(stats_dir)},
    }
    env = subprocess_env(
        DEBUG="1",
        Q_STATS_CACHE_URL=f"filecache://{stats_dir}",
        Q_WORKERS="1",
    )
    log = tmp_path / "qcluster.log"
    with log.open("w") as out:
        cluster = subprocess.Popen(
            [PYTHON, str(ROOT / "manage.py"), "qcluster"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the sentinel and workers are killed with it
        )
    try:
        deadline = time.monotonic() + 60
        check = selectors.readiness_task_queue_check()
        while not check.ok and time.monotonic() < deadline and cluster.poll() is None:
            time.sleep(0.5)
            check = selectors.readiness_task_queue_check()
        assert check.ok, log.read_text()
        assert check.detail["clusters"] == 1
    finally:
        os.killpg(cluster.pid, signal.SIGKILL)  # no goodbye: the status must expire by itself
        cluster.wait(timeout=30)
    time.sleep(4)  # a cluster's status lives 3 s
    assert not selectors.readiness_task_queue_check().ok


def test_probes_accept_head_requests(client):
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 503
    assert client.post("/healthz").status_code == 405
