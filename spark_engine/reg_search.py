"""Choosing the stars model's regularisation by validation, cheaply: a few fits on a split that is already cached.

A retrain's evaluation holds out a share of the ratings anyway; `search_reg_param` fits the stars model (biased ALS)
on the training part with a few regParam values around a starting one (the last run's choice) and keeps the one with
the lowest RMSE on the held-out part. What keeps it cheap:

- The biases do not depend on the ALS regParam (ALS fits the residuals r - mu - b_u - b_i), so they are fitted once
  and the residual frame is cached once; each candidate is one ALS fit on it.
- The held-out pairs and the biases are collected once (Arrow), and each candidate's RMSE is computed on the driver
  with numpy from its collected factors: no Spark join per candidate. The figure equals `metrics.rmse_of`.
- Warm start: candidates start × {1/step, 1, step}; only while the choice is at an edge does the search step
  further that way (a data set like the last one needs three fits), bounded by `max_fits` and [MIN_REG, MAX_REG].
- A budget at scale: above `CANDIDATE_MAX_RATINGS` training ratings the candidates are fitted with half the ALS
  iterations (`CANDIDATE_ITERATIONS`) on the same split, and only the chosen value is fitted again with all of them,
  for the evaluation that measures it: 3 candidates cost 2.5 full fits instead of 3, 4 cost 3 instead of 4. Tried
  first and dropped: candidates on a user sample, which gives every movie fewer ratings and so moves the optimum up
  (bench_autoreg, candidates on half of the users: 0.24 instead of 0.15 on ml-latest-small, 0.384 instead of 0.24 on
  its 30% sample).

A rank within the time budget: up to `RANK_MAX_RATINGS` training ratings (a small data set; never at 25M, where
rank 16 was chosen for the time budget) the search then fits `RANK_CANDIDATES` x the configured rank at the chosen
regParam on the same cached residuals, and keeps it only when better beyond noise; the retrain then fits and
publishes that rank. One fit more (of twice the rank) on data where a fit takes seconds. bench/bench_rmse_levers.py:
on ml-latest-small rank 32 lowered validation RMSE beyond noise (0.8608 -> 0.8571 alone) and test RMSE by 0.0019.

The choice only moves on evidence (`better_beyond_noise`): a candidate replaces the current choice when its mean
squared error on the held-out pairs is lower by more than `Z` standard errors of the paired difference. On
ml-latest-small's 20K validation ratings regParam 0.15 and 0.24 tied at 0.8608 while their refitted test RMSEs were
0.8491 and 0.8559: picking the plain minimum there follows noise; the rule keeps the start instead. So a run
keeps the last run's value unless its data clearly ask for another.

Pure Spark and numpy: DataFrames in, a fitted model and a plain record out; no Django, no files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_engine.fitting import (
    MAX_RATING,
    MIN_RATING,
    BiasedALSModel,
    QualityConfig,
    bias_residuals,
    fit_als,
    fit_biases,
)
from spark_engine.frames import collect_factors, require_columns

STEP = 1.6
MAX_FITS = 7
# Training ratings above which the candidates get CANDIDATE_ITERATIONS x the ALS iterations (0: never).
CANDIDATE_MAX_RATINGS = 1_000_000
CANDIDATE_ITERATIONS = 0.5
MIN_REG, MAX_REG = 0.005, 5.0
# Training ratings up to which the search also tries larger ranks (RANK_CANDIDATES x the configured one; 0: never).
RANK_MAX_RATINGS = 1_000_000
RANK_CANDIDATES = (2,)
# Held-out pairs scored per numpy block (rank 16: 2 x 13 MB of gathered factors).
_BLOCK = 100_000


@dataclass(frozen=True)
class RegChoice:
    """The outcome of a search: `chosen` regParam, the `start` it was warm-started from, every trial as
    (reg_param, rmse, seconds) in the order fitted, and the search's own seconds (the fits beyond the one the
    evaluation needs anyway are what it adds). With candidates fitted in fewer ALS iterations
    (`candidate_iterations`): the chosen value's fit with all of them, its RMSE and seconds (`refit`)."""

    chosen: float
    start: float
    step: float
    trials: list[tuple[float, float, float]] = field(default_factory=list)
    seconds: float = 0.0
    candidate_iterations: int | None = None
    refit: tuple[float, float] | None = None
    # The rank fitted (None: the configured one, no rank was tried) and the larger ranks tried at the chosen regParam
    # as (rank, rmse, seconds); `rank_start` is the configured rank.
    rank: int | None = None
    rank_start: int | None = None
    rank_trials: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def rmse(self) -> float:
        """The chosen model's RMSE on the held-out pairs (of its full-iteration refit, when there was one; of the
        chosen larger rank, when one was kept)."""
        if self.rank is not None and self.rank != self.rank_start:
            return next(rmse for rank, rmse, _ in self.rank_trials if rank == self.rank)
        return self.reg_rmse

    @property
    def reg_rmse(self) -> float:
        """The chosen regParam's RMSE at the configured rank (of its full-iteration refit, when there was one)."""
        if self.refit is not None:
            return self.refit[0]
        return next(rmse for reg, rmse, _ in self.trials if reg == self.chosen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "start": self.start,
            "step": self.step,
            "rmse": self.rmse,
            "fits": len(self.trials),
            "trials": [{"reg_param": reg, "rmse": rmse, "seconds": round(s, 3)} for reg, rmse, s in self.trials],
            "seconds": round(self.seconds, 3),
            **(
                {"candidate_iterations": self.candidate_iterations, "refit_seconds": round(self.refit[1], 3)}
                if self.refit is not None
                else {}
            ),
            **(
                {
                    "rank": self.rank,
                    "rank_start": self.rank_start,
                    "rank_trials": [
                        {"rank": rank, "rmse": rmse, "seconds": round(s, 3)} for rank, rmse, s in self.rank_trials
                    ],
                }
                if self.rank is not None
                else {}
            ),
        }


