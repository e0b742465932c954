"""The real retrain end to end: PostgreSQL → Parquet → local Spark → COPY → active run.

Transactional tests: the pipeline commits (export snapshot, run progress, publish) and takes
its lock on a connection of its own, as in production.
"""

import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Avg

from accounts.models import User
from catalog.models import Movie
from ratings.models import Rating
from ratings.selectors import not_interested_movie_ids
from ratings.services import movie_stats_refresh, not_interested_add, rating_upsert
from recommendations import foldin, selectors
from recommendations.models import (
    ItemFactor,
    Recommendation,
    SimilarMovie,
    StarsItemFactor,
    StarsUserFactor,
    TrainingRun,
    UserFactor,
)
from recommendations.retrain import RetrainOptions
from recommendations.selectors import ratings_count_since_last_run, recommendation_list_for_user_fresh
from spark_engine import stages
from spark_engine.pipeline import retrain

pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TOP_N = 6
SIMILAR_K = 3


def _seed_ratings(n_users=24, n_movies=30, seed=7):
    """Users with latent tastes rate about half the movies; one user rates all but three."""
    rng = np.random.default_rng(seed)
    users = User.objects.bulk_create(User(username=f"u{i}", password="!") for i in range(n_users))
    movies = Movie.objects.bulk_create(Movie(id=100 + j, title=f"Film {j} (1999)", year=1999) for j in range(n_movies))
    taste_u, taste_m = rng.normal(size=(n_users, 3)), rng.normal(size=(n_movies, 3))
    rows = []
    for i, user in enumerate(users):
        for j, movie in enumerate(movies):
            heavy = i == 0 and j >= 3
            if heavy or (i != 0 and rng.random() < 0.5):
                raw = 3 + taste_u[i] @ taste_m[j] * 0.6
                value = Decimal(str(min(5.0, max(0.5, round(raw * 2) / 2))))
                rows.append(Rating(user=user, movie=movie, value=value, rated_at="2024-01-01T00:00Z"))
    Rating.objects.bulk_create(rows)
    return users, movies


def _options(**overrides):
    return RetrainOptions.from_settings(
        **{
            "rank": 3,
            "max_iter": 5,
            "list_rank": 4,
            "list_max_iter": 5,
            "top_n": TOP_N,
            "similar_k": SIMILAR_K,
            "holdout_fraction": 0.25,
            **overrides,
        }
    )


def test_retrain_publishes_every_users_top_n_without_rated_movies(spark, tmp_path):
    users, movies = _seed_ratings()
    stages_seen = []

    run = retrain(options=_options(), on_stage=lambda stage, detail: stages_seen.append(stage))

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.is_active
    assert stages_seen == ["export", "fit", "content map", "top-N", "publish", "evaluate"]
    assert run.evaluation == TrainingRun.Evaluation.SUCCEEDED
    assert run.ratings_count == Rating.objects.count()
    assert run.users_count == len(users) and run.movies_count == len(movies)
    for key in ("rmse", "precision_at_10", "recall_at_10", "ndcg_at_10"):
        assert np.isfinite(run.metrics[key]), key
        assert np.isfinite(run.metrics["popularity"][key.replace("rmse", "ndcg_at_10")])
    assert all(
        getattr(run, f"{stage}_seconds") is not None for stage in ("export", "fit", "evaluate", "topn", "publish")
    )

    rated = set(Rating.objects.values_list("user_id", "movie_id"))
    for user in users:
        recs = list(Recommendation.objects.filter(run=run, user=user).order_by("rank"))
        unrated = len(movies) - sum(1 for u, _ in rated if u == user.pk)
        assert len(recs) == min(TOP_N, unrated), user.username
        assert [r.rank for r in recs] == list(range(1, len(recs) + 1))
        assert not any((user.pk, r.movie_id) in rated for r in recs)
        assert all(0.5 <= r.score <= 5.0 for r in recs)  # predicted stars; the order is the list model's
    assert Recommendation.objects.filter(run=run, user=users[0]).count() == 3  # only three unrated

    assert SimilarMovie.objects.filter(run=run).count() == len(movies) * SIMILAR_K
    assert not SimilarMovie.objects.filter(run=run, movie_id=models_f("similar_id")).exists()
    assert UserFactor.objects.filter(run=run).count() == len(users)
    factors = ItemFactor.objects.filter(run=run).values_list("factors", flat=True)
    assert len(factors) == len(movies) and all(len(f) == 4 for f in factors)  # the list model's rank
    stars = StarsItemFactor.objects.filter(run=run).values_list("factors", flat=True)
    assert len(stars) == len(movies) and all(len(f) == 3 for f in stars)  # the stars model's rank
    stars_users = StarsUserFactor.objects.filter(run=run).values_list("factors", flat=True)
    assert len(stars_users) == len(users) and all(len(f) == 3 for f in stars_users)  # for the item fold-in
    mean = float(Rating.objects.aggregate(mean=Avg("value"))["mean"])
    assert run.global_mean == pytest.approx(mean, abs=1e-6)
    assert run.rows_written == (
        Recommendation.objects.filter(run=run).count()
        + SimilarMovie.objects.filter(run=run).count()
        + 2 * len(users)
        + 2 * len(movies)
    )


