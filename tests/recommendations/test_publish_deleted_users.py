"""A retrain publishes nothing for a user who deleted their account while it ran (recommendations.user_rows).

Spark-free: the result files are written here in the layout spark_engine.stages.write_results gives them.
"""

import threading
import time

import pytest
from django.db import connections

from recommendations.models import ItemFactor, Recommendation, SimilarMovie, TrainingRun, UserFactor
from recommendations.services import training_run_results_load
from recommendations.user_rows import USER_ROWS_LOCK_KEY
from tests.factories import MovieFactory, UserFactory
from yourdata.services import account_delete


def _write(path, lines) -> list:
    path.write_text("".join(f"{line}\n" for line in lines))
    return [path]


def _result_files(tmp_path, run, user_ids, movie_ids) -> dict:
    a, b = movie_ids
    recs = [f"{run.pk},{user},{movie},{rank},4.0" for user in user_ids for rank, movie in enumerate((a, b), 1)]
    half = len(recs) // 2
    return {
        "recommendations": _write(tmp_path / "recs-0.csv", recs[:half]) + _write(tmp_path / "recs-1.csv", recs[half:]),
        "user_factors": _write(tmp_path / "uf.csv", [f'{run.pk},{user},7,"{{0.5,-1.25}}"' for user in user_ids]),
        "item_factors": _write(tmp_path / "if.csv", [f'{run.pk},{movie},"{{1,2}}"' for movie in (a, b)]),
        "similar": _write(tmp_path / "sim.csv", [f"{run.pk},{a},{b},1,0.9"]),
    }


def _rows(run, user_id) -> tuple[int, int]:
    return (
        Recommendation.objects.filter(run=run, user_id=user_id).count(),
        UserFactor.objects.filter(run=run, user_id=user_id).count(),
    )


@pytest.mark.django_db
def test_the_load_drops_rows_of_users_that_no_longer_exist(tmp_path):
    alice, gone = UserFactory(), UserFactory()
    movies = [MovieFactory().pk, MovieFactory().pk]
    gone_id = gone.pk
    account_delete(user=gone)
    run = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)

    counts = training_run_results_load(run=run, files=_result_files(tmp_path, run, [alice.pk, gone_id], movies))

    assert counts == {"recommendations": 2, "user_factors": 1, "item_factors": 2, "similar": 1}
    assert _rows(run, alice.pk) == (2, 1)
    assert _rows(run, gone_id) == (0, 0)
    assert UserFactor.objects.get(run=run, user=alice).factors == [0.5, -1.25]
    assert ItemFactor.objects.filter(run=run).count() == 2 and SimilarMovie.objects.filter(run=run).count() == 1


@pytest.mark.django_db
def test_the_load_finds_deleted_users_in_recommendations_when_no_factors_come_with_them(tmp_path):
    alice = UserFactory()
    movies = [MovieFactory().pk, MovieFactory().pk]
    run = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)
    files = _result_files(tmp_path, run, [alice.pk, 987_654], movies)
    counts = training_run_results_load(run=run, files={"recommendations": files["recommendations"]})
    assert counts == {"recommendations": 2}
    assert _rows(run, 987_654) == (0, 0) and _rows(run, alice.pk) == (2, 0)


def _other_connection():
    wrapper = connections["default"]
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    raw.autocommit = False
    return raw


def _commit_later(raw, seconds=0.5) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), raw.commit(), raw.close()))
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_deletion_committing_during_the_load_still_leaves_no_rows(tmp_path):
    """The deletion holds the lock while the COPY runs: the publish's clean-up waits, then sees the user gone."""
    alice, leaving = UserFactory(), UserFactory()
    movies = [MovieFactory().pk, MovieFactory().pk]
    run = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)
    files = _result_files(tmp_path, run, [alice.pk, leaving.pk], movies)

    deletion = _other_connection()
    with deletion.cursor() as cursor:  # what yourdata.services.accounts_delete does, not yet committed
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [USER_ROWS_LOCK_KEY])
        cursor.execute("DELETE FROM accounts_user WHERE id = %s", [leaving.pk])
    thread = _commit_later(deletion)
    started = time.monotonic()
    training_run_results_load(run=run, files=files)
    thread.join()

    assert time.monotonic() - started >= 0.4  # it waited for the deletion
    assert _rows(run, leaving.pk) == (0, 0)
    assert _rows(run, alice.pk) == (2, 1)


@pytest.mark.django_db(transaction=True)
def test_a_deletion_during_the_publish_waits_and_deletes_the_new_rows(tmp_path):
    """The publish holds the lock until its rows commit: the deletion waits, then deletes them with the rest."""
    leaving = UserFactory()
    movie = MovieFactory()
    run = TrainingRun.objects.create(status=TrainingRun.Status.RUNNING)

    publish = _other_connection()
    with publish.cursor() as cursor:  # a load between its clean-up and its commit
        cursor.execute(
            "INSERT INTO recommendations_recommendation (run_id, user_id, movie_id, rank, score) "
            "VALUES (%s, %s, %s, 1, 4)",
            [run.pk, leaving.pk, movie.pk],
        )
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [USER_ROWS_LOCK_KEY])
    thread = _commit_later(publish)
    account_delete(user=leaving)
    thread.join()

    assert Recommendation.objects.filter(run=run, user_id=leaving.pk).count() == 0