# A candidate must beat the current choice by this many standard errors of the paired difference.
Z = 2.0


def better_beyond_noise(errors: np.ndarray, than: np.ndarray, z: float = Z) -> bool:
    """Whether squared errors `errors` (one per held-out pair) beat `than` (the same pairs) beyond noise: their mean
    is lower by more than `z` standard errors of the per-pair difference."""
    difference = np.asarray(than, np.float64) - np.asarray(errors, np.float64)
    if difference.size < 2:
        return bool(difference.mean() > 0) if difference.size else False
    return bool(difference.mean() > z * difference.std(ddof=1) / math.sqrt(difference.size))


def walk(
    start: float,
    squared_errors: Callable[[float], np.ndarray],
    *,
    step: float = STEP,
    max_fits: int = MAX_FITS,
    z: float = Z,
) -> tuple[float, list[tuple[float, float]]]:
    """The search without Spark: (chosen regParam, [(reg, rmse)] in the order tried).

    `squared_errors(reg)` fits one candidate and returns its squared error on every held-out pair (the same pairs,
    in the same order, each call). Tries `start`, `start` / `step`, `start` × `step`; each replaces the current
    choice only when `better_beyond_noise`; while the choice is the lowest or highest value tried, one step further
    that way; at most `max_fits` calls, never outside [MIN_REG, MAX_REG].
    """
    tried: list[tuple[float, float]] = []
    chosen, chosen_errors = start, squared_errors(start)
    tried.append((start, math.sqrt(float(chosen_errors.mean()))))
    queue = [start / step, start * step]
    while queue and len(tried) < max_fits:
        reg = queue.pop(0)
        if reg < MIN_REG or reg > MAX_REG or any(math.isclose(reg, seen) for seen, _ in tried):
            continue
        errors = squared_errors(reg)
        tried.append((reg, math.sqrt(float(errors.mean()))))
        if better_beyond_noise(errors, chosen_errors, z):
            chosen, chosen_errors = reg, errors
        if not queue:
            regs = [seen for seen, _ in tried]
            if chosen == min(regs) and chosen != start:
                queue.append(chosen / step)
            elif chosen == max(regs) and chosen != start:
                queue.append(chosen * step)
    return chosen, tried


