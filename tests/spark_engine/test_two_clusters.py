"""Retrains on two real qcluster processes sharing a Redis broker (issue 16, "Beyond one machine").

Two `manage.py qcluster` processes (one worker each, production settings, local Spark) on a Redis of the
test's own and this test's database. Retrain tasks are queued as `retrain_enqueue` queues them.
"""

import os
import signal
from dataclasses import asdict

import pytest
from django.conf import settings
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from recommendations import services
from recommendations.locks import retrain_lock_is_held
from recommendations.models import TrainingRun
from tests.ops.conftest import subprocess_env
from tests.ops.test_task_queue_redis import _wait, running_qclusters

from .test_pipeline import _options, _seed_ratings

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENDED = (TrainingRun.Status.SUCCEEDED, TrainingRun.Status.SKIPPED, TrainingRun.Status.FAILED)


@pytest.fixture(scope="module")
def two_clusters(redis_server, django_db_setup, django_db_blocker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("retrain-clusters")
    with django_db_blocker.unblock():
        env = subprocess_env(
            DEBUG="1",
            SECRET_KEY=settings.SECRET_KEY,
            Q_REDIS_URL=redis_server.url(0),
            Q_WORKERS="1",
            Q_LEASE_SECONDS="3",
            Q_LOST_TASK_ATTEMPTS="2",
            SPARK_MASTER="local[2]",
            SPARK_DRIVER_MEMORY="1g",
            SPARK_SHUFFLE_PARTITIONS="2",
            TRAINING_RUNS_DIR=str(folder / "runs"),
            SPARK_LOCAL_DIR=str(folder / "spark-local"),
            SPARK_LOCAL_IP="127.0.0.1",
        )
    with running_qclusters(redis_server, env, folder) as running:
        yield running


def _queue_retrain(broker) -> tuple[TrainingRun, str]:
    run = services.training_run_create(
        trigger=TrainingRun.Trigger.COMMAND, parameters=asdict(_options(evaluate=False, max_iter=3))
    )
    task_id = async_task(settings.RETRAIN_TASK, run.pk, sync=False, broker=broker, task_name=f"retrain-{run.pk}")
    return run, task_id


def _ended(task_ids, *runs):
    """Every task's result is saved (its run is then past its last write), and every run has ended."""
    if Task.objects.filter(id__in=task_ids).count() < len(task_ids):
        return False
    for run in runs:
        run.refresh_from_db()
    return all(run.status in ENDED for run in runs)


def test_two_retrains_queued_at_once_on_two_clusters_run_one_at_a_time(two_clusters):
    Schedule.objects.all().delete()
    _seed_ratings()
    first, first_task = _queue_retrain(two_clusters["broker"])
    second, second_task = _queue_retrain(two_clusters["broker"])

    _wait(
        lambda: _ended([first_task, second_task], first, second),
        "both retrains to end",
        timeout=300,
        logs=two_clusters["logs"],
    )

    statuses = sorted([first.status, second.status])
    assert statuses == [TrainingRun.Status.SKIPPED, TrainingRun.Status.SUCCEEDED], (first.error, second.error)
    ran, skipped = (first, second) if first.status == TrainingRun.Status.SUCCEEDED else (second, first)
    assert skipped.error == "Another retrain was running."
    # Skipped while the other ran: each cluster took one (on one cluster they would have run one after the other).
    # The lower bound is the run's creation, not its started_at: the retrain takes the lock first and records
    # started_at just after, so the other cluster can be turned away a moment before that timestamp.
    assert ran.created_at <= skipped.finished_at <= ran.finished_at
    assert list(TrainingRun.objects.filter(is_active=True)) == [ran]
    assert not retrain_lock_is_held()


def test_a_retrain_whose_worker_is_killed_is_started_again_and_publishes(two_clusters):
    Schedule.objects.all().delete()
    _seed_ratings()
    run, task_id = _queue_retrain(two_clusters["broker"])
    lease = f"django_q:movierec:lease:{task_id}"

    def in_spark():
        run.refresh_from_db()
        assert run.status in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING), run.error
        return run.status == TrainingRun.Status.RUNNING and run.export_seconds is not None

    _wait(in_spark, "the retrain to get past its export", timeout=180, logs=two_clusters["logs"])
    worker = int(two_clusters["redis"].get(lease))
    os.kill(worker, signal.SIGKILL)

    _wait(lambda: _ended([task_id], run), "the retrain to end", timeout=300, logs=two_clusters["logs"])
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.is_active
    task = Task.objects.get(id=task_id)
    assert task.success and task.result == run.pk
    assert two_clusters["redis"].hlen("django_q:movierec:claims") == 0
