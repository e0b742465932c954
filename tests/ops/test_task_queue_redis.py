"""django-q2 on the Redis broker with two real qcluster processes (issue 16, "Beyond one machine").

A Redis server of the test's own; two `manage.py qcluster` processes on it and on this test's database, one
worker each. Tasks are queued as the site queues them (django_q.tasks.async_task, signed packages on the
Redis list); results are what the clusters' monitors saved in the database.
"""

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from tests.ops.conftest import PYTHON, ROOT, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

LEASE_SECONDS = 2


def _broker(server):
    """django-q2's own Redis broker, on the test's Redis (this process's settings keep the ORM broker)."""
    from django_q.brokers.redis_broker import Redis

    class TestRedis(Redis):
        @staticmethod
        def get_connection(list_key=None):
            return server.client()

    return TestRedis()


def _wait(predicate, what: str, *, timeout: float = 60, logs=()):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log}\n{Path(log).read_text()[-3000:]}" for log in logs)
            pytest.fail(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.1)


@contextmanager
def running_qclusters(redis_server, env: dict, folder: Path, count: int = 2):
    """`count` `manage.py qcluster` processes with `env`, their output in `folder`/qcluster-N.log; yields once all
    have reported to `redis_server` ({"broker", "logs", "redis"}), and kills their process groups afterwards."""
    clusters, logs = [], []
    try:
        for index in range(count):
            log = folder / f"qcluster-{index}.log"
            logs.append(log)
            with log.open("w") as out:
                clusters.append(
                    subprocess.Popen(
                        [PYTHON, str(ROOT / "manage.py"), "qcluster"],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # sentinel, pusher, monitor and workers go with its group
                    )
                )
        client = redis_server.client()
        _wait(lambda: len(client.keys("django_q:movierec:cluster:*")) == count, "the clusters to report", logs=logs)
        yield {"broker": _broker(redis_server), "logs": logs, "redis": client}
    finally:
        for cluster in clusters:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=30)


@pytest.fixture(scope="module")
def two_clusters(redis_server, django_db_setup, django_db_blocker, tmp_path_factory):
    """Two qcluster processes sharing the test's Redis (the queue) and this test database (results)."""
    folder = tmp_path_factory.mktemp("qclusters")
    with django_db_blocker.unblock():
        env = subprocess_env(
            DEBUG="1",
            SECRET_KEY=settings.SECRET_KEY,  # the task packages are signed with it
            Q_REDIS_URL=redis_server.url(0),
            Q_WORKERS="1",
            Q_LEASE_SECONDS=str(LEASE_SECONDS),
            Q_LOST_TASK_ATTEMPTS="2",
            LOG_LEVEL="INFO",
        )
    with running_qclusters(redis_server, env, folder) as running:
        yield {**running, "folder": folder}


@pytest.fixture(autouse=True)
def _no_schedules(db):
    # The retrain schedules migrate declared would put the clusters' scheduler to work in the middle of a test.
    Schedule.objects.all().delete()


def _result(task_id):
    task = Task.objects.filter(id=task_id).first()
    return task


def test_tasks_are_spread_over_both_clusters(two_clusters):
    broker = two_clusters["broker"]
    ids = [
        async_task("tests.ops.queue_tasks.where_am_i", 0.5, sync=False, broker=broker, task_name=f"where-{i}")
        for i in range(8)
    ]
    done = _wait(
        lambda: (tasks := list(Task.objects.filter(id__in=ids))) and len(tasks) == len(ids) and tasks,
        "all eight tasks to finish",
        logs=two_clusters["logs"],
    )
    assert all(task.success for task in done), [task.result for task in done]
    sentinels = {task.result["sentinel"] for task in done}
    assert len(sentinels) == 2, f"every task ran on one cluster: {[task.result for task in done]}"


def test_a_killed_workers_task_is_queued_again_then_recorded_as_failed(two_clusters):
    """Q_LOST_TASK_ATTEMPTS=2: killed once, it is started again elsewhere; killed again, it is a failed task."""
    folder, broker = two_clusters["folder"], two_clusters["broker"]
    log, gate = folder / "doomed.log", folder / "doomed.gate"
    task_id = async_task(
        "tests.ops.queue_tasks.wait_for_gate", str(log), str(gate), sync=False, broker=broker, task_name="doomed"
    )

    def starts():
        return log.read_text().split() if log.exists() else []

    first = _wait(lambda: starts(), "the task to start", logs=two_clusters["logs"])[0]
    os.kill(int(first), signal.SIGKILL)
    second = _wait(lambda: len(starts()) >= 2 and starts()[1], "a second start", logs=two_clusters["logs"])
    assert second != first
    assert not Task.objects.filter(id=task_id).exists()  # no result yet: it is running again

    os.kill(int(second), signal.SIGKILL)
    failed = _wait(lambda: _result(task_id), "the task to be recorded as failed", logs=two_clusters["logs"])
    assert not failed.success
    assert "Lost: the worker running this task died (started 2 times" in failed.result
    time.sleep(LEASE_SECONDS * 2)
    assert len(starts()) == 2  # never a third start
    assert two_clusters["redis"].hlen("django_q:movierec:claims") == 0


def test_a_killed_workers_task_that_succeeds_on_its_second_start_is_a_success(two_clusters):
    folder, broker = two_clusters["folder"], two_clusters["broker"]
    log, gate = folder / "lucky.log", folder / "lucky.gate"
    task_id = async_task(
        "tests.ops.queue_tasks.wait_for_gate", str(log), str(gate), sync=False, broker=broker, task_name="lucky"
    )

    def starts():
        return log.read_text().split() if log.exists() else []

    first = _wait(lambda: starts(), "the task to start", logs=two_clusters["logs"])[0]
    os.kill(int(first), signal.SIGKILL)
    second = _wait(lambda: len(starts()) >= 2 and starts()[1], "a second start", logs=two_clusters["logs"])
    gate.touch()
    done = _wait(lambda: _result(task_id), "the task to finish", logs=two_clusters["logs"])
    assert done.success and done.result == int(second)
    assert two_clusters["redis"].hlen("django_q:movierec:claims") == 0