def search_reg_param(
    train: DataFrame,
    test: DataFrame,
    config: QualityConfig,
    *,
    start: float,
    step: float = STEP,
    max_fits: int = MAX_FITS,
    biases_on_driver: bool = False,
    on_trial: Callable[[float, float], None] | None = None,
    train_count: int | None = None,
    candidate_max_ratings: int = CANDIDATE_MAX_RATINGS,
    rank_max_ratings: int = RANK_MAX_RATINGS,
    rank_candidates: tuple[float, ...] | None = None,
) -> tuple[RegChoice, BiasedALSModel]:
    """Choose the stars model's ALS regParam by RMSE on `test`, fitting on `train` (both user_id, movie_id,
    rating; cache them: each is read once per fit).

    `config` must be biased (`QualityConfig.biased`): its bias regularisation and ALS parameters are kept, only
    `reg_param` varies. Candidates: `start` / `step`, `start`, `start` × `step`, then one step further while the
    choice is at an edge, at most `max_fits` fits in all, within [MIN_REG, MAX_REG] (`start` is clamped into it);
    a candidate replaces the choice only when it is better beyond noise (`walk`, `better_beyond_noise`).
    RMSE as `metrics.rmse_of`: every held-out pair counts, a cold user or movie falls back to the biases, predictions
    are clipped to the rating scale. `on_trial(reg, rmse)` after each fit.
    `max_fits=1` fits and measures `start` only: how a retrain keeps a recent choice when its data changed little
    since that choice was searched (the pipeline decides; the record then says 1 fit).
    Budget: when `train_count` (the rows of `train`, counted by the caller) exceeds `candidate_max_ratings` (0: no
    budget) and more than one fit may run, the candidates are fitted with `CANDIDATE_ITERATIONS` x the configured
    ALS iterations; the chosen value is then fitted once more with all of them and that model is the one returned
    and measured (the record's `candidate_iterations`, `refit_seconds`).
    Rank: when more than one fit may run and `train_count` is known and at most `rank_max_ratings` (0: never), each
    of `rank_candidates` (default `RANK_CANDIDATES`) x the configured rank is then fitted at the chosen regParam (all
    iterations) and replaces the chosen model when better beyond noise than it; the record's `rank` is the rank
    chosen (the configured one when none won), `rank_trials` the fits. Without that, `rank` is None and the
    configured rank stands.
    Out: (RegChoice, the chosen BiasedALSModel, fitted on `train`). Raises ValueError on a plain config, an empty
    `test`, step <= 1 or max_fits < 1.
    """
    if not config.biased:
        raise ValueError("the search fits biased ALS; config.biased must be True")
    if step <= 1 or max_fits < 1:
        raise ValueError(f"step must be > 1 and max_fits >= 1, got {step} and {max_fits}")
    require_columns(train, "train", ("user_id", "movie_id", "rating"))
    require_columns(test, "test", ("user_id", "movie_id", "rating"))
    started = time.perf_counter()
    start = min(max(float(start), MIN_REG), MAX_REG)
    mu, user_bias, item_bias = fit_biases(
        train, reg_user=config.reg_user, reg_item=config.reg_item, on_driver=biases_on_driver
    )
    full_iterations = config.ratings.max_iter
    iterations = full_iterations
    if candidate_max_ratings and max_fits > 1 and train_count and train_count > candidate_max_ratings:
        iterations = max(1, math.ceil(CANDIDATE_ITERATIONS * full_iterations))
    residuals = bias_residuals(train, mu, user_bias, item_bias).cache()
    held_out = _HeldOut.collect(test, mu, user_bias, item_bias)
    if held_out.size == 0:
        residuals.unpersist()
        raise ValueError("test has no ratings to choose a regParam on")

    models: dict[float, Any] = {}
    errors_of: dict[float, np.ndarray] = {}
    trials: list[tuple[float, float, float]] = []

    def squared_errors(reg: float) -> np.ndarray:
        fit_started = time.perf_counter()
        als = fit_als(residuals, replace(config.ratings, reg_param=reg, max_iter=iterations))
        errors = held_out.squared_errors(als)
        trials.append((reg, math.sqrt(float(errors.mean())), time.perf_counter() - fit_started))
        models[reg], errors_of[reg] = als, errors
        if on_trial is not None:
            on_trial(reg, trials[-1][1])
        return errors

    refit = None
    rank_start = config.ratings.rank
    rank, rank_trials = None, []
    try:
        chosen, _ = walk(start, squared_errors, step=step, max_fits=max_fits)
        if iterations < full_iterations:
            refit_started = time.perf_counter()
            models[chosen] = fit_als(residuals, replace(config.ratings, reg_param=chosen))
            errors_of[chosen] = held_out.squared_errors(models[chosen])
            refit = (math.sqrt(float(errors_of[chosen].mean())), time.perf_counter() - refit_started)
        if rank_max_ratings and max_fits > 1 and train_count and train_count <= rank_max_ratings:
            rank, best_errors = rank_start, errors_of[chosen]
            for factor in RANK_CANDIDATES if rank_candidates is None else rank_candidates:
                candidate = int(round(rank_start * factor))
                if candidate <= rank_start:
                    continue
                fit_started = time.perf_counter()
                als = fit_als(residuals, replace(config.ratings, reg_param=chosen, rank=candidate))
                errors = held_out.squared_errors(als)
                rank_trials.append((candidate, math.sqrt(float(errors.mean())), time.perf_counter() - fit_started))
                if better_beyond_noise(errors, best_errors):
                    rank, best_errors, models[chosen] = candidate, errors, als
    finally:
        residuals.unpersist()
    choice = RegChoice(
        chosen=chosen,
        start=start,
        step=step,
        trials=trials,
        seconds=time.perf_counter() - started,
        candidate_iterations=iterations if refit is not None else None,
        refit=refit,
        rank=rank,
        rank_start=rank_start if rank is not None else None,
        rank_trials=rank_trials,
    )
    model = BiasedALSModel(global_mean=mu, user_bias=user_bias, item_bias=item_bias, als=models[chosen])
    return choice, model


