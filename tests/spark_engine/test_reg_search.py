"""The retrain chooses its own stars regParam on the holdout split (spark_engine.reg_search), warm-started from the
last run's choice; `tune --save` and the command line override it."""

import math

import numpy as np
import pytest

from recommendations.models import TrainingRun, TunedParameters
from recommendations.retrain import RetrainOptions
from recommendations.selectors import reg_param_last_chosen
from spark_engine import fitting, metrics, reg_search
from spark_engine.pipeline import retrain
from tests.spark_engine.test_pipeline import _options, _seed_ratings


def test_next_candidate_steps_past_the_edge_the_best_sits_at_and_stops_inside():
    step = 1.6
    assert reg_search.candidates_next({0.1: 0.9, 0.16: 0.8, 0.256: 0.85}, step) is None
    assert reg_search.candidates_next({0.1: 0.9, 0.16: 0.8, 0.256: 0.7}, step) == pytest.approx(0.256 * step)
    assert reg_search.candidates_next({0.1: 0.6, 0.16: 0.8, 0.256: 0.7}, step) == pytest.approx(0.1 / step)
    # At a bound there is nowhere further to go.
    assert reg_search.candidates_next({reg_search.MIN_REG: 0.6, 0.01: 0.8}, step) is None


def _frame(spark, seed=3, users=60, movies=40):
    rng = np.random.default_rng(seed)
    taste_u, taste_m = rng.normal(size=(users, 3)), rng.normal(size=(movies, 3))
    rows = [
        (u, 1000 + m, float(min(5.0, max(0.5, round((3 + taste_u[u] @ taste_m[m] * 0.7) * 2) / 2))))
        for u in range(users)
        for m in range(movies)
        if rng.random() < 0.5
    ]
    return spark.createDataFrame(rows, "user_id int, movie_id int, rating float")


@pytest.mark.spark
def test_search_picks_the_lowest_holdout_rmse_and_measures_it_as_rmse_of(spark):
    train, test = (part.cache() for part in metrics.split_holdout(_frame(spark), 0.25, seed=1))
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=3, max_iter=5, reg_param=0.15, num_blocks=1), biased=True
    )

    choice, model = reg_search.search_reg_param(train, test, config, start=0.15, max_fits=5)

    regs = [reg for reg, _, _ in choice.trials]
    assert regs[:3] == pytest.approx([0.15, 0.15 / 1.6, 0.15 * 1.6])
    assert 3 <= len(regs) <= 5
    best = min(choice.trials, key=lambda trial: trial[1])
    assert choice.chosen == best[0] and choice.rmse == best[1]
    # The driver-side RMSE of the chosen model is exactly the Spark one every evaluation uses.
    assert math.isclose(choice.rmse, metrics.rmse_of(model, test), rel_tol=1e-6)
    # Past the first three, each fit stepped beyond the edge the best sat at.
    if len(regs) > 3:
        assert regs[3] in (pytest.approx(min(regs[:3]) / 1.6), pytest.approx(max(regs[:3]) * 1.6))


def _search_of(run: TrainingRun) -> dict:
    return run.metrics["reg_search"]


@pytest.mark.spark
@pytest.mark.django_db(transaction=True)
def test_retrain_records_its_choice_and_the_next_retrain_warm_starts_from_it(spark, settings):
    _seed_ratings()

    first = retrain(options=_options())
    first.refresh_from_db()
    assert first.status == TrainingRun.Status.SUCCEEDED, first.error
    chosen = _search_of(first)["chosen"]
    assert _search_of(first)["start"] == pytest.approx(settings.ALS_REG_PARAM)
    assert [t["reg_param"] for t in _search_of(first)["trials"]][0] == pytest.approx(settings.ALS_REG_PARAM)
    # The run trained with the value it chose, and says so in its parameters.
    assert first.parameters["reg_param"] == chosen
    assert first.parameters["reg_search"] is True
    assert reg_param_last_chosen() == chosen

    second = retrain(options=_options())
    second.refresh_from_db()
    assert second.status == TrainingRun.Status.SUCCEEDED, second.error
    assert _search_of(second)["start"] == pytest.approx(chosen)
    assert _search_of(second)["trials"][0]["reg_param"] == pytest.approx(chosen)
    assert second.parameters["reg_param"] == _search_of(second)["chosen"]


@pytest.mark.spark
@pytest.mark.django_db(transaction=True)
def test_a_reg_param_from_the_command_line_or_tune_skips_the_search(spark):
    _seed_ratings()

    run = retrain(options=_options(reg_param=0.2))
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert "reg_search" not in run.metrics
    assert run.parameters["reg_param"] == 0.2 and run.parameters["reg_search"] is False

    TunedParameters.objects.create(rank=3, max_iter=5, reg_param=0.07, cv_rmse=0.9, ratings_count=1, folds=3)
    options = RetrainOptions.from_settings()
    assert options.reg_param == 0.07 and options.reg_search is False
    tuned_run = retrain(options=_options())
    tuned_run.refresh_from_db()
    assert tuned_run.status == TrainingRun.Status.SUCCEEDED, tuned_run.error
    assert "reg_search" not in tuned_run.metrics
    assert tuned_run.parameters["reg_param"] == 0.07


@pytest.mark.django_db
def test_a_queued_run_keeps_its_search_setting():
    options = RetrainOptions.from_settings()
    assert options.reg_search is True
    stored = RetrainOptions.from_stored({"reg_param": 0.3, "reg_search": True})
    assert stored.reg_search is True and stored.reg_param == 0.3
    assert RetrainOptions.from_settings(reg_search=False).reg_search is False
