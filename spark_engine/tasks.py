"""django-q2 tasks: take primitive ids, re-fetch, call the same function as the command."""

from __future__ import annotations

from django.conf import settings

from recommendations.models import TrainingRun
from recommendations.retrain import retrain_enqueue
from recommendations.selectors import ratings_count_since_last_run
from spark_engine.pipeline import retrain, training_runs_reap_interrupted


def retrain_task(run_id: int) -> int:
    run = retrain(run_id=run_id)
    return run.pk


def scheduled_retrain_task() -> int | None:
    return retrain(trigger=TrainingRun.Trigger.SCHEDULE).pk


def retrain_if_enough_new_ratings_task() -> int | None:
    """Queue a retrain once RETRAIN_AFTER_NEW_RATINGS ratings arrived since the last run.

    First marks runs left 'running' by a dead worker as failed (see pipeline.training_runs_reap_interrupted).
    """
    training_runs_reap_interrupted()
    threshold = settings.RETRAIN_AFTER_NEW_RATINGS
    if threshold <= 0 or ratings_count_since_last_run() < threshold:
        return None
    if TrainingRun.objects.filter(status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]).exists():
        return None
    return retrain_enqueue(trigger=TrainingRun.Trigger.NEW_RATINGS).pk
