"""Cross-validated grid searches for both published models: pure Spark, no Django (run by spark_engine.experiments).

- `cross_validate`: the stars model, scored by RMSE (biased ALS when `biases` are given, as the retrain fits it).
- `cross_validate_lists`: the list model (implicit ALS), scored by NDCG@k of the lists it would serve.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from pyspark.sql import DataFrame

from spark_engine.fitting import ALSParams, ListParams, fit_als, fit_biased_als, fit_list_model
from spark_engine.frames import require_columns
from spark_engine.metrics import holdout_ranking_metrics, rmse, rmse_of


@dataclass(frozen=True)
class TuneResult:
    rank: int
    reg_param: float
    max_iter: int
    rmse: float  # mean over folds
    fold_rmse: tuple[float, ...]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"fold_rmse": list(self.fold_rmse)}


def parameter_grid(
    base: ALSParams, *, ranks: Iterable[int], reg_params: Iterable[float], max_iters: Iterable[int]
) -> list[ALSParams]:
    """Every combination, other parameters (seed, blocks, …) from `base`. Raises ValueError on an empty axis."""
    axes = [tuple(ranks), tuple(reg_params), tuple(max_iters)]
    if not all(axes):
        raise ValueError("ranks, reg_params and max_iters each need at least one value")
    return [
        replace(base, rank=rank, reg_param=reg, max_iter=iters, implicit_prefs=False)
        for rank, reg, iters in itertools.product(*axes)
    ]


def cross_validate(
    ratings: DataFrame,
    grid: Iterable[ALSParams],
    *,
    folds: int = 3,
    seed: int = 42,
    biases: tuple[float, float] | None = None,
    on_fit: Callable[[ALSParams, int, float], None] | None = None,
) -> list[TuneResult]:
    """k-fold cross-validated RMSE of explicit ALS for each parameter set, best (lowest) first.

    In: `ratings` (user_id, movie_id, rating). The ratings are split at random into `folds` parts (seeded);
    each part is held out once while ALS fits the rest. With `biases` (reg_user, reg_item) each fit is the
    stars model, `fitting.fit_biased_als`, and every held-out pair counts (cold ones fall back to the
    biases); without, plain ALS leaves pairs with a user or movie unseen in training out of the RMSE.
    `on_fit(params, fold, rmse)` is called after every fit, for progress. Raises ValueError on folds < 2 or
    a missing column.
    """
    parts = _folds(ratings, folds, seed)
    results = []
    try:
        for params in grid:
            started = time.perf_counter()
            scores = []
            for fold, held_out in enumerate(parts):
                train = _union(part for i, part in enumerate(parts) if i != fold)
                if biases is None:
                    error = rmse(fit_als(train, params), held_out)
                else:
                    model = fit_biased_als(train, params, reg_user=biases[0], reg_item=biases[1])
                    error = rmse_of(model, held_out)
                scores.append(error)
                if on_fit is not None:
                    on_fit(params, fold, error)
            results.append(
                TuneResult(
                    rank=params.rank,
                    reg_param=params.reg_param,
                    max_iter=params.max_iter,
                    rmse=_finite_mean(scores),
                    fold_rmse=tuple(scores),
                    seconds=round(time.perf_counter() - started, 2),
                )
            )
    finally:
        for part in parts:
            part.unpersist()
    return sorted(results, key=lambda r: (math.isnan(r.rmse), r.rmse, r.rank, r.max_iter))


@dataclass(frozen=True)
class ListTuneResult:
    rank: int
    reg_param: float
    alpha: float
    max_iter: int
    ndcg: float  # NDCG@k, mean over folds
    fold_ndcg: tuple[float, ...]
    popularity_ndcg: float  # the most-popular list on the same folds, for scale
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"fold_ndcg": list(self.fold_ndcg)}


def list_parameter_grid(
    base: ListParams,
    *,
    ranks: Iterable[int],
    reg_params: Iterable[float],
    alphas: Iterable[float],
    max_iters: Iterable[int],
) -> list[ListParams]:
    """Every combination for the list model, the rest (confidence, centre, seed, blocks) from `base`. Raises
    ValueError on an empty axis."""
    axes = [tuple(ranks), tuple(reg_params), tuple(alphas), tuple(max_iters)]
    if not all(axes):
        raise ValueError("ranks, reg_params, alphas and max_iters each need at least one value")
    return [
        replace(base, als=replace(base.als, rank=rank, reg_param=reg, alpha=alpha, max_iter=iters))
        for rank, reg, alpha, iters in itertools.product(*axes)
    ]


def cross_validate_lists(
    ratings: DataFrame,
    grid: Iterable[ListParams],
    *,
    folds: int = 3,
    seed: int = 42,
    k: int = 10,
    max_users: int = 10_000,
    on_fit: Callable[[ListParams, int, float], None] | None = None,
) -> list[ListTuneResult]:
    """k-fold cross-validated NDCG@k of the list model for each parameter set, best (highest) first.

    Folds as in `cross_validate`; each fit's lists are judged on the held-out part with
    `metrics.holdout_ranking_metrics` (held-out ratings >= 4 are relevant; at most `max_users` users per
    fold). `on_fit(params, fold, ndcg)` after every fit. Raises ValueError on folds < 2 or a missing column.
    """
    parts = _folds(ratings, folds, seed)
    key = f"ndcg_at_{k}"
    results = []
    try:
        for params in grid:
            started = time.perf_counter()
            scores, popular = [], []
            for fold, held_out in enumerate(parts):
                train = _union(part for i, part in enumerate(parts) if i != fold)
                users, items = fit_list_model(train, params)
                metrics = holdout_ranking_metrics(train, held_out, users, items, k, seed=seed, max_users=max_users)
                scores.append(metrics[key])
                popular.append(metrics["popularity"][key])
                if on_fit is not None:
                    on_fit(params, fold, metrics[key])
            results.append(
                ListTuneResult(
                    rank=params.als.rank,
                    reg_param=params.als.reg_param,
                    alpha=params.als.alpha,
                    max_iter=params.als.max_iter,
                    ndcg=_finite_mean(scores),
                    fold_ndcg=tuple(scores),
                    popularity_ndcg=_finite_mean(popular),
                    seconds=round(time.perf_counter() - started, 2),
                )
            )
    finally:
        for part in parts:
            part.unpersist()
    return sorted(results, key=lambda r: (math.isnan(r.ndcg), -r.ndcg if not math.isnan(r.ndcg) else 0, r.rank))


def _folds(ratings: DataFrame, folds: int, seed: int) -> list[DataFrame]:
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    require_columns(ratings, "ratings", ("user_id", "movie_id", "rating"))
    return [part.cache() for part in ratings.select("user_id", "movie_id", "rating").randomSplit([1.0] * folds, seed)]


def _finite_mean(values: Iterable[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _union(frames: Iterable[DataFrame]) -> DataFrame:
    frames = list(frames)
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionAll(frame)
    return result
