"""The retrain chooses its own stars regParam on the holdout split (spark_engine.reg_search), warm-started from the
last run's choice; `tune --save` and the command line override it."""

import math
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from ratings.models import Rating
from recommendations.models import TrainingRun, TunedParameters
from recommendations.retrain import RetrainOptions
from recommendations.selectors import reg_param_last_chosen
from spark_engine import fitting, metrics, reg_search
from spark_engine.pipeline import retrain
from tests.spark_engine.test_pipeline import _options, _seed_ratings


def _errors_at(table: dict[float, float], n: int = 400, own_noise: float = 0.001):
    """squared_errors for `walk`: every pair's squared error is the table's mean for that regParam, plus per-pair
    noise shared by all regParams, plus `own_noise` of each regParam's own; records the calls."""
    shared = np.random.default_rng(0).normal(0, 0.1, n)
    calls = []

    def squared_errors(reg):
        calls.append(reg)
        mean = min(table.items(), key=lambda item: abs(math.log(item[0] / reg)))[1]
        return mean + shared + np.random.default_rng(len(calls)).normal(0, own_noise, n)

    return squared_errors, calls


def test_walk_steps_past_the_edge_while_the_data_ask_for_it_and_stops_inside():
    table = {0.1 / 1.6: 0.80, 0.1: 0.78, 0.16: 0.76, 0.256: 0.74, 0.4096: 0.73, 0.65536: 0.75}
    errors, calls = _errors_at(table)
    chosen, tried = reg_search.walk(0.1, errors, step=1.6, max_fits=7)
    assert calls == pytest.approx([0.1, 0.1 / 1.6, 0.16, 0.256, 0.4096, 0.65536])
    assert chosen == pytest.approx(0.4096)
    assert [reg for reg, _ in tried] == calls


def test_walk_keeps_the_start_when_no_neighbour_is_better_beyond_noise():
    errors, calls = _errors_at({0.15 / 1.6: 0.7400, 0.15: 0.7400, 0.24: 0.7390}, own_noise=0.1)
    chosen, _ = reg_search.walk(0.15, errors, step=1.6)
    assert chosen == 0.15 and len(calls) == 3


def test_walk_is_bounded_by_max_fits():
    errors, calls = _errors_at({0.1 * 1.6**i: 1.0 - 0.01 * i for i in range(-2, 12)})
    reg_search.walk(0.1, errors, step=1.6, max_fits=4)
    assert len(calls) == 4


def test_better_beyond_noise_needs_a_difference_larger_than_its_standard_error():
    rng = np.random.default_rng(1)
    base = rng.random(1000)
    assert reg_search.better_beyond_noise(base - 0.01, base)
    assert not reg_search.better_beyond_noise(base, base)
    noisy = base + rng.normal(0, 1.0, 1000)
    assert not reg_search.better_beyond_noise(noisy - 0.001, base)


def _frame(spark, seed=3, users=60, movies=40, *, taste_rank=3, scale=0.7, density=0.5, noise=None, half_steps=True):
    """Ratings 3 + scale * (a `taste_rank` taste) + `noise` (standard deviation; None draws none, 0 draws a zero, as
    the frames the tests were written on did), clipped to 0.5-5 and rounded to half stars unless `half_steps` is False,
    for a `density` share of the (user, movie) pairs."""
    rng = np.random.default_rng(seed)
    taste_u, taste_m = rng.normal(size=(users, taste_rank)), rng.normal(size=(movies, taste_rank))
    rows = []
    for u in range(users):
        for m in range(movies):
            if rng.random() < density:
                value = 3 + taste_u[u] @ taste_m[m] * scale + (rng.normal(0, noise) if noise is not None else 0.0)
                value = float(np.clip(round(value * 2) / 2 if half_steps else value, 0.5, 5.0))
                rows.append((u, 1000 + m, value))
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
    start_rmse = choice.trials[0][1]
    assert choice.rmse <= start_rmse
    # The driver-side RMSE of the chosen model is exactly the Spark one every evaluation uses.
    assert math.isclose(choice.rmse, metrics.rmse_of(model, test), rel_tol=1e-6)
    assert choice.to_dict()["chosen"] == choice.chosen and choice.to_dict()["fits"] == len(regs)