def test_the_site_folds_users_in_exactly_as_the_retrain_fitted_them(spark):
    """Fold-in of a user's training ratings reproduces the published models: the list model's user factors
    and the stars the retrain stored with each recommendation (Spark's last ALS step solves each user given
    the final item factors, and the bias passes end with the user biases)."""
    users, _ = _seed_ratings()
    run = retrain(options=_options(evaluate=False), on_stage=lambda stage, detail: None)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error

    items = foldin.item_factors_for_run(run)
    stars = foldin.stars_model_for_run(run)
    assert items.implicit_prefs and items.center == 3.0 and stars is not None
    checked = 0
    for user in users:
        ratings = {m: float(v) for m, v in Rating.objects.filter(user=user).values_list("movie_id", "value")}
        published = UserFactor.objects.get(run=run, user=user).factors
        vector = foldin.user_vector(factors=items, ratings=ratings)
        if vector is None:  # nothing rated above the centre: Spark's factors are all zero
            assert np.allclose(published, 0, atol=1e-6)
            continue
        np.testing.assert_allclose(vector.x, published, rtol=2e-3, atol=2e-4)
        recs = list(Recommendation.objects.filter(run=run, user=user).order_by("rank"))
        predicted = foldin.predict_stars(model=stars, ratings=ratings, movie_ids=[r.movie_id for r in recs])
        np.testing.assert_allclose(predicted, [r.score for r in recs], atol=2e-3)
        checked += 1
    assert checked >= len(users) // 2


def test_stored_rows_serve_unchanged_users_the_fold_ins_list_and_stars(spark, monkeypatch):
    """For a user whose ratings and hidden movies are those of the run's export, the stored top-N is what a
    fold-in gives (same movies, same order, same stars), with or without the minimum-ratings filter, in one
    query; hidden movies are left out of it by the retrain; a user who rates is folded in at once."""
    users, movies = _seed_ratings()
    hider = users[1]
    rated = set(Rating.objects.filter(user=hider).values_list("movie_id", flat=True))
    hidden = [m for m in movies if m.pk not in rated][:8]  # leaves TOP_N or so unrated and unhidden
    for movie in hidden:
        not_interested_add(user=hider, movie=movie)
    run = retrain(options=_options(evaluate=False), on_stage=lambda stage, detail: None)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    movie_stats_refresh()  # rating counts, for the minimum-ratings filter
    assert not Recommendation.objects.filter(run=run, user=hider, movie__in=hidden).exists()

    folded_in = []
    real_recommend = selectors.recommend_for_user

    def recommend(**kwargs):
        folded_in.append(kwargs["user"].pk)
        return real_recommend(**kwargs)

    monkeypatch.setattr(selectors, "recommend_for_user", recommend)
    filtered_from_stored = 0
    for user in users:
        user.refresh_from_db()
        version = UserFactor.objects.get(run=run, user=user).taste_version
        for limit, min_ratings in ((TOP_N, 0), (3, 0), (3, 12)):
            folded_in.clear()
            served = recommendation_list_for_user_fresh(user=user, limit=limit, min_ratings=min_ratings)
            expected = real_recommend(
                user=user,
                run=run,
                exclude_movie_ids=not_interested_movie_ids(user=user),
                limit=limit,
                min_ratings=min_ratings,
            )
            if expected is None:  # nothing rated above the list model's centre: popular movies on either path
                assert version is None and not served.personal
                continue
            assert version == user.taste_version
            if min_ratings == 0:
                assert folded_in == [], "the stored rows must serve an unchanged user"
            else:  # served from the stored rows when enough of them pass the filter
                filtered_from_stored += not folded_in
            assert [item.movie.pk for item in served.items] == [s.movie_id for s in expected], user.username
            np.testing.assert_allclose([item.score for item in served.items], [s.score for s in expected], atol=2e-3)
    assert filtered_from_stored > 0

    changed = users[2]
    first = recommendation_list_for_user_fresh(user=changed, limit=3, min_ratings=0).items[0].movie
    rating_upsert(user=changed, movie=first, value=4)
    folded_in.clear()
    after = recommendation_list_for_user_fresh(user=changed, limit=3, min_ratings=0)
    assert folded_in == [changed.pk] and first not in [item.movie for item in after.items]


