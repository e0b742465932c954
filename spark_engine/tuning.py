"""Cross-validated grid search over ALS parameters: pure Spark, no Django (see spark_engine.evaluation)."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from pyspark.sql import DataFrame

from spark_engine.transforms import ALSParams, _require_columns, fit_als, rmse


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
    on_fit: Callable[[ALSParams, int, float], None] | None = None,
) -> list[TuneResult]:
    """k-fold cross-validated RMSE of explicit ALS for each parameter set, best (lowest) first.

    In: `ratings` (user_id, movie_id, rating). The ratings are split at random into `folds` parts (seeded);
    each part is held out once while ALS fits the rest. Pairs with a user or movie unseen in training are
    left out of a fold's RMSE (cold start). `on_fit(params, fold, rmse)` is called after every fit, for
    progress. Raises ValueError on folds < 2 or a missing column.
    """
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    _require_columns(ratings, "ratings", ("user_id", "movie_id", "rating"))
    parts = [part.cache() for part in ratings.select("user_id", "movie_id", "rating").randomSplit([1.0] * folds, seed)]
    results = []
    try:
        for params in grid:
            started = time.perf_counter()
            scores = []
            for fold, held_out in enumerate(parts):
                train = _union(part for i, part in enumerate(parts) if i != fold)
                error = rmse(fit_als(train, params), held_out)
                scores.append(error)
                if on_fit is not None:
                    on_fit(params, fold, error)
            finite = [s for s in scores if math.isfinite(s)]
            results.append(
                TuneResult(
                    rank=params.rank,
                    reg_param=params.reg_param,
                    max_iter=params.max_iter,
                    rmse=sum(finite) / len(finite) if finite else math.nan,
                    fold_rmse=tuple(scores),
                    seconds=round(time.perf_counter() - started, 2),
                )
            )
    finally:
        for part in parts:
            part.unpersist()
    return sorted(results, key=lambda r: (math.isnan(r.rmse), r.rmse, r.rank, r.max_iter))


def _union(frames: Iterable[DataFrame]) -> DataFrame:
    frames = list(frames)
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionAll(frame)
    return result