@pytest.mark.spark
def test_above_the_budget_candidates_fit_half_the_iterations_and_the_choice_is_refitted_with_all(spark):
    train, test = (part.cache() for part in metrics.split_holdout(_frame(spark), 0.25, seed=1))
    train_count = train.count()
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=3, max_iter=6, reg_param=0.15, num_blocks=1), biased=True
    )
    fits = []
    real_fit = reg_search.fit_als

    def recording_fit(ratings, params):
        fits.append((params.reg_param, params.max_iter))
        return real_fit(ratings, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reg_search, "fit_als", recording_fit)
        choice, model = reg_search.search_reg_param(
            train,
            test,
            config,
            start=0.15,
            max_fits=3,
            train_count=train_count,
            candidate_max_ratings=train_count - 1,
            rank_max_ratings=0,
        )
        # Under the budget, or keeping a recent choice (one fit), every fit has all the iterations.
        under, _ = reg_search.search_reg_param(
            train,
            test,
            config,
            start=0.15,
            max_fits=3,
            train_count=train_count,
            candidate_max_ratings=train_count,
            rank_max_ratings=0,
        )
        kept, _ = reg_search.search_reg_param(
            train, test, config, start=0.15, max_fits=1, train_count=train_count, candidate_max_ratings=1
        )

    assert [iterations for _, iterations in fits[:4]] == [3, 3, 3, 6] and fits[3][0] == choice.chosen
    assert all(iterations == 6 for _, iterations in fits[4:]) and len(fits) == 4 + 3 + 1
    # The reported RMSE is the refitted model's, as the evaluation measures it.
    assert math.isclose(choice.rmse, metrics.rmse_of(model, test), rel_tol=1e-6)
    assert choice.to_dict()["candidate_iterations"] == 3 and "refit_seconds" in choice.to_dict()
    assert under.refit is None and kept.refit is None and "candidate_iterations" not in under.to_dict()


@pytest.mark.spark
def test_the_list_model_fitted_beside_the_search_is_the_one_fitted_after_it(spark):
    from spark_engine.frames import collect_factors

    ratings = _frame(spark)
    lists = fitting.ListParams(als=fitting.ALSParams(rank=4, max_iter=3, implicit_prefs=True, num_blocks=2))
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=3, max_iter=4, reg_param=0.15, num_blocks=2), biased=True, lists=lists
    )
    alongside, after = metrics.holdout_split(ratings, 0.25, 1), metrics.holdout_split(ratings, 0.25, 1)
    try:
        chosen = metrics.holdout_choose_reg_param(alongside, config, start=0.15, max_fits=3, lists_alongside=True)
        chosen_after = metrics.holdout_choose_reg_param(after, config, start=0.15, max_fits=3)
        assert after.list_users is None  # without it, the blend or the evaluation fits the list model later
        after.list_users, after.list_items = fitting.fit_list_model(after.train, lists)

        assert chosen.chosen == chosen_after.chosen and chosen.rmse == chosen_after.rmse
        for side in ("list_users", "list_items"):
            (ids, matrix), (ids_after, matrix_after) = (
                collect_factors(getattr(split, side), side) for split in (alongside, after)
            )
            assert np.array_equal(ids, ids_after) and np.array_equal(matrix, matrix_after) and matrix.size
    finally:
        alongside.release()
        after.release()


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

    assert _search_of(first)["basis"]["run"] == first.pk and "reused" not in _search_of(first)

    # The same ratings again: the choice is kept and fitted alone, and the record says whose search it rests on.
    second = retrain(options=_options())
    second.refresh_from_db()
    assert second.status == TrainingRun.Status.SUCCEEDED, second.error
    assert _search_of(second)["start"] == pytest.approx(chosen)
    assert _search_of(second)["trials"][0]["reg_param"] == pytest.approx(chosen)
    assert second.parameters["reg_param"] == _search_of(second)["chosen"] == chosen
    assert _search_of(second)["fits"] == 1
    assert _search_of(second)["reused"] == {"changed": 0, "changed_share": 0.0}
    assert _search_of(second)["basis"] == _search_of(first)["basis"]
    assert second.stars_reg_param == f"{chosen:.3g} (kept from run {first.pk}'s search, 1 fit)"

    # A fifth of the ratings re-rated since the first run's search (beyond ALS_REG_SEARCH_REUSE_CHANGE's 5%): the
    # third run searches again, from the kept choice, and becomes the basis of the next.
    ids = list(Rating.objects.order_by("pk").values_list("pk", flat=True))
    Rating.objects.filter(pk__in=ids[::5]).update(value=Decimal("3.0"), rated_at=timezone.now())
    third = retrain(options=_options())
    third.refresh_from_db()
    assert third.status == TrainingRun.Status.SUCCEEDED, third.error
    assert "reused" not in _search_of(third) and _search_of(third)["fits"] >= 3
    assert _search_of(third)["start"] == pytest.approx(chosen)
    assert _search_of(third)["basis"]["run"] == third.pk