def _served(user) -> list[int]:
    return [item.movie.pk for item in recommendation_list_for_user_fresh(user=user, min_ratings=0).items]


def models_f(name):
    from django.db.models import F

    return F(name)


def test_new_run_replaces_the_active_one_and_old_runs_are_pruned(spark, settings):
    settings.TRAINING_RUNS_KEEP = 2
    _seed_ratings()
    first = retrain(options=_options(evaluate=False))
    second = retrain(options=_options(evaluate=False, seed=1))
    third = retrain(options=_options(evaluate=False, seed=2))

    assert list(TrainingRun.objects.filter(is_active=True)) == [third]
    assert set(Recommendation.objects.values_list("run_id", flat=True).distinct()) == {second.pk, third.pk}
    first.refresh_from_db()
    assert first.pruned_at is not None
    assert not services_run_dir(first).exists()
    assert services_run_dir(third).exists()


def services_run_dir(run):
    from recommendations.services import training_run_dir

    return training_run_dir(run_id=run.pk)


def test_failure_mid_run_keeps_the_previous_run_serving(spark, monkeypatch):
    users, _ = _seed_ratings()
    good = retrain(options=_options(evaluate=False))
    served_before = _served(users[1])

    def broken_results(**kwargs):
        raise RuntimeError("injected: executor lost")

    monkeypatch.setattr(stages, "write_results", broken_results)
    failed = retrain(options=_options(evaluate=False))

    failed.refresh_from_db()
    good.refresh_from_db()
    assert failed.status == TrainingRun.Status.FAILED
    assert "injected: executor lost" in failed.error
    assert not failed.is_active and failed.finished_at is not None
    assert good.is_active
    assert not Recommendation.objects.filter(run=failed).exists()
    assert _served(users[1]) == served_before


def test_failure_while_loading_results_leaves_no_rows_and_previous_run_active(spark, monkeypatch):
    _seed_ratings()
    good = retrain(options=_options(evaluate=False))
    from recommendations import services

    real_load = services.training_run_results_load

    def load_then_fail(*, run, files):
        real_load(run=run, files=files)
        raise RuntimeError("injected: connection lost during publish")

    monkeypatch.setattr(services, "training_run_results_load", load_then_fail)
    failed = retrain(options=_options(evaluate=False))

    assert TrainingRun.objects.get(is_active=True) == good
    assert TrainingRun.objects.get(pk=failed.pk).status == TrainingRun.Status.FAILED
    assert not Recommendation.objects.filter(run=failed).exists()


