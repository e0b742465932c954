"""Cross-validated tuning: the grid search on Spark, and `manage.py tune` saving the retrain's defaults."""

import io
import math

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from recommendations.models import EvaluationReport, TunedParameters
from recommendations.retrain import RetrainOptions
from spark_engine import fitting, tuning
from spark_engine.fitting import ALSParams
from tests.spark_engine.test_pipeline import _seed_ratings

pytestmark = pytest.mark.spark


def test_cross_validation_ranks_a_sensible_regularisation_above_a_crushing_one(spark):
    rng = np.random.default_rng(11)
    users, movies = rng.normal(0, 0.8, (50, 2)), rng.normal(0, 0.8, (40, 2))
    u, m = np.nonzero(rng.random((50, 40)) < 0.6)
    ratings = spark.createDataFrame(
        pd.DataFrame(
            {
                "user_id": (u + 1).astype(np.int32),
                "movie_id": (m + 1).astype(np.int32),
                "rating": (3 + np.einsum("ij,ij->i", users[u], movies[m])).astype(np.float32),
            }
        ),
        "user_id int, movie_id int, rating float",
    )
    grid = tuning.parameter_grid(ALSParams(num_blocks=2), ranks=[2], reg_params=[5.0, 0.05], max_iters=[6])
    fits = []

    results = tuning.cross_validate(ratings, grid, folds=3, seed=1, on_fit=lambda p, f, e: fits.append((p, f, e)))

    assert [r.reg_param for r in results] == [0.05, 5.0]  # best first
    assert results[0].rmse < 0.8 * results[1].rmse
    assert all(len(r.fold_rmse) == 3 and math.isfinite(r.rmse) for r in results)
    assert len(fits) == 6
    with pytest.raises(ValueError, match="folds"):
        tuning.cross_validate(ratings, grid, folds=1)
    with pytest.raises(ValueError, match="at least one"):
        tuning.parameter_grid(ALSParams(), ranks=[], reg_params=[0.1], max_iters=[5])


def _taste_ratings(spark, seed=11):
    rng = np.random.default_rng(seed)
    users, movies = rng.normal(0, 0.8, (50, 2)), rng.normal(0, 0.8, (40, 2))
    u, m = np.nonzero(rng.random((50, 40)) < 0.6)
    frame = pd.DataFrame(
        {
            "user_id": (u + 1).astype(np.int32),
            "movie_id": (m + 1).astype(np.int32),
            "rating": np.clip(3 + np.einsum("ij,ij->i", users[u], movies[m]), 0.5, 5).astype(np.float32),
        }
    )
    return spark.createDataFrame(frame, "user_id int, movie_id int, rating float")


def test_stars_model_cross_validation_scores_biased_als(spark):
    ratings = _taste_ratings(spark)
    grid = tuning.parameter_grid(ALSParams(num_blocks=2), ranks=[2], reg_params=[0.05, 5.0], max_iters=[5])

    results = tuning.cross_validate(ratings, grid, folds=2, seed=3, biases=(5.0, 3.0))

    assert [r.reg_param for r in results] == [0.05, 5.0]
    # A crushing regParam leaves the biases: far better than plain ALS crushed to zero, still worse than tuned.
    plain_crushed = tuning.cross_validate(ratings, grid[1:], folds=2, seed=3)[0]
    assert results[0].rmse < results[1].rmse < plain_crushed.rmse


def test_list_model_cross_validation_ranks_by_ndcg_best_first(spark):
    ratings = _taste_ratings(spark)
    base = fitting.ListParams(als=ALSParams(rank=2, max_iter=5, implicit_prefs=True, alpha=2.0, num_blocks=2))
    grid = tuning.list_parameter_grid(base, ranks=[2], reg_params=[0.1, 1e6], alphas=[2.0], max_iters=[5])
    fits = []

    results = tuning.cross_validate_lists(ratings, grid, folds=2, seed=3, on_fit=lambda p, f, n: fits.append(n))

    assert [r.reg_param for r in results] == [0.1, 1e6]  # a crushing regParam leaves no signal
    assert results[0].ndcg > results[1].ndcg and results[0].ndcg > results[0].popularity_ndcg
    assert len(fits) == 4 and all(len(r.fold_ndcg) == 2 for r in results)
    assert results[0].to_dict()["fold_ndcg"] == list(results[0].fold_ndcg)
    with pytest.raises(ValueError, match="at least one"):
        tuning.list_parameter_grid(base, ranks=[2], reg_params=[0.1], alphas=[], max_iters=[5])