@pytest.mark.spark
@pytest.mark.django_db(transaction=True)
def test_reg_search_reuse_change_zero_searches_every_time(spark):
    _seed_ratings()
    for _ in range(2):
        run = retrain(options=_options(reg_search_reuse_change=0.0))
        run.refresh_from_db()
        assert run.status == TrainingRun.Status.SUCCEEDED, run.error
        assert "reused" not in _search_of(run) and _search_of(run)["fits"] >= 3


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
def test_the_search_can_be_turned_off_in_the_settings(settings):
    settings.ALS_REG_SEARCH = False
    assert RetrainOptions.from_settings().reg_search is False
    assert RetrainOptions.from_settings(reg_search=True).reg_search is True


@pytest.mark.django_db
def test_a_queued_run_keeps_its_search_setting():
    options = RetrainOptions.from_settings()
    assert options.reg_search is True
    stored = RetrainOptions.from_stored({"reg_param": 0.3, "reg_search": True})
    assert stored.reg_search is True and stored.reg_param == 0.3
    assert RetrainOptions.from_settings(reg_search=False).reg_search is False


@pytest.mark.spark
def test_the_retrain_search_hands_the_split_size_to_the_budget(spark):
    # The budget only applies when the caller says how many training ratings the split has: the retrain's search
    # (`metrics.holdout_choose_reg_param`) must pass its split's count.
    holdout = metrics.holdout_split(_frame(spark), 0.25, seed=1)
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=3, max_iter=2, reg_param=0.15, num_blocks=1), biased=True
    )
    seen = {}
    real_search = metrics.search_reg_param

    def recording_search(*args, **kwargs):
        seen.update(kwargs)
        return real_search(*args, **kwargs)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(metrics, "search_reg_param", recording_search)
            metrics.holdout_choose_reg_param(holdout, config, start=0.15, max_fits=1)
    finally:
        holdout.release()
    assert seen["train_count"] == holdout.train_count > 0


def _rich_frame(spark, seed=5, users=80, movies=60, taste_rank=6, noise=0.0):
    """Ratings of a rank-6 taste (`taste_rank`), dense and unrounded, plus `noise` (standard deviation): a rank-2
    model leaves most of a rank-6 taste unexplained."""
    return _frame(
        spark, seed, users, movies, taste_rank=taste_rank, scale=0.35, density=0.7, noise=noise, half_steps=False
    )


@pytest.mark.spark
def test_on_small_data_the_search_keeps_a_larger_rank_only_when_it_is_better_beyond_noise(spark):
    train, test = (part.cache() for part in metrics.split_holdout(_rich_frame(spark), 0.25, seed=1))
    train_count = train.count()
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=2, max_iter=8, reg_param=0.05, num_blocks=1), biased=True
    )

    choice, model = reg_search.search_reg_param(
        train, test, config, start=0.05, max_fits=3, train_count=train_count, rank_candidates=(3,)
    )

    # Rank 6 structure: rank 6 explains it, far beyond noise, and is the model handed back and measured.
    assert choice.rank == 6 and choice.rank_start == 2
    assert [rank for rank, _, _ in choice.rank_trials] == [6]
    assert choice.rmse == choice.rank_trials[0][1] < choice.reg_rmse - 0.05
    assert math.isclose(choice.rmse, metrics.rmse_of(model, test), rel_tol=1e-6)
    assert choice.to_dict()["rank"] == 6 and choice.to_dict()["rank_trials"][0]["rank"] == 6

    # Above the rank budget, keeping a recent choice (one fit), or turned off: the configured rank, no rank fit.
    for kwargs in (
        {"max_fits": 3, "rank_max_ratings": train_count - 1},
        {"max_fits": 1},
        {"max_fits": 3, "rank_max_ratings": 0},
    ):
        off, off_model = reg_search.search_reg_param(
            train, test, config, start=0.05, train_count=train_count, rank_candidates=(3,), **kwargs
        )
        assert off.rank is None and off.rank_trials == [] and "rank" not in off.to_dict()
        assert math.isclose(off.rmse, metrics.rmse_of(off_model, test), rel_tol=1e-6)


