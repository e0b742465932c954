"""Faults during a retrain: a run folder that cannot be created, a full disk during export, and a
retrain killed mid-run on the django-q2 task code path.

Each must end with the run failed (or recognisably interrupted), its error saying what went wrong,
nothing of it published, the previous active run still serving and the advisory lock free.
Transactional tests, as in test_pipeline.py: the pipeline commits and locks on its own connection.
"""

import errno
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from recommendations import services
from recommendations.locks import retrain_lock_is_held
from recommendations.models import (
    ItemFactor,
    Recommendation,
    SimilarMovie,
    StarsItemFactor,
    TrainingRun,
    UserFactor,
)
from recommendations.selectors import recommendation_list_for_user_fresh
from spark_engine import pipeline
from spark_engine.pipeline import retrain

from .test_pipeline import _options, _seed_ratings

pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def _published_rows(run) -> int:
    return sum(
        model.objects.filter(run=run).count()
        for model in (Recommendation, SimilarMovie, UserFactor, ItemFactor, StarsItemFactor)
    )


def _served(user) -> list[int]:
    return [item.movie.pk for item in recommendation_list_for_user_fresh(user=user, min_ratings=0).items]


def _assert_failed_cleanly(failed, good, user, served_before, *needles):
    failed.refresh_from_db()
    good.refresh_from_db()
    assert failed.status == TrainingRun.Status.FAILED
    assert failed.finished_at is not None and not failed.is_active
    for needle in needles:
        assert needle in failed.error, failed.error[-2000:]
    assert _published_rows(failed) == 0
    assert list(TrainingRun.objects.filter(is_active=True)) == [good]
    assert _served(user) == served_before
    assert not retrain_lock_is_held()


def test_run_folder_that_cannot_be_created_fails_clearly_and_publishes_nothing(spark, settings, tmp_path):
    users, _ = _seed_ratings()
    good = retrain(options=_options(evaluate=False))
    assert good.status == TrainingRun.Status.SUCCEEDED, good.error
    served_before = _served(users[1])

    # Tests run as root, where permissions stop nothing: a regular file where a folder must be does.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file, not a folder")
    settings.TRAINING_RUNS_DIR = blocker / "runs"
    stages_seen = []
    failed = retrain(options=_options(evaluate=False), on_stage=lambda stage, detail: stages_seen.append(stage))

    _assert_failed_cleanly(failed, good, users[1], served_before, "NotADirectoryError", str(blocker))
    assert stages_seen == ["failed"]  # it never got as far as exporting

    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    after = retrain(options=_options(evaluate=False))
    assert after.status == TrainingRun.Status.SUCCEEDED, after.error
    assert list(TrainingRun.objects.filter(is_active=True)) == [after]


def test_full_disk_during_export_fails_clearly_and_publishes_nothing(spark, monkeypatch):
    users, _ = _seed_ratings()
    good = retrain(options=_options(evaluate=False))
    assert good.status == TrainingRun.Status.SUCCEEDED, good.error
    served_before = _served(users[1])

    def export_until_the_disk_fills(*, path, **kwargs):
        path.write_bytes(b"PAR1 half a file")  # what a writer leaves behind when the disk fills
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(pipeline, "ratings_export_to_parquet", export_until_the_disk_fills)
    failed = retrain(options=_options(evaluate=False))

    _assert_failed_cleanly(failed, good, users[1], served_before, "No space left on device", "ratings.parquet")
    assert failed.export_seconds is None and failed.ratings_count is None

    monkeypatch.undo()
    after = retrain(options=_options(evaluate=False))
    assert after.status == TrainingRun.Status.SUCCEEDED, after.error
    assert list(TrainingRun.objects.filter(is_active=True)) == [after]


@pytest.mark.slow
def test_retrain_task_killed_mid_run_keeps_previous_run_and_is_marked_failed_by_the_next(spark, manage_env):
    """The django-q2 code path (spark_engine.tasks.retrain_task on a queued run), killed with SIGKILL
    after its export, while Spark fits: what happens when the qcluster worker running it dies."""
    users, _ = _seed_ratings()
    good = retrain(options=_options(evaluate=False))
    assert good.status == TrainingRun.Status.SUCCEEDED, good.error
    served_before = _served(users[1])
    queued = services.training_run_create(
        trigger=TrainingRun.Trigger.COMMAND, parameters=asdict(replace(_options(), max_iter=50))
    )

    code = f"from spark_engine.tasks import retrain_task; retrain_task({queued.pk})"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        env=manage_env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            queued.refresh_from_db()
            if queued.status == TrainingRun.Status.RUNNING and queued.export_seconds is not None:
                break  # exported; now in Spark
            assert queued.status in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING), queued.error
            assert proc.poll() is None, "the task ended before it could be killed"
            assert time.monotonic() < deadline, "the task never got past its export"
            time.sleep(0.2)
        assert retrain_lock_is_held()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    # The server frees the dead session's advisory lock as soon as the socket closes.
    deadline = time.monotonic() + 10
    while retrain_lock_is_held():
        assert time.monotonic() < deadline, "the advisory lock is still held after the process died"
        time.sleep(0.1)
    queued.refresh_from_db()
    assert queued.status == TrainingRun.Status.RUNNING  # nobody was left to record the failure ...
    assert _published_rows(queued) == 0
    assert list(TrainingRun.objects.filter(is_active=True)) == [good]
    assert _served(users[1]) == served_before

    after = retrain(options=_options(evaluate=False))  # ... until the next retrain takes the lock

    assert after.status == TrainingRun.Status.SUCCEEDED, after.error
    queued.refresh_from_db()
    assert queued.status == TrainingRun.Status.FAILED and "Interrupted" in queued.error
    assert queued.finished_at is not None and not queued.is_active
    assert list(TrainingRun.objects.filter(is_active=True)) == [after]