def test_the_run_serves_before_its_evaluation_and_the_figures_reach_it_after(spark):
    """The holdout evaluation runs after the publish: when the publish is reported the run already serves, its
    evaluation is "running" and it has no figures yet; they arrive on the run when the evaluation ends. A first run
    searches its stars regParam before the fit, so the evaluation measures the model the search chose on the same
    split; the next run on the same ratings keeps that choice with no search before its publish."""
    users, _ = _seed_ratings()
    at_publish = {}

    def on_stage(stage, detail):
        if stage == "publish":
            run = TrainingRun.objects.get(status=TrainingRun.Status.SUCCEEDED, is_active=True)
            at_publish[run.pk] = (run.evaluation, dict(run.metrics), Recommendation.objects.filter(run=run).exists())

    first = retrain(options=_options(), on_stage=on_stage)
    first.refresh_from_db()
    evaluation, metrics_then, serving = at_publish[first.pk]
    assert evaluation == TrainingRun.Evaluation.RUNNING and serving
    assert "rmse" not in metrics_then and metrics_then["reg_search"]["fits"] >= 3  # searched before the fit
    assert first.evaluation == TrainingRun.Evaluation.SUCCEEDED and first.evaluate_seconds is not None
    assert first.metrics["rmse"] == first.metrics["reg_search"]["rmse"]  # the chosen model, on the same split
    assert np.isfinite(first.metrics["ndcg_at_10"]) and first.metrics["reg_search"]["basis"]["run"] == first.pk
    assert first.duration_seconds is not None  # start to publish

    second = retrain(options=_options(), on_stage=on_stage)
    second.refresh_from_db()
    evaluation, metrics_then, _ = at_publish[second.pk]
    assert evaluation == TrainingRun.Evaluation.RUNNING
    assert "trials" not in metrics_then["reg_search"] and metrics_then["reg_search"]["reused"]["changed"] == 0
    assert second.parameters["reg_param"] == first.metrics["reg_search"]["chosen"]
    assert second.evaluation == TrainingRun.Evaluation.SUCCEEDED
    search = second.metrics["reg_search"]
    assert search["fits"] == 1 and len(search["trials"]) == 1 and search["rmse"] == second.metrics["rmse"]
    assert search["basis"] == first.metrics["reg_search"]["basis"]
    assert TrainingRun.objects.get(is_active=True) == second


def test_a_failed_evaluation_leaves_the_run_published_and_says_so(spark, monkeypatch):
    users, _ = _seed_ratings()

    def broken(*args, **kwargs):
        raise RuntimeError("injected: evaluation lost its executor")

    monkeypatch.setattr(stages, "evaluate_holdout", broken)
    lines = []
    run = retrain(options=_options(), on_stage=lambda stage, detail: lines.append((stage, detail)))

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.is_active
    assert run.evaluation == TrainingRun.Evaluation.FAILED
    assert any("injected: evaluation lost its executor" in w for w in run.warnings)
    assert "rmse" not in run.metrics and run.metrics["reg_search"]["chosen"] > 0  # the choice the fit used stays
    assert Recommendation.objects.filter(run=run, user=users[1]).exists()
    assert lines[-1][0] == "evaluate" and "serves on" in lines[-1][1]


def test_concurrent_triggers_produce_one_run(spark):
    _seed_ratings()
    results = []

    def trigger():
        try:
            results.append(retrain(options=_options(evaluate=False)).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [TrainingRun.Status.SKIPPED, TrainingRun.Status.SUCCEEDED]
    assert TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED).count() == 1
    skipped = TrainingRun.objects.get(status=TrainingRun.Status.SKIPPED)
    assert "Another retrain" in skipped.error


def test_ratings_written_during_a_run_are_kept_and_count_towards_the_next(spark):
    users, movies = _seed_ratings()
    newcomer = User.objects.create(username="newcomer", password="!")

    def rate_while_training(stage, detail):
        if stage == "export":  # the snapshot is taken; the run goes on with Spark
            Rating.objects.create(user=newcomer, movie=movies[0], value=Decimal("4.5"), rated_at=_now())
            Rating.objects.filter(user=users[1]).exclude(movie=movies[0]).first()

    run = retrain(options=_options(evaluate=False), on_stage=rate_while_training)

    assert run.status == TrainingRun.Status.SUCCEEDED
    assert Rating.objects.filter(user=newcomer, movie=movies[0], value=Decimal("4.5")).exists()
    assert not Recommendation.objects.filter(run=run, user=newcomer).exists()  # not in the snapshot
    assert ratings_count_since_last_run() == 1


def _now():
    from django.utils import timezone

    return timezone.now()


def test_retrain_without_ratings_fails_clearly(spark):
    run = retrain(options=_options())
    assert run.status == TrainingRun.Status.FAILED
    assert "no ratings" in run.error


def test_enqueued_retrain_runs_on_the_task_queue(spark, capsys):
    _seed_ratings()
    call_command("retrain", "--enqueue", "--rank", "3", "--max-iter", "3", "--no-evaluate")
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.is_active  # Q_CLUSTER sync in tests