@pytest.mark.django_db(transaction=True)
def test_tune_lists_saves_the_list_model_and_keeps_the_stars_part(spark, settings, tmp_path):
    settings.TRAINING_RUNS_DIR = tmp_path
    _seed_ratings()
    out = io.StringIO()

    call_command(
        "tune", "--lists", "--ranks", "2", "--reg-params", "0.1,1000000", "--alphas", "1", "--max-iters", "3",
        "--folds", "2", "--save", "--no-progress", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip

    lines = out.getvalue().splitlines()
    assert lines[0].split()[:5] == ["rank", "regParam", "alpha", "maxIter", "NDCG@10"]
    assert len(lines) == 1 + 2 + 1 and lines[-1].startswith("best lists: rank 2 regParam 0.1 alpha 1")
    tuned = TunedParameters.objects.get()
    assert (tuned.list_rank, tuned.list_reg_param, tuned.list_alpha, tuned.list_max_iter) == (2, 0.1, 1.0, 3)
    assert tuned.rank is None and len(tuned.list_results) == 2
    options = RetrainOptions.from_settings()
    assert (options.list_rank, options.list_reg_param, options.list_alpha) == (2, 0.1, 1.0)
    assert options.rank == settings.ALS_RANK  # the stars model was not tuned: settings apply
    report = EvaluationReport.objects.get()
    assert report.ndcg_at_10 == tuned.list_cv_ndcg and report.rmse is None


@pytest.mark.django_db(transaction=True)
def test_tune_lists_refuses_ranks_the_catalogue_cannot_carry(spark, settings, tmp_path):
    settings.TRAINING_RUNS_DIR = tmp_path
    _seed_ratings()  # 24 users x 30 movies: implicit ALS can take rank 12 at most

    with pytest.raises(CommandError, match="list rank 40 is too large for 24 users x 30 movies: at most 12"):
        call_command("tune", "--lists", "--ranks", "4,40", "--no-progress", stdout=io.StringIO(), stderr=io.StringIO())
    assert not TunedParameters.objects.exists() and not EvaluationReport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_tune_saves_the_winner_as_the_retrain_defaults(spark, settings, tmp_path):
    settings.TRAINING_RUNS_DIR = tmp_path
    _seed_ratings()
    out = io.StringIO()

    call_command(
        "tune", "--ranks", "2,3", "--reg-params", "0.05,3", "--max-iters", "4", "--folds", "2",
        "--save", "--no-progress", stdout=out, stderr=io.StringIO(),
    )  # fmt: skip

    lines = out.getvalue().splitlines()
    assert lines[0].split()[:4] == ["rank", "regParam", "maxIter", "CV"]
    assert len(lines) == 1 + 4 + 1 and lines[-1].startswith("best: rank ")
    tuned = TunedParameters.objects.get()
    assert lines[1].split()[:3] == [str(tuned.rank), f"{tuned.reg_param:g}", str(tuned.max_iter)]
    assert tuned.reg_param == 0.05 and tuned.folds == 2 and len(tuned.results) == 4
    options = RetrainOptions.from_settings()
    assert (options.rank, options.reg_param, options.max_iter) == (tuned.rank, 0.05, 4)
    assert RetrainOptions.from_settings(rank=7).rank == 7  # command-line options still win
    assert list(tmp_path.iterdir()) == []  # the export was removed
    report = EvaluationReport.objects.get()
    assert (report.kind, report.rmse) == ("tune", tuned.cv_rmse) and report.summary.endswith("(saved)")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["--ranks", "two"], "comma-separated"),
        (["--reg-params", "-1"], "non-negative"),
        (["--ranks", "0"], "at least 1"),
        (["--folds", "1"], "folds"),
        (["--alphas", "1"], "--lists"),
        (["--lists", "--alphas", "0"], "positive"),
    ],
)
def test_tune_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("tune", *args, "--no-progress")
    assert not TunedParameters.objects.exists()