@dataclass(frozen=True)
class _HeldOut:
    """The held-out pairs on the driver: row of each pair's user and movie in sorted id arrays, and the
    residual r - mu - b_u - b_i each candidate's u.v has to explain."""

    users: np.ndarray
    movies: np.ndarray
    base: np.ndarray  # mu + b_u + b_i
    ratings: np.ndarray

    @property
    def size(self) -> int:
        return int(self.ratings.size)

    @classmethod
    def collect(cls, test: DataFrame, mu: float, user_bias: DataFrame, item_bias: DataFrame) -> _HeldOut:
        table = test.select("user_id", "movie_id", F.col("rating").cast("double")).toArrow()
        users = table.column(0).to_numpy().astype(np.int64)
        movies = table.column(1).to_numpy().astype(np.int64)
        ratings = table.column(2).to_numpy().astype(np.float64)
        base = np.full(ratings.size, mu)
        for frame, ids in ((user_bias, users), (item_bias, movies)):
            bias_table = frame.toArrow()
            keys = bias_table.column(0).to_numpy().astype(np.int64)
            values = bias_table.column(1).to_numpy().astype(np.float64)
            base += _lookup(keys, values, ids, missing=0.0)
        return cls(users=users, movies=movies, base=base, ratings=ratings)

    def squared_errors(self, als) -> np.ndarray:
        """Per held-out pair, the squared error of mu + b_u + b_i + u.v (u.v 0 where either side has no factors),
        clipped to the rating scale."""
        user_ids, user_matrix = collect_factors(als.userFactors, "stars user factors")
        item_ids, item_matrix = collect_factors(als.itemFactors, "stars item factors")
        squared = np.empty(self.size)
        for lo in range(0, self.size, _BLOCK):
            hi = min(lo + _BLOCK, self.size)
            u_row, u_found = _rows(user_ids, self.users[lo:hi])
            i_row, i_found = _rows(item_ids, self.movies[lo:hi])
            both = u_found & i_found
            dot = np.zeros(hi - lo)
            dot[both] = np.einsum(
                "ij,ij->i",
                user_matrix[u_row[both]].astype(np.float64),
                item_matrix[i_row[both]].astype(np.float64),
            )
            prediction = np.clip(self.base[lo:hi] + dot, MIN_RATING, MAX_RATING)
            squared[lo:hi] = (prediction - self.ratings[lo:hi]) ** 2
        return squared


def _rows(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if sorted_ids.size == 0:
        return np.zeros(ids.size, np.int64), np.zeros(ids.size, bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return at, sorted_ids[at] == ids


def _lookup(keys: np.ndarray, values: np.ndarray, ids: np.ndarray, *, missing: float) -> np.ndarray:
    order = np.argsort(keys)
    keys, values = keys[order], values[order]
    at, found = _rows(keys, ids)
    return np.where(found, values[at] if values.size else missing, missing)