@pytest.mark.slow
def test_killing_a_retrain_leaves_no_stuck_lock(spark, manage_env):
    _seed_ratings()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "retrain", "--rank", "3", "--max-iter", "50"],
        env=manage_env,
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING).exists():
            assert proc.poll() is None, "the retrain ended before it could be killed"
            assert time.monotonic() < deadline, "the retrain never started"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    run = retrain(options=_options(evaluate=False))

    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    killed = TrainingRun.objects.exclude(pk=run.pk).get()
    assert killed.status == TrainingRun.Status.FAILED and "Interrupted" in killed.error


@pytest.mark.parametrize("blend", [True, False])
def test_retrain_publishes_the_stars_blend_its_evaluation_chose(spark, blend):
    """The evaluation chooses the list score's blend into the stars on its holdout split; the run records it and
    the fit stage publishes it (stars terms with the list model's columns appended), and the site's fold-in gives
    the published stars. ALS_STARS_BLEND off: no choice, the stars model alone."""
    users, _ = _seed_ratings(n_users=60, n_movies=40, seed=3)
    # A rank-1 stars model leaves part of these rank-3 tastes unexplained; the list model (rank 4) learns them from
    # which movies each user rated above or below 3.
    run = retrain(options=_options(rank=1, stars_blend=blend), on_stage=lambda stage, detail: None)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error

    chosen = run.metrics.get("stars_blend")
    if not blend:
        assert chosen is None and run.parameters["stars_list_weight"] == 0.0
    else:
        assert chosen["kept"], chosen  # these tastes are what the list model learns from who rated what
        assert chosen["rmse"] < chosen["rmse_before"] and run.metrics["rmse"] == chosen["rmse"]
        assert run.parameters["stars_list_weight"] == chosen["list_weight"] > 0
        assert run.parameters["stars_list_offset"] == chosen["offset"]
    width = 1 + (4 if blend else 0)  # the stars rank, plus the list rank when blended
    stars = StarsItemFactor.objects.filter(run=run).values_list("factors", flat=True)
    assert {len(f) for f in stars} == {width}
    assert {len(f) for f in StarsUserFactor.objects.filter(run=run).values_list("factors", flat=True)} == {width}

    model = foldin.stars_model_for_run(run)
    for user in users[:10]:
        ratings = {m: float(v) for m, v in Rating.objects.filter(user=user).values_list("movie_id", "value")}
        recs = list(Recommendation.objects.filter(run=run, user=user).order_by("rank"))
        predicted = foldin.predict_stars(model=model, ratings=ratings, movie_ids=[r.movie_id for r in recs])
        np.testing.assert_allclose(predicted, [r.score for r in recs], atol=2e-3)


def _retrain_watching_splits(monkeypatch, **overrides):
    """Retrain with `overrides`, returning the run and the stage lines with "<split>" where a holdout split was
    made (so a test sees whether the publish came before any split)."""
    from spark_engine import metrics

    events = []
    split = metrics.holdout_split

    def watched(*args, **kwargs):
        events.append(("<split>", ""))
        return split(*args, **kwargs)

    monkeypatch.setattr(metrics, "holdout_split", watched)
    run = retrain(options=_options(rank=1, **overrides), on_stage=lambda stage, detail: events.append((stage, detail)))
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return run, events


def _stages(events):
    return [stage for stage, _ in events]


def _stars_width(run):
    return {len(f) for f in StarsUserFactor.objects.filter(run=run).values_list("factors", flat=True)}


