"""The retrain schedules: declared idempotently from settings; the new-ratings check queues at the threshold."""

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from recommendations.models import TrainingRun
from spark_engine import schedules, tasks
from tests.factories import RatingFactory

pytestmark = pytest.mark.django_db


def test_declaring_twice_keeps_one_of_each_and_follows_the_settings(settings):
    schedules.schedules_declare()
    schedules.schedules_declare()
    assert Schedule.objects.filter(name__startswith="movierec:").count() == 2

    settings.RETRAIN_SCHEDULE_CRON = "15 4 * * 1"
    settings.RETRAIN_CHECK_MINUTES = 3
    call_command("migrate", verbosity=0)  # post_migrate declares them again
    nightly = Schedule.objects.get(name=schedules.NIGHTLY)
    check = Schedule.objects.get(name=schedules.NEW_RATINGS)
    assert (nightly.cron, nightly.schedule_type, nightly.repeats) == ("15 4 * * 1", Schedule.CRON, -1)
    assert nightly.func == "spark_engine.tasks.scheduled_retrain_task"
    assert (check.minutes, check.schedule_type) == (3, Schedule.MINUTES)
    assert Schedule.objects.filter(name__startswith="movierec:").count() == 2


def test_new_ratings_check_queues_one_retrain(settings, monkeypatch, django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    settings.RETRAIN_AFTER_NEW_RATINGS = 3
    RatingFactory.create_batch(2)
    assert tasks.retrain_if_enough_new_ratings_task() is None

    RatingFactory()
    with django_capture_on_commit_callbacks(execute=True):
        run_id = tasks.retrain_if_enough_new_ratings_task()
    run = TrainingRun.objects.get(pk=run_id)
    assert (run.status, run.trigger) == (TrainingRun.Status.QUEUED, TrainingRun.Trigger.NEW_RATINGS)
    assert queued == [("spark_engine.tasks.retrain_task", (run.pk,))]
    # while that run waits in the queue, the next check does not queue another
    assert tasks.retrain_if_enough_new_ratings_task() is None
    assert TrainingRun.objects.count() == 1 and len(queued) == 1


def test_a_zero_threshold_switches_the_check_off(settings):
    settings.RETRAIN_AFTER_NEW_RATINGS = 0
    RatingFactory.create_batch(3)
    assert tasks.retrain_if_enough_new_ratings_task() is None
    assert not TrainingRun.objects.exists()


def test_the_periodic_check_fails_runs_whose_worker_died_but_not_a_running_one(settings):
    from recommendations.locks import retrain_lock

    settings.RETRAIN_AFTER_NEW_RATINGS = 0
    orphan = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, trigger=TrainingRun.Trigger.SCHEDULE)

    with retrain_lock() as acquired:  # as if a retrain were running in another process
        assert acquired
        tasks.retrain_if_enough_new_ratings_task()
        orphan.refresh_from_db()
        assert orphan.status == TrainingRun.Status.RUNNING

    tasks.retrain_if_enough_new_ratings_task()  # no retrain holds the lock: the run was interrupted
    orphan.refresh_from_db()
    assert orphan.status == TrainingRun.Status.FAILED and orphan.error.startswith("Interrupted")
    assert orphan.finished_at is not None
