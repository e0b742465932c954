from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from recommendations.locks import retrain_lock, retrain_lock_is_held
from recommendations.models import Recommendation, StarsItemFactor, TrainingRun
from recommendations.selectors import ratings_count_since_last_run
from recommendations.services import (
    RunNotActivatable,
    training_run_activate,
    training_run_fail_interrupted,
    training_run_fail_lost,
    training_runs_prune,
)
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def _succeeded_run(**kwargs) -> TrainingRun:
    return TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED, finished_at=timezone.now(), **kwargs)


def test_activating_a_run_deactivates_the_previous_one():
    first, second = _succeeded_run(), _succeeded_run()
    training_run_activate(run=first)
    training_run_activate(run=second)
    assert list(TrainingRun.objects.filter(is_active=True)) == [second]


@pytest.mark.parametrize("status", ["failed", "running", "queued", "skipped"])
def test_only_succeeded_runs_can_be_activated(status):
    serving = _succeeded_run()
    training_run_activate(run=serving)
    other = TrainingRun.objects.create(status=status)
    with pytest.raises(RunNotActivatable):
        training_run_activate(run=other)
    assert TrainingRun.objects.get(is_active=True) == serving


def test_database_allows_one_active_run_at_most():
    _succeeded_run(is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        _succeeded_run(is_active=True)


def test_prune_keeps_recent_and_active_runs_and_deletes_older_rows():
    user, movie = UserFactory(), MovieFactory()
    runs = [_succeeded_run() for _ in range(4)]
    for offset, run in enumerate(runs):
        TrainingRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(hours=10 - offset))
        Recommendation.objects.create(run=run, user=user, movie=movie, rank=1, score=4.0)
        StarsItemFactor.objects.create(run=run, movie=movie, bias=0.1, factors=[0.2, 0.3])
    training_run_activate(run=runs[0])  # an old run can be the one serving

    pruned = training_runs_prune(keep=1)  # at least two are always kept

    assert pruned == [runs[1].pk]
    assert set(Recommendation.objects.values_list("run_id", flat=True)) == {runs[0].pk, runs[2].pk, runs[3].pk}
    assert set(StarsItemFactor.objects.values_list("run_id", flat=True)) == {runs[0].pk, runs[2].pk, runs[3].pk}
    with pytest.raises(RunNotActivatable):
        training_run_activate(run=runs[1])


def test_new_ratings_are_counted_from_the_last_runs_snapshot():
    RatingFactory(rated_at=timezone.now() - timedelta(days=2))
    _succeeded_run(ratings_snapshot_at=timezone.now() - timedelta(days=1))
    RatingFactory(rated_at=timezone.now())
    assert ratings_count_since_last_run() == 1


@pytest.mark.django_db(transaction=True)
def test_retrain_lock_is_exclusive_and_released():
    with retrain_lock() as first:
        assert first
        assert retrain_lock_is_held()
        with retrain_lock() as second:
            assert not second
    assert not retrain_lock_is_held()
    with retrain_lock() as again:
        assert again


def test_the_serving_selector_reads_the_active_run_in_one_query(django_assert_num_queries):
    from recommendations.selectors import training_run_active, training_run_serving

    with django_assert_num_queries(1):
        assert training_run_serving() is None
    _succeeded_run(parameters={"list_rank": 4})
    serving = _succeeded_run(parameters={"list_rank": 32, "list_center": 3.0}, global_mean=3.51)
    training_run_activate(run=serving)

    with django_assert_num_queries(1):
        run = training_run_serving()
        assert (run.pk, run.parameters, run.global_mean) == (serving.pk, serving.parameters, 3.51)
    assert run.status == TrainingRun.Status.SUCCEEDED  # any other field is loaded when read
    assert run == training_run_active()


def test_a_run_whose_task_was_given_up_is_failed_unless_it_had_ended():
    queued = TrainingRun.objects.create(status=TrainingRun.Status.QUEUED)
    running = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)
    done = _succeeded_run()

    assert training_run_fail_lost(run_id=queued.pk, error="Lost: died")
    assert training_run_fail_lost(run_id=running.pk, error="Lost: died")
    assert not training_run_fail_lost(run_id=done.pk, error="Lost: died")
    assert not training_run_fail_lost(run_id=done.pk + 1000, error="Lost: died")

    for run in (queued, running, done):
        run.refresh_from_db()
    assert [queued.status, running.status, done.status] == ["failed", "failed", "succeeded"]
    assert queued.error == "Lost: died" and queued.finished_at is not None
    assert done.error == ""


def test_an_evaluation_its_process_left_running_is_failed_and_its_run_serves_on():
    """A retrain holds its lock until the evaluation after its publish ends, so under the lock an evaluation still
    "running" belongs to a dead process: it is failed with a warning, and its published run keeps serving."""
    stuck = _succeeded_run(is_active=True, evaluation=TrainingRun.Evaluation.RUNNING, metrics={"reg_search": {}})
    current = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)
    done = _succeeded_run(evaluation=TrainingRun.Evaluation.SUCCEEDED, metrics={"rmse": 0.9})

    assert training_run_fail_interrupted(except_run=current) == 1
    for run in (stuck, current, done):
        run.refresh_from_db()
    assert stuck.evaluation == TrainingRun.Evaluation.FAILED and stuck.is_active
    assert stuck.status == TrainingRun.Status.SUCCEEDED and "evaluation failed: Interrupted" in stuck.warnings[0]
    assert current.status == TrainingRun.Status.RUNNING
    assert done.evaluation == TrainingRun.Evaluation.SUCCEEDED and done.warnings == []