def test_a_kept_reg_param_keeps_the_last_runs_blend_and_the_evaluation_measures_it_blended(spark, monkeypatch):
    """A run that keeps the last regParam choice keeps that run's blend too: it publishes before any holdout split
    is made, records where the blend came from, and its evaluation after the publish measures the blended model."""
    _seed_ratings(n_users=60, n_movies=40, seed=3)
    first, events = _retrain_watching_splits(monkeypatch)
    # The search's split is made before the fit, and the blend is chosen on it.
    assert _stages(events).index("<split>") < _stages(events).index("fit")
    chosen = first.metrics["stars_blend"]
    assert chosen["kept"] and "reused" not in chosen and chosen["basis"] == {"run": first.pk}

    second, events = _retrain_watching_splits(monkeypatch)
    assert second.metrics["reg_search"]["reused"]  # the same ratings: the regParam choice is kept
    assert _stages(events).index("publish") < _stages(events).index("<split>") < _stages(events).index("evaluate")
    fit_line = dict(events)["fit"]
    assert f"kept from run {first.pk}'s choice" in fit_line, fit_line
    kept = second.metrics["stars_blend"]
    assert kept["reused"] and kept["basis"] == {"run": first.pk}
    assert (kept["list_weight"], kept["offset"]) == (chosen["list_weight"], chosen["offset"])
    assert second.parameters["stars_list_weight"] == chosen["list_weight"]
    assert second.parameters["stars_list_offset"] == chosen["offset"]
    assert _stars_width(second) == {1 + 4}
    # Measured after the publish, on this run's split: the blended model's RMSE, next to the stars model alone.
    assert kept["rmse"] == second.metrics["rmse"] != second.metrics["stars_rmse_unblended"] == kept["rmse_before"]
    assert kept["rmse_before"] == pytest.approx(second.metrics["reg_search"]["rmse"], rel=1e-9)
    assert second.stars_blend.startswith(f"list weight {chosen['list_weight']:.3g}")
    assert f"kept from run {first.pk}'s choice" in second.stars_blend

    # A third run keeps it again, from the run that chose it.
    third, _ = _retrain_watching_splits(monkeypatch)
    assert third.metrics["stars_blend"]["basis"] == {"run": first.pk}


def test_no_evaluate_reuses_the_last_runs_blend_or_serves_the_stars_alone(spark, monkeypatch):
    """Without an evaluation there is no split to choose a blend on: the last run's blend is kept when there is
    one, else the stars model stands alone."""
    _seed_ratings(n_users=60, n_movies=40, seed=3)
    alone, events = _retrain_watching_splits(monkeypatch, evaluate=False)
    assert "<split>" not in _stages(events)
    assert "stars_blend" not in alone.metrics and alone.parameters["stars_list_weight"] == 0.0
    assert _stars_width(alone) == {1}

    chosen = _retrain_watching_splits(monkeypatch)[0].metrics["stars_blend"]
    assert chosen["kept"]

    reused, events = _retrain_watching_splits(monkeypatch, evaluate=False)
    assert "<split>" not in _stages(events)
    blend = reused.metrics["stars_blend"]
    assert blend["reused"] and (blend["list_weight"], blend["offset"]) == (chosen["list_weight"], chosen["offset"])
    assert reused.parameters["stars_list_weight"] == chosen["list_weight"] > 0
    assert _stars_width(reused) == {1 + 4}


def test_a_kept_reg_param_with_no_blend_to_keep_chooses_one_before_the_fit(spark, monkeypatch):
    """The last run chose its regParam with the blend off: the next run keeps the regParam but has no blend to
    keep, so it makes the split before the fit (the kept regParam's one fit) and chooses the blend there."""
    _seed_ratings(n_users=60, n_movies=40, seed=3)
    first, _ = _retrain_watching_splits(monkeypatch, stars_blend=False)
    assert "stars_blend" not in first.metrics and first.stars_blend == "off"

    second, events = _retrain_watching_splits(monkeypatch)
    assert second.metrics["reg_search"]["reused"] and second.metrics["reg_search"]["fits"] == 1
    assert _stages(events).count("<split>") == 1 and _stages(events).index("<split>") < _stages(events).index("fit")
    blend = second.metrics["stars_blend"]
    assert blend["kept"] and "reused" not in blend and blend["basis"] == {"run": second.pk}
    assert second.metrics["rmse"] == blend["rmse"] < blend["rmse_before"]
    assert blend["rmse_before"] == pytest.approx(second.metrics["reg_search"]["rmse"], rel=1e-9)


def test_with_the_reg_search_off_the_blend_is_chosen_on_a_split_before_the_fit(spark, monkeypatch):
    _seed_ratings(n_users=60, n_movies=40, seed=3)
    run, events = _retrain_watching_splits(monkeypatch, reg_search=False)
    assert "reg_search" not in run.metrics
    assert _stages(events).index("<split>") < _stages(events).index("fit")
    blend = run.metrics["stars_blend"]
    assert blend["kept"] and run.metrics["rmse"] == blend["rmse"]
    assert run.parameters["stars_list_weight"] == blend["list_weight"] > 0