@pytest.mark.spark
def test_a_larger_rank_that_does_not_help_beyond_noise_is_not_kept(spark):
    # Rank-1 taste and noise: a rank-1 model explains all there is to explain; rank 4 only fits the noise.
    frame = _rich_frame(spark, taste_rank=1, noise=0.5)
    train, test = (part.cache() for part in metrics.split_holdout(frame, 0.25, seed=1))
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=1, max_iter=8, reg_param=0.05, num_blocks=1), biased=True
    )

    choice, model = reg_search.search_reg_param(
        train, test, config, start=0.05, max_fits=3, train_count=train.count(), rank_candidates=(4,)
    )

    assert [rank for rank, _, _ in choice.rank_trials] == [4]
    assert choice.rank == 1 and choice.rmse == choice.reg_rmse
    assert math.isclose(choice.rmse, metrics.rmse_of(model, test), rel_tol=1e-6)


@pytest.mark.spark
@pytest.mark.django_db(transaction=True)
def test_the_retrain_fits_publishes_and_records_the_rank_its_search_chose(spark):
    from recommendations.models import StarsItemFactor

    _seed_ratings()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reg_search, "RANK_CANDIDATES", (3,))
        run = retrain(options=_options(rank=1, rank_search=True, reg_search_reuse_change=0.0))
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    search = _search_of(run)
    assert search["rank_start"] == 1 and [t["rank"] for t in search["rank_trials"]] == [3]
    # Whichever rank won on this split, the run fitted, published and says the one its search recorded.
    rank = search["rank"]
    assert rank in (1, 3) and run.parameters["rank"] == rank
    width = len(StarsItemFactor.objects.filter(run=run).first().factors)
    assert width == rank + (run.parameters["list_rank"] if run.parameters["stars_list_weight"] > 0 else 0)
    label = "; rank 3 (chosen over 1)" if rank == 3 else "; rank 1 (3 no better)"
    assert run.stars_reg_param.endswith(label)


@pytest.mark.django_db
def test_a_rank_from_the_command_line_or_tune_is_not_searched(settings):
    assert RetrainOptions.from_settings().rank_search is True
    settings.ALS_RANK_SEARCH = False
    assert RetrainOptions.from_settings().rank_search is False
    settings.ALS_RANK_SEARCH = True
    assert RetrainOptions.from_settings(rank=24).rank_search is False
    TunedParameters.objects.create(pk=1, rank=24, max_iter=5, reg_param=0.07, cv_rmse=0.9, ratings_count=1, folds=3)
    assert RetrainOptions.from_settings().rank_search is False


@pytest.mark.spark
def test_evaluate_chooses_the_rank_as_a_retrain_does_and_refits_the_choice(spark):
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=2, max_iter=8, reg_param=0.05, num_blocks=1), biased=True
    )
    frame = _rich_frame(spark).cache()
    searched = metrics.evaluate_protocol(
        frame, {"d": config}, ranks=(2,), reg_starts={"d": 0.05}, rank_search=("d",), num_blocks=1
    )["configs"]["d"]
    fixed = metrics.evaluate_protocol(frame, {"d": config}, ranks=(2,), reg_starts={"d": 0.05}, num_blocks=1)
    fixed = fixed["configs"]["d"]

    # The rank-6 taste: twice rank 2 wins on validation, and the refit on train+validation is at rank 4.
    assert searched["reg_search"]["rank"] == 4 == searched["config"]["ratings"]["rank"]
    assert searched["test_rmse_refit"] < fixed["test_rmse_refit"]
    # Not named in rank_search: no rank is tried.
    assert "rank" not in fixed["reg_search"] and fixed["config"]["ratings"]["rank"] == 2
