"""Judging the models: splits, RMSE, ranking metrics, catalogue coverage, the popularity baseline, and the
two holdout protocols (the retrain's `evaluate_holdout_config` and `manage.py evaluate`'s `evaluate_protocol`).

Pure Spark and numpy (DataFrames in, numbers or plain dicts out; no Django, no files).
`evaluate_protocol` runs the tutorial's protocol (random 60/20/20 split, ranks 4/8/12) next to any number of named
configurations and returns a plain dict; `manage.py evaluate` prints it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark_engine.blend import StarsBlend, choose_stars_blend
from spark_engine.fitting import (
    ALSParams,
    BiasedALSModel,
    FittedModels,
    QualityConfig,
    biased_factors,
    blend_stars_model,
    fit_als,
    fit_biased_als,
    fit_list_model,
    fit_models,
    popularity_scores,
    predict,
)
from spark_engine.frames import collect_factors, in_thread, require_columns
from spark_engine.reg_search import MAX_FITS, RegChoice, search_reg_param
from spark_engine.topk import local_top_k, top_n_unrated

# The tutorial's protocol (the Spark ALS lab on MovieLens): 60/20/20 split, these ranks, 10 iterations, regParam 0.1,
# and for lists only movies with at least 25 ratings.
TUTORIAL_RANKS = (4, 8, 12)


TUTORIAL_MAX_ITER = 10


TUTORIAL_REG_PARAM = 0.1


TUTORIAL_MIN_RATINGS = 25


SPLIT_WEIGHTS = (0.6, 0.2, 0.2)


# --------------------------------------------------------------------------------------------------
# Splits


def split_holdout(ratings: DataFrame, fraction: float = 0.2, seed: int = 42) -> tuple[DataFrame, DataFrame]:
    """Randomly split ratings into (train, test), with about `fraction` of the rows in test.

    Columns are unchanged. Deterministic for the same input partitioning and seed. Cache both halves if
    they are used more than once. Raises ValueError unless 0 < fraction < 1.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    train, test = ratings.randomSplit([1.0 - fraction, fraction], seed=seed)
    return train, test


def split_three(ratings: DataFrame, seed: int = 0, weights: Iterable[float] = SPLIT_WEIGHTS) -> list[DataFrame]:
    """Random train/validation/test split (`DataFrame.randomSplit`, deterministic for the same input partitioning
    and seed). Columns unchanged; the parts are lazy, cache them if used more than once."""
    return ratings.randomSplit(list(weights), seed=seed)


def split_three_by_time(ratings: DataFrame, weights: Iterable[float] = SPLIT_WEIGHTS) -> list[DataFrame]:
    """Train/validation/test by time within each user (the future a live service faces): each user's ratings in
    time order (ties: by movie_id), the first `weights[0]` share in train, the next `weights[1]` in validation, the
    latest `weights[2]` in test. A rating at 0-based place i of the user's n is in train while i / n < w0, in
    validation while i / n < w0 + w1, else in test (so a user with 20 ratings holds out exactly their latest 4; one
    with fewer than 1 / w2 keeps them all in train and validation). In: user_id, movie_id, ts and any other
    columns, kept. Deterministic. Raises ValueError on a missing column or weights that are not three positives."""
    require_columns(ratings, "ratings", ("user_id", "movie_id", "ts"))
    weights = tuple(float(w) for w in weights)
    if len(weights) != 3 or min(weights) <= 0:
        raise ValueError(f"weights must be three positive shares, got {weights}")
    total = sum(weights)
    train_end, validation_end = weights[0] / total, (weights[0] + weights[1]) / total
    in_time = Window.partitionBy("user_id").orderBy("ts", "movie_id")
    placed = (
        ratings.withColumn("_place", F.row_number().over(in_time) - 1)
        .withColumn("_n", F.count(F.lit(1)).over(Window.partitionBy("user_id")))
        .withColumn("_position", F.col("_place") / F.col("_n"))
    )
    columns = ratings.columns
    return [
        placed.where(F.col("_position") < train_end).select(*columns),
        placed.where((F.col("_position") >= train_end) & (F.col("_position") < validation_end)).select(*columns),
        placed.where(F.col("_position") >= validation_end).select(*columns),
    ]


def sample_users(ratings: DataFrame, fraction: float, seed: int = 42) -> DataFrame:
    """All ratings of about `fraction` of the users, chosen by a seeded hash of user_id (deterministic).

    Keeps each sampled user's whole history, so per-user ranking metrics stay meaningful. Raises
    ValueError unless 0 < fraction <= 1 or if user_id is missing.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    require_columns(ratings, "ratings", ("user_id",))
    if fraction == 1.0:
        return ratings
    buckets = 1_000_000
    return ratings.where(F.pmod(F.xxhash64(F.col("user_id"), F.lit(seed)), F.lit(buckets)) < int(fraction * buckets))


# --------------------------------------------------------------------------------------------------
# Predicted stars


def rmse(model: ALSModel, test: DataFrame) -> float:
    """Root-mean-square error of `model` on `test` (columns user_id, movie_id, rating).

    Pairs whose user or movie has no factors are left out (cold start), so the result is NaN only if no
    pair can be scored. Raises ValueError if a column is missing.
    """
    require_columns(test, "test", ("user_id", "movie_id", "rating"))
    predictions = model.transform(test.select("user_id", "movie_id", "rating")).where(~F.isnan("prediction"))
    error = predictions.agg(F.sqrt(F.avg((F.col("prediction") - F.col("rating")) ** 2))).first()[0]
    return math.nan if error is None else float(error)


def rmse_of(model: BiasedALSModel, test: DataFrame) -> float:
    """Root-mean-square error of `predict(model, test)` against test.rating; every pair counts (cold ones fall back
    to the biases). NaN for an empty `test`. Raises ValueError if a column is missing."""
    require_columns(test, "test", ("user_id", "movie_id", "rating"))
    predictions = predict(model, test.select("user_id", "movie_id", "rating"))
    error = predictions.agg(F.sqrt(F.avg((F.col("prediction") - F.col("rating")) ** 2))).first()[0]
    return math.nan if error is None else float(error)


# --------------------------------------------------------------------------------------------------
# Lists


def ranking_metrics(
    recommended: DataFrame, test: DataFrame, k: int = 10, relevant_threshold: float = 4.0
) -> dict[str, float]:
    """Precision, recall, NDCG and MAP at k with binary relevance.

    In: `recommended` with columns (user_id, movie_id, rank), rank 1 best, already excluding each user's
    training movies; `test` with columns (user_id, movie_id, rating). A held-out rating >= relevant_threshold
    is relevant. Users with no relevant held-out movie are excluded; a user with relevant movies but no
    recommendations counts as all zeros, so restrict `test` to users the model knows.
    Collects the top-k rows and the relevant pairs to the driver (Arrow, 8 bytes a pair) and computes the
    metrics with numpy: see `ranking_metrics_of_arrays` for the definitions.
    Raises ValueError on k < 1 or a missing column.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    require_columns(recommended, "recommended", ("user_id", "movie_id", "rank"))
    require_columns(test, "test", ("user_id", "movie_id", "rating"))
    rec_users, rec_movies, rec_ranks = _collect_int_columns(
        recommended.where(F.col("rank") <= k).select("user_id", "movie_id", "rank")
    )
    rel_users, rel_movies = _collect_int_columns(
        test.where(F.col("rating") >= relevant_threshold).select("user_id", "movie_id").distinct()
    )
    return ranking_metrics_of_arrays(rec_users, rec_movies, rec_ranks, rel_users, rel_movies, k)


def ranking_metrics_of_arrays(
    rec_users: np.ndarray,
    rec_movies: np.ndarray,
    rec_ranks: np.ndarray,
    rel_users: np.ndarray,
    rel_movies: np.ndarray,
    k: int,
) -> dict[str, float]:
    """Ranking metrics at k from flat arrays, as Spark's RankingMetrics (RankingEvaluator) defines them.

    In: recommendations as parallel arrays (user, movie, rank; rank 1 best); relevant held-out pairs as
    parallel arrays (user, movie), without duplicates. Only users with a relevant pair are evaluated.
    Per user with top-k list R (ordered by rank) and relevant set G: precision = |R∩G| / k;
    recall = |R∩G| / |G|; NDCG = DCG / IDCG with gain 1/log2(i+2) at 0-based position i and the ideal
    list filling min(|G|, k) positions; AP = (sum of precision@(i+1) over hit positions i) / min(|G|, k).
    Out: means over evaluated users as {"precision_at_<k>", "recall_at_<k>", "ndcg_at_<k>", "map_at_<k>"}
    (NaN if no user qualifies) and "users_evaluated".
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    users, rel_index = np.unique(np.asarray(rel_users, np.int64), return_inverse=True)
    names = ("precision", "recall", "ndcg", "ap")
    if users.size == 0:
        return {**{f"{_METRIC_KEYS[n]}_at_{k}": math.nan for n in names}, "users_evaluated": 0}
    relevant_count = np.bincount(rel_index, minlength=users.size)

    rec_users, rec_movies, rec_ranks = (np.asarray(a, np.int64) for a in (rec_users, rec_movies, rec_ranks))
    position = np.minimum(np.searchsorted(users, rec_users), users.size - 1)
    keep = (users[position] == rec_users) & (rec_ranks <= k)
    position, movies, ranks = position[keep], rec_movies[keep], rec_ranks[keep]
    order = np.lexsort((ranks, position))
    position, movies = position[order], movies[order]
    # 0-based place of each recommendation in its user's list
    counts = np.bincount(position, minlength=users.size)
    starts = np.cumsum(counts) - counts
    place = np.arange(position.size) - starts[position]
    keep = place < k
    position, movies, place = position[keep], movies[keep], place[keep]

    width = int(max(movies.max(initial=0), np.max(rel_movies, initial=0))) + 1
    relevant_codes = np.sort(rel_index.astype(np.int64) * width + np.asarray(rel_movies, np.int64))
    codes = position * width + movies
    found = np.minimum(np.searchsorted(relevant_codes, codes), max(relevant_codes.size - 1, 0))
    hit = (relevant_codes[found] == codes).astype(np.float64)

    hits = np.bincount(position, weights=hit, minlength=users.size)
    cumulative = np.cumsum(hit)
    before = np.concatenate(([0.0], cumulative))[starts[position]]
    hits_so_far = cumulative - before
    discount = 1.0 / np.log2(np.arange(k) + 2.0)
    ideal_positions = np.minimum(relevant_count, k)
    ideal = np.concatenate(([0.0], np.cumsum(discount)))[ideal_positions]
    per_user = {
        "precision": hits / k,
        "recall": hits / relevant_count,
        "ndcg": np.bincount(position, weights=hit * discount[place], minlength=users.size) / ideal,
        "ap": np.bincount(position, weights=hit * hits_so_far / (place + 1), minlength=users.size) / ideal_positions,
    }
    return {
        **{f"{_METRIC_KEYS[n]}_at_{k}": float(per_user[n].mean()) for n in names},
        "users_evaluated": int(users.size),
    }


_METRIC_KEYS = {"precision": "precision", "recall": "recall", "ndcg": "ndcg", "ap": "map"}


def holdout_ranking_metrics(
    train: DataFrame,
    test: DataFrame,
    user_factors: DataFrame,
    item_factors: DataFrame,
    k: int = 10,
    *,
    seed: int = 42,
    max_users: int = 10_000,
    relevant_threshold: float = 4.0,
) -> dict[str, Any]:
    """Ranking metrics of the lists `user_factors` · `item_factors` would serve, next to popularity's.

    Users counted: those with factors and a relevant held-out rating (>= `relevant_threshold`), at most
    `max_users` of them drawn at random with `seed`; each gets the exact top k of the movies they did not
    rate in `train`, from the factors and from popularity (most ratings in `train`). The ranking runs on the
    driver with numpy from the collected factors, the sampled users' training pairs and per-movie counts: a
    handful of small Spark jobs instead of two distributed top-N passes.
    Beyond accuracy (`beyond_accuracy_of_arrays`, the list model's item factors for diversity, for popularity's lists
    too): coverage, novelty, popularity percentile, personalisation and diversity at k, over the sampled users.
    Out: {"precision_at_<k>", "recall_at_<k>", "ndcg_at_<k>", "map_at_<k>", "users_evaluated", "coverage_at_<k>",
    "novelty_at_<k>", "popularity_percentile_at_<k>", "personalisation_at_<k>", "diversity_at_<k>",
    "popularity": {same keys}, "ranking_users_available"}. Raises ValueError on max_users < 1.
    """
    if max_users < 1:
        raise ValueError(f"max_users must be positive, got {max_users}")
    user_ids, user_matrix = collect_factors(user_factors, "user_factors")
    item_ids, item_matrix = collect_factors(item_factors, "item_factors")

    rel_users, rel_movies = _collect_int_columns(
        test.where(F.col("rating") >= relevant_threshold).select("user_id", "movie_id")
    )
    known = np.isin(rel_users, user_ids)
    rel_users, rel_movies = rel_users[known], rel_movies[known]
    candidates = np.unique(rel_users)
    sample = candidates
    if candidates.size > max_users:
        sample = np.sort(np.random.default_rng(seed).choice(candidates, max_users, replace=False))
        chosen = np.isin(rel_users, sample)
        rel_users, rel_movies = rel_users[chosen], rel_movies[chosen]
    sampled_train = train if sample is candidates else train.where(F.col("user_id").isin(sample.tolist()))
    train_users, train_movies = _collect_int_columns(sampled_train.select("user_id", "movie_id"))
    pop_ids, pop_counts = _collect_int_columns(train.groupBy("movie_id").count().orderBy("movie_id"))

    rows = np.searchsorted(user_ids, sample)
    model_rec = local_top_k(sample, user_matrix[rows], item_ids, item_matrix, train_users, train_movies, k)
    popularity_rec = local_top_k(
        sample,
        np.ones((sample.size, 1), np.float32),
        pop_ids,
        pop_counts.astype(np.float32)[:, None],
        train_users,
        train_movies,
        k,
    )
    raters = int(np.unique(train_users).size) if sample is candidates else _count_distinct(train, "user_id")
    beyond = {"pop_ids": pop_ids, "pop_counts": pop_counts, "raters": raters, "seed": seed}
    return {
        **ranking_metrics_of_arrays(*model_rec, rel_users, rel_movies, k),
        **beyond_accuracy_of_arrays(*model_rec, k, item_ids=item_ids, item_matrix=item_matrix, **beyond),
        "popularity": {
            **ranking_metrics_of_arrays(*popularity_rec, rel_users, rel_movies, k),
            **beyond_accuracy_of_arrays(*popularity_rec, k, item_ids=item_ids, item_matrix=item_matrix, **beyond),
        },
        "ranking_users_available": int(candidates.size),
    }


# --------------------------------------------------------------------------------------------------
# Beyond accuracy: what the lists show, whatever the held-out ratings say

# User pairs sampled for personalisation (every pair when there are fewer).
PERSONALISATION_PAIRS = 20_000


def novelty_of_arrays(rec_movies: np.ndarray, pop_ids: np.ndarray, pop_counts: np.ndarray, raters: int) -> float:
    """Mean self-information of the listed movies: −log2(share of the `raters` who rated the movie), averaged over
    every (user, movie) listed. A movie nobody rated counts as rated once. NaN for no list."""
    rec_movies = np.asarray(rec_movies, np.int64)
    if rec_movies.size == 0 or raters <= 0:
        return math.nan
    counts = _lookup(pop_ids, pop_counts, rec_movies).astype(np.float64)
    return float(np.mean(-np.log2(np.maximum(counts, 1.0) / raters)))


def popularity_percentile_of_arrays(rec_movies: np.ndarray, pop_ids: np.ndarray, pop_counts: np.ndarray) -> float:
    """Mean popularity percentile (0–100) of the listed movies: the share of the catalogue (`pop_ids`) with fewer
    ratings, ties counted half. NaN for no list."""
    rec_movies = np.asarray(rec_movies, np.int64)
    if rec_movies.size == 0 or len(pop_counts) == 0:
        return math.nan
    ordered = np.sort(np.asarray(pop_counts, np.float64))
    counts = _lookup(pop_ids, pop_counts, rec_movies).astype(np.float64)
    below = np.searchsorted(ordered, counts, side="left")
    equal = np.searchsorted(ordered, counts, side="right") - below
    return float(np.mean(100.0 * (below + 0.5 * equal) / ordered.size))


def _pairwise_mean_per_user(rec_users: np.ndarray, rec_movies: np.ndarray, similarity) -> float:
    """Mean over users (with two or more listed movies) of the mean pairwise `similarity(movies)` (a square matrix)."""
    rec_users, rec_movies = np.asarray(rec_users, np.int64), np.asarray(rec_movies, np.int64)
    if rec_users.size == 0:
        return math.nan
    order = np.argsort(rec_users, kind="stable")
    users, starts = np.unique(rec_users[order], return_index=True)
    ends = np.append(starts[1:], order.size)
    values = []
    for start, end in zip(starts, ends, strict=True):
        movies = rec_movies[order[start:end]]
        if movies.size < 2:
            continue
        matrix = similarity(movies)
        upper = np.triu_indices(movies.size, 1)
        values.append(matrix[upper].mean())
    return float(np.mean(values)) if values else math.nan


def intra_list_diversity_of_arrays(
    rec_users: np.ndarray, rec_movies: np.ndarray, item_ids: np.ndarray, item_matrix: np.ndarray
) -> float:
    """1 − mean pairwise cosine similarity of the item factors (`item_ids` sorted, rows of `item_matrix`) within
    each user's list, averaged over users. Movies without factors count as similar to nothing. NaN if no list has
    two movies."""
    item_ids = np.asarray(item_ids, np.int64)
    norms = np.linalg.norm(item_matrix, axis=1)
    unit = np.asarray(item_matrix, np.float64) / np.where(norms > 0, norms, 1.0)[:, None]

    def cosine(movies: np.ndarray) -> np.ndarray:
        rows = np.minimum(np.searchsorted(item_ids, movies), max(item_ids.size - 1, 0))
        vectors = np.where((item_ids[rows] == movies)[:, None], unit[rows], 0.0)
        return vectors @ vectors.T

    similarity = _pairwise_mean_per_user(rec_users, rec_movies, cosine)
    return 1.0 - similarity if not math.isnan(similarity) else math.nan


def genre_diversity_of_arrays(
    rec_users: np.ndarray, rec_movies: np.ndarray, genre_movie_ids: np.ndarray, genre_matrix: np.ndarray
) -> float:
    """1 − mean pairwise Jaccard similarity of the listed movies' genre sets (`genre_matrix`: one 0/1 row per
    movie of the sorted `genre_movie_ids`), averaged over users. Two movies without genres count as unalike."""
    genre_movie_ids = np.asarray(genre_movie_ids, np.int64)
    sets = np.asarray(genre_matrix, np.float64)

    def jaccard(movies: np.ndarray) -> np.ndarray:
        rows = np.minimum(np.searchsorted(genre_movie_ids, movies), max(genre_movie_ids.size - 1, 0))
        chosen = np.where((genre_movie_ids[rows] == movies)[:, None], sets[rows], 0.0)
        both = chosen @ chosen.T
        sizes = chosen.sum(axis=1)
        either = sizes[:, None] + sizes[None, :] - both
        return np.divide(both, either, out=np.zeros_like(both), where=either > 0)

    similarity = _pairwise_mean_per_user(rec_users, rec_movies, jaccard)
    return 1.0 - similarity if not math.isnan(similarity) else math.nan


def personalisation_of_arrays(
    rec_users: np.ndarray, rec_movies: np.ndarray, k: int, *, pairs: int = PERSONALISATION_PAIRS, seed: int = 42
) -> float:
    """1 − mean overlap |A ∩ B| / k of two users' top-k lists, over `pairs` user pairs drawn with `seed` (every pair
    when there are fewer). 0: everyone sees the same list; 1: no two lists share a movie. NaN under two users."""
    rec_users, rec_movies = np.asarray(rec_users, np.int64), np.asarray(rec_movies, np.int64)
    users, index = np.unique(rec_users, return_inverse=True)
    if users.size < 2:
        return math.nan
    # Each user's list as one row of a (users, width) table, padded with values no list holds; a pair's overlap is
    # then a (width × width) comparison: memory grows with the pairs, not with users × catalogue.
    order = np.argsort(index, kind="stable")
    sizes = np.bincount(index, minlength=users.size)
    width = int(sizes.max())
    starts = np.cumsum(sizes) - sizes
    column = np.arange(order.size) - starts[index[order]]
    lists = np.full((users.size, width), -1, dtype=np.int64)
    lists[index[order], column] = rec_movies[order]
    total = users.size * (users.size - 1) // 2
    if total <= pairs:
        left, right = np.triu_indices(users.size, 1)
    else:
        rng = np.random.default_rng(seed)
        left = rng.integers(0, users.size, pairs)
        right = (left + rng.integers(1, users.size, pairs)) % users.size  # never the same user
    a, b = lists[left], np.where(lists[right] < 0, -2, lists[right])
    overlap = (a[:, :, None] == b[:, None, :]).sum(axis=(1, 2))
    return float(1.0 - np.mean(overlap / k))


def beyond_accuracy_of_arrays(
    rec_users: np.ndarray,
    rec_movies: np.ndarray,
    rec_ranks: np.ndarray,
    k: int,
    *,
    pop_ids: np.ndarray,
    pop_counts: np.ndarray,
    raters: int,
    item_ids: np.ndarray | None = None,
    item_matrix: np.ndarray | None = None,
    genre_movie_ids: np.ndarray | None = None,
    genre_matrix: np.ndarray | None = None,
    seed: int = 42,
) -> dict[str, float]:
    """What top-k lists show beyond hitting held-out ratings, from flat arrays (rank 1 best; ranks above k ignored).

    `pop_ids`/`pop_counts`: the catalogue (every movie of the training data, sorted ids) with its raters in
    training; `raters`: the number of users in training. Out: "coverage_at_<k>" (share of the catalogue in some
    list), "novelty_at_<k>" (`novelty_of_arrays`, bits), "popularity_percentile_at_<k>", "personalisation_at_<k>",
    and with item factors "diversity_at_<k>" (`intra_list_diversity_of_arrays`), with genres
    "genre_diversity_at_<k>" (`genre_diversity_of_arrays`).
    """
    keep = np.asarray(rec_ranks) <= k
    users, movies = np.asarray(rec_users, np.int64)[keep], np.asarray(rec_movies, np.int64)[keep]
    pop_ids = np.asarray(pop_ids, np.int64)
    result = {
        f"coverage_at_{k}": float(np.unique(movies).size / pop_ids.size) if pop_ids.size else 0.0,
        f"novelty_at_{k}": novelty_of_arrays(movies, pop_ids, pop_counts, raters),
        f"popularity_percentile_at_{k}": popularity_percentile_of_arrays(movies, pop_ids, pop_counts),
        f"personalisation_at_{k}": personalisation_of_arrays(users, movies, k, seed=seed),
    }
    if item_ids is not None and item_matrix is not None:
        result[f"diversity_at_{k}"] = intra_list_diversity_of_arrays(users, movies, item_ids, item_matrix)
    if genre_movie_ids is not None and genre_matrix is not None:
        result[f"genre_diversity_at_{k}"] = genre_diversity_of_arrays(users, movies, genre_movie_ids, genre_matrix)
    return result


def _lookup(ids: np.ndarray, values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """values[ids == key] per key (ids sorted); 0 for keys not in ids."""
    ids, values = np.asarray(ids, np.int64), np.asarray(values)
    if ids.size == 0:
        return np.zeros(keys.size, dtype=values.dtype)
    rows = np.minimum(np.searchsorted(ids, keys), ids.size - 1)
    return np.where(ids[rows] == keys, values[rows], 0)


def catalogue_coverage(recommended: DataFrame, train: DataFrame, k: int = 10) -> float:
    """Share of the catalogue that appears in anybody's top-k.

    In: `recommended` with (movie_id, rank), rank 1 best; `train` with movie_id. Out: distinct movies at rank <= k
    divided by distinct movies in `train` (0.0 when `train` is empty). Raises ValueError on k < 1 or a missing
    column.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    require_columns(recommended, "recommended", ("movie_id", "rank"))
    require_columns(train, "train", ("movie_id",))
    shown = recommended.where(F.col("rank") <= k).select("movie_id").distinct().count()
    catalogue = train.select("movie_id").distinct().count()
    return shown / catalogue if catalogue else 0.0


def list_metrics(
    recommended: DataFrame, train: DataFrame, test: DataFrame, k: int = 10, *, item_factors: DataFrame | None = None
) -> dict[str, float]:
    """`ranking_metrics` of `recommended` on `test`, plus "coverage_at_<k>" (`catalogue_coverage`) and the other
    beyond-accuracy metrics of every list (`beyond_accuracy_of_arrays`; diversity with `item_factors`, (id,
    features))."""
    recommended = recommended.cache()
    try:
        metrics = dict(ranking_metrics(recommended, test, k))
        rec = _collect_int_columns(recommended.where(F.col("rank") <= k).select("user_id", "movie_id", "rank"))
        pop_ids, pop_counts = _collect_int_columns(train.groupBy("movie_id").count().orderBy("movie_id"))
        item_ids, item_matrix = (
            collect_factors(item_factors, "item_factors") if item_factors is not None else (None,) * 2
        )
        metrics.update(
            beyond_accuracy_of_arrays(
                *rec,
                k,
                pop_ids=pop_ids,
                pop_counts=pop_counts,
                raters=_count_distinct(train, "user_id"),
                item_ids=item_ids,
                item_matrix=item_matrix,
            )
        )
        metrics[f"coverage_at_{k}"] = catalogue_coverage(recommended, train, k)
    finally:
        recommended.unpersist()
    return metrics


def restrict_items(item_factors: DataFrame, train: DataFrame, min_ratings: int) -> DataFrame:
    """Only movies with at least `min_ratings` ratings in `train` (the tutorial's filter for its lists)."""
    popular = train.groupBy("movie_id").count().where(F.col("count") >= min_ratings)
    return item_factors.join(popular.select(F.col("movie_id").alias("id")), "id", "left_semi")


def popularity_top_n(train: DataFrame, n: int, *, num_partitions: int | None = None) -> DataFrame:
    """Popularity baseline: for every user in `train`, the n most-rated movies they have not rated.

    In: `train` with columns (user_id, movie_id). Out: RECOMMENDATIONS_SCHEMA with score = number of
    ratings, ties by movie_id, same guarantees as `top_n_unrated`. Raises ValueError like `top_n_unrated`.
    """
    require_columns(train, "train", ("user_id", "movie_id"))
    users = (
        train.select(F.col("user_id").cast("int").alias("id"))
        .distinct()
        .withColumn("features", F.array(F.lit(1.0).cast("float")))
    )
    return top_n_unrated(users, popularity_scores(train), train, n, num_partitions=num_partitions)


# --------------------------------------------------------------------------------------------------
# Holdout protocols


@dataclass
class Holdout:
    """A retrain's holdout split, cached, and what has been fitted on it so far (`holdout_split`): the stars model
    and its regParam choice once `holdout_choose_reg_param` ran, the list model and the stars blend once
    `holdout_choose_blend` ran. Lets a retrain choose the regParam before its fit
    and measure the lists after its publish on the same split without splitting or fitting twice. `release()`
    unpersists the split."""

    train: DataFrame
    test: DataFrame
    fraction: float
    seed: int
    train_count: int
    test_count: int
    stars: BiasedALSModel | None = None
    choice: RegChoice | None = None
    # The list model fitted on the training part and the stars blend chosen from it (`holdout_choose_blend`).
    list_users: DataFrame | None = None
    list_items: DataFrame | None = None
    blend: StarsBlend | None = None
    # The share of the users whose ratings were split (stages.holdout samples users above a size).
    user_sample_fraction: float = 1.0

    def release(self) -> None:
        self.train.unpersist()
        self.test.unpersist()


def holdout_split(ratings: DataFrame, fraction: float = 0.2, seed: int = 42) -> Holdout:
    """Hold out a random `fraction` of `ratings` (user_id, movie_id, rating; `split_holdout`), cache both parts and
    count them (one job each). Raises ValueError on missing columns or a bad fraction."""
    require_columns(ratings, "ratings", ("user_id", "movie_id", "rating"))
    train, test = split_holdout(ratings.select("user_id", "movie_id", "rating"), fraction, seed)
    train, test = train.cache(), test.cache()
    try:
        return Holdout(train, test, fraction, seed, train_count=train.count(), test_count=test.count())
    except BaseException:
        train.unpersist()
        test.unpersist()
        raise


def holdout_choose_reg_param(
    holdout: Holdout,
    config: QualityConfig,
    *,
    start: float,
    max_fits: int = MAX_FITS,
    biases_on_driver: bool = False,
    on_trial: Callable[[float, float], None] | None = None,
    rank_search: bool = True,
    lists_alongside: bool = False,
) -> RegChoice:
    """Choose the stars model's regParam on `holdout` (`reg_search.search_reg_param` from `start`, at most
    `max_fits` fits; `config` must be biased), and its rank within the search's budget unless `rank_search` is
    False, and keep the chosen model on it for `holdout_evaluate`.

    `lists_alongside`: fit `config`'s list model on the training part in a second thread meanwhile (it does not depend
    on the regParam) and keep it for `holdout_choose_blend` / `holdout_evaluate`, as `fitting.fit_models(concurrent=
    True)` does: for small data, where one fit leaves cores idle."""
    list_fit = None
    if lists_alongside and config.lists is not None and holdout.list_users is None:
        list_fit = in_thread(fit_list_model, holdout.train, config.lists)
    try:
        holdout.choice, holdout.stars = search_reg_param(
            holdout.train,
            holdout.test,
            config,
            start=start,
            max_fits=max_fits,
            biases_on_driver=biases_on_driver,
            on_trial=on_trial,
            train_count=holdout.train_count,
            **({} if rank_search else {"rank_max_ratings": 0}),
        )
    except BaseException:
        if list_fit is not None:
            list_fit.join()  # no Spark job of this call outlives it
        raise
    if list_fit is not None:
        holdout.list_users, holdout.list_items = list_fit.result()
    return holdout.choice


def holdout_choose_blend(holdout: Holdout, config: QualityConfig, *, biases_on_driver: bool = False) -> StarsBlend:
    """Choose the list score's blend into the stars on `holdout` (`blend.choose_stars_blend`: both models fitted on
    its training part, judged on its held-out part), from the stars model `holdout_choose_reg_param` chose there (or,
    without one, the stars model of `config` fitted now), and keep the list model and the blend for
    `holdout_evaluate`. `config` must be biased with a list model; its own blend weight is ignored (this chooses it).
    Raises ValueError otherwise."""
    if not config.biased or config.lists is None:
        raise ValueError("the stars blend needs a biased configuration with a list model")
    if holdout.stars is None:
        holdout.stars = fit_biased_als(
            holdout.train,
            config.ratings,
            reg_user=config.reg_user,
            reg_item=config.reg_item,
            biases_on_driver=biases_on_driver,
        )
    if holdout.list_users is None:
        holdout.list_users, holdout.list_items = fit_list_model(holdout.train, config.lists)
    holdout.blend = choose_stars_blend(holdout.stars, holdout.list_users, holdout.list_items, holdout.test)
    return holdout.blend


def holdout_evaluate(
    holdout: Holdout, config: QualityConfig, k: int = 10, *, max_users: int = 10_000, biases_on_driver: bool = False
) -> dict[str, Any]:
    """Both models' figures on `holdout` (as `evaluate_holdout_config` describes them), fitting on its training part
    what is not there yet: the list model unless `holdout_choose_blend` fitted it, the stars model unless
    `holdout_choose_reg_param` or `holdout_choose_blend` did (then its RMSE is the choice's, and the result has
    "reg_search"; after `holdout_choose_blend`, the blend's, and the result has "stars_blend").
    A `config` with a blend weight that was not chosen on this split (a blend kept from an earlier run) is measured
    as it is served: the stars model blended with that weight and offset; "stars_rmse_unblended" says what the
    stars model alone scored."""
    train, test = holdout.train, holdout.test
    searched: dict[str, Any] = {}
    if holdout.stars is not None:
        stars = holdout.stars
        if holdout.list_users is not None:
            users, items = holdout.list_users, holdout.list_items
        elif config.lists is not None:
            users, items = fit_list_model(train, config.lists)
        else:
            users, items = biased_factors(stars)
        models = FittedModels(stars=stars, list_users=users, list_items=items)
        if holdout.choice is not None:
            error = holdout.choice.rmse
            searched = {"reg_search": holdout.choice.to_dict()}
        else:
            error = rmse_of(stars, test)
        if holdout.blend is not None:
            error = holdout.blend.rmse
            searched["stars_blend"] = holdout.blend.to_dict()
        elif config.biased and config.lists is not None and config.stars_list_weight > 0:
            searched["stars_rmse_unblended"] = error
            blended = blend_stars_model(
                stars, users, items, list_weight=config.stars_list_weight, offset=config.stars_list_offset
            )
            error = rmse_of(blended, test)
    else:
        models = fit_models(train, config, biases_on_driver=biases_on_driver)
        error = rmse_of(models.stars, test) if config.biased else rmse(models.stars.als, test)
    ranking = holdout_ranking_metrics(
        train, test, models.list_users, models.list_items, k, seed=holdout.seed, max_users=max_users
    )
    return {
        "rmse": error,
        **ranking,
        "holdout_fraction": holdout.fraction,
        "train_ratings": holdout.train_count,
        "test_ratings": holdout.test_count,
        **searched,
    }


def evaluate_holdout_config(
    ratings: DataFrame,
    config: QualityConfig,
    fraction: float = 0.2,
    seed: int = 42,
    k: int = 10,
    *,
    max_users: int = 10_000,
    biases_on_driver: bool = False,
    reg_start: float | None = None,
    reg_max_fits: int = MAX_FITS,
    on_trial: Callable[[float, float], None] | None = None,
    blend: bool = False,
) -> dict[str, Any]:
    """The retrain's evaluation of what it publishes: hold out a random `fraction` of the ratings, fit
    `fit_models(train, config)`, and measure the stars model's RMSE on every held-out pair (cold pairs fall back to
    the biases) and the list model's lists (`holdout_ranking_metrics`, next to popularity).
    A configuration without biases and lists is one plain ALS model judged on both (its RMSE leaves out pairs it
    cannot score). Out: {"rmse", "precision_at_<k>", "recall_at_<k>", "ndcg_at_<k>", "map_at_<k>",
    "users_evaluated", "popularity": {same ranking keys}, "ranking_users_available", "holdout_fraction",
    "train_ratings", "test_ratings"}. Raises ValueError on bad arguments or missing columns.
    With `reg_start` (a biased config only), the stars model's regParam is chosen on this split first
    (`reg_search.search_reg_param`, warm-started there, `on_trial(reg, rmse)` per fit): the chosen model is the one
    measured, and the result has "reg_search" (`RegChoice.to_dict()`). Its RMSE is then measured on the held-out
    part it was chosen on: slightly optimistic, the price of a choice that costs no split of its own.
    `reg_max_fits` bounds the search's fits (1: measure `reg_start` only).
    With `blend` (a biased config with a list model), the list score's blend into the stars is chosen on the same
    held-out part (`holdout_choose_blend`): "rmse" is then the blended model's (when the blend is kept) and the
    result has "stars_blend" (`StarsBlend.to_dict()`); optimistic in the same way.
    The steps (`holdout_split`, `holdout_choose_reg_param`, `holdout_choose_blend`, `holdout_evaluate`) can also run
    apart.
    """
    if blend:  # chosen here, from the stars model alone
        config = replace(config, stars_list_weight=0.0, stars_list_offset=0.0)
    holdout = holdout_split(ratings, fraction, seed)
    try:
        if reg_start is not None and config.biased:
            holdout_choose_reg_param(
                holdout,
                config,
                start=reg_start,
                max_fits=reg_max_fits,
                biases_on_driver=biases_on_driver,
                on_trial=on_trial,
            )
        if blend and config.biased and config.lists is not None:
            holdout_choose_blend(holdout, config, biases_on_driver=biases_on_driver)
        return holdout_evaluate(holdout, config, k, max_users=max_users, biases_on_driver=biases_on_driver)
    finally:
        holdout.release()


def evaluate_protocol(
    ratings: DataFrame,
    configs: Mapping[str, QualityConfig],
    *,
    seed: int = 0,
    ranks: Iterable[int] = TUTORIAL_RANKS,
    k: int = 10,
    num_blocks: int | None = None,
    on_step: Callable[[str], None] | None = None,
    protocol: str = "random",
    reg_starts: Mapping[str, float] | None = None,
    blend: Iterable[str] = (),
    rank_search: Iterable[str] = (),
) -> dict[str, Any]:
    """The tutorial's protocol next to named configurations, on one random 60/20/20 split (`protocol` "random") or
    split by time within each user (`protocol` "time": `split_three_by_time`, each user's latest 20% in test; needs
    the ts column).

    In: `ratings` (user_id, movie_id, rating); `configs` {name: QualityConfig}, e.g. {"defaults": ...}.
    Tutorial: plain ALS with each rank in `ranks` (10 iterations, regParam 0.1) fitted on train; validation RMSE
    per rank; test RMSE of the best rank; its list is its top-k unrated among movies with >= 25 ratings.
    Each configuration: validation and test RMSE of the ratings model fitted on train, and test RMSE of the same
    model refitted on train+validation (the final model). Lists are judged on test for every approach (each
    configuration's, the tutorial's, popularity), all fitted on train+validation, excluding train+validation
    movies, on the test ratings of users seen in train+validation (held-out rating >= 4 is relevant).
    `reg_starts` {name: regParam}: those (biased) configurations choose their stars regParam first as a retrain does
    (`reg_search.search_reg_param` from that start), fitted on train and judged on validation; the chosen value is
    then refitted on train+validation, and the entry has "reg_search". Those also named in `rank_search` choose
    their rank with it as a retrain does (the search's budget applies; "reg_search"'s "rank").
    `blend` (names of biased configurations with a list model): those choose the list score's blend into the stars
    as a retrain does (`blend.choose_stars_blend`, both models fitted on train, judged on validation) and apply it to
    the refit; the entry has "stars_blend" and "test_rmse_refit_unblended" next to the (blended) "test_rmse_refit".
    `on_step(message)` is called as each step finishes (for progress output).
    Out: a plain, JSON-serialisable dict:
      "split": {"seed", "protocol", "train", "validation", "test"} (rating counts);
      "tutorial": {"max_iter", "reg_param", "validation_rmse": {"<rank>": rmse}, "best_rank", "test_rmse",
                   "test_rmse_refit", "lists", "seconds"};
      "configs": {name: {"config": QualityConfig.to_dict(), "validation_rmse", "test_rmse", "test_rmse_refit",
                         "lists", "seconds"}};
      "popularity": lists;
    where lists = `list_metrics` ({"precision_at_<k>", "recall_at_<k>", "ndcg_at_<k>", "map_at_<k>",
    "users_evaluated", "coverage_at_<k>", "novelty_at_<k>", "popularity_percentile_at_<k>", "personalisation_at_<k>",
    and "diversity_at_<k>" in each approach's own item factors, none for popularity). Plain ALS RMSE leaves out
    pairs it cannot score (as the tutorial);
    biased ALS scores every pair. Runs many Spark jobs; caches and unpersists the split.
    Raises ValueError on a missing column or an empty split part.
    """
    require_columns(ratings, "ratings", ("user_id", "movie_id", "rating"))
    ranks = tuple(ranks)
    blended = frozenset(blend)
    rank_searched = frozenset(rank_search)
    if not ranks:
        raise ValueError("ranks must not be empty")
    if protocol not in ("random", "time"):
        raise ValueError(f"protocol must be 'random' or 'time', got {protocol!r}")
    notify = on_step or (lambda message: None)
    base = ratings.select("user_id", "movie_id", F.col("rating").cast("float").alias("rating"))
    if protocol == "time":
        require_columns(ratings, "ratings", ("ts",))
        timed = ratings.select("user_id", "movie_id", F.col("rating").cast("float").alias("rating"), "ts")
        parts = [part.drop("ts") for part in split_three_by_time(timed)]
    else:
        parts = split_three(base, seed)
    train, validation, test = (part.cache() for part in parts)
    full_train = train.unionByName(validation).cache()
    try:
        counts = {"train": train.count(), "validation": validation.count(), "test": test.count()}
        if min(counts.values()) == 0:
            raise ValueError(f"a split part is empty: {counts}; there are too few ratings to evaluate")
        known_test = test.join(full_train.select("user_id").distinct(), "user_id", "left_semi").cache()
        result: dict[str, Any] = {"split": {"seed": seed, "protocol": protocol, **counts}}

        tutorial: dict[str, Any] = {
            "max_iter": TUTORIAL_MAX_ITER,
            "reg_param": TUTORIAL_REG_PARAM,
            "validation_rmse": {},
        }
        best_rank, best_model, best_rmse = None, None, math.inf
        for rank in ranks:
            params = ALSParams(
                rank=rank, max_iter=TUTORIAL_MAX_ITER, reg_param=TUTORIAL_REG_PARAM, seed=seed, num_blocks=num_blocks
            )
            started = time.perf_counter()
            model = fit_als(train, params)
            error = rmse(model, validation)
            tutorial["validation_rmse"][str(rank)] = error
            notify(f"tutorial rank {rank}: validation RMSE {error:.4f} ({time.perf_counter() - started:.1f}s)")
            if error < best_rmse:
                best_rank, best_model, best_rmse = rank, model, error
        tutorial["best_rank"] = best_rank
        tutorial["test_rmse"] = rmse(best_model, test)
        started = time.perf_counter()
        refit = fit_als(
            full_train,
            ALSParams(
                rank=best_rank,
                max_iter=TUTORIAL_MAX_ITER,
                reg_param=TUTORIAL_REG_PARAM,
                seed=seed,
                num_blocks=num_blocks,
            ),
        )
        tutorial["test_rmse_refit"] = rmse(refit, test)
        items = restrict_items(refit.itemFactors, full_train, TUTORIAL_MIN_RATINGS)
        tutorial["lists"] = list_metrics(
            top_n_unrated(refit.userFactors, items, full_train, k), full_train, known_test, k, item_factors=items
        )
        tutorial["seconds"] = time.perf_counter() - started
        result["tutorial"] = tutorial
        notify(
            f"tutorial best rank {best_rank}: test RMSE {tutorial['test_rmse']:.4f}, "
            f"NDCG@{k} {tutorial['lists'][f'ndcg_at_{k}']:.4f}"
        )

        result["configs"] = {}
        for name, config in configs.items():
            started = time.perf_counter()
            entry = _evaluate_config(
                config,
                train,
                validation,
                test,
                full_train,
                known_test,
                k,
                reg_start=(reg_starts or {}).get(name),
                rank_search=name in rank_searched,
                train_count=counts["train"],
                blend=name in blended,
                notify=lambda message, name=name: notify(f"{name}: {message}"),
            )
            entry["seconds"] = time.perf_counter() - started
            result["configs"][name] = entry
            notify(
                f"{name}: test RMSE {entry['test_rmse_refit']:.4f}, NDCG@{k} {entry['lists'][f'ndcg_at_{k}']:.4f} "
                f"({entry['seconds']:.1f}s)"
            )

        started = time.perf_counter()
        result["popularity"] = list_metrics(popularity_top_n(full_train, k), full_train, known_test, k)
        result["popularity"]["seconds"] = time.perf_counter() - started
        notify(f"popularity: NDCG@{k} {result['popularity'][f'ndcg_at_{k}']:.4f}")
        known_test.unpersist()
        return result
    finally:
        for part in (train, validation, test, full_train):
            part.unpersist()


def _evaluate_config(
    config: QualityConfig,
    train: DataFrame,
    validation: DataFrame,
    test: DataFrame,
    full_train: DataFrame,
    known_test: DataFrame,
    k: int,
    *,
    reg_start: float | None = None,
    rank_search: bool = False,
    train_count: int | None = None,
    blend: bool = False,
    notify: Callable[[str], None] = lambda message: None,
) -> dict[str, Any]:
    if blend:  # chosen below, from the stars model alone
        config = replace(config, stars_list_weight=0.0, stars_list_offset=0.0)
    entry: dict[str, Any] = {"config": config.to_dict()}
    if config.biased and reg_start is not None:
        choice, model = search_reg_param(
            train,
            validation,
            config,
            start=reg_start,
            on_trial=lambda reg, error: notify(f"regParam {reg:.4g}: validation RMSE {error:.4f}"),
            train_count=train_count,
            **({} if rank_search else {"rank_max_ratings": 0}),
        )
        entry["reg_search"] = choice.to_dict()
        for rank, error, _ in choice.rank_trials:
            notify(f"rank {rank} at regParam {choice.chosen:.4g}: validation RMSE {error:.4f}")
        rank = choice.rank or config.ratings.rank
        config = replace(config, ratings=replace(config.ratings, reg_param=choice.chosen, rank=rank))
        entry["config"] = config.to_dict()
    if config.biased:
        if reg_start is None:
            model = fit_biased_als(train, config.ratings, reg_user=config.reg_user, reg_item=config.reg_item)
        entry["validation_rmse"], entry["test_rmse"] = rmse_of(model, validation), rmse_of(model, test)
        final = fit_biased_als(full_train, config.ratings, reg_user=config.reg_user, reg_item=config.reg_item)
        entry["test_rmse_refit"] = rmse_of(final, test)
        own_users, own_items = biased_factors(final)
        if blend and config.lists is not None:
            # As a retrain: the blend is chosen with both models fitted on train, judged on validation, then
            # applied to both models refitted on train+validation and judged once on test.
            list_users, list_items = fit_list_model(train, config.lists)
            chosen = choose_stars_blend(model, list_users, list_items, validation)
            entry["stars_blend"] = chosen.to_dict()
            notify(
                f"stars blend: list weight {chosen.list_weight:.3f}, offset {chosen.offset:.3f}, validation RMSE "
                f"{chosen.rmse_before:.4f} -> {chosen.rmse:.4f}" + ("" if chosen.kept else " (not kept)")
            )
            config = replace(config, stars_list_weight=chosen.list_weight, stars_list_offset=chosen.offset)
            entry["config"] = config.to_dict()
            entry["test_rmse_refit_unblended"] = entry["test_rmse_refit"]
    else:
        model = fit_als(train, config.ratings)
        entry["validation_rmse"], entry["test_rmse"] = rmse(model, validation), rmse(model, test)
        final = fit_als(full_train, config.ratings)
        entry["test_rmse_refit"] = rmse(final, test)
        own_users, own_items = final.userFactors, final.itemFactors
    if config.lists is None:
        users, items = own_users, own_items
    else:
        users, items = fit_list_model(full_train, config.lists)
        if config.biased and config.stars_list_weight > 0:
            blended = blend_stars_model(
                final, users, items, list_weight=config.stars_list_weight, offset=config.stars_list_offset
            )
            entry["test_rmse_refit"] = rmse_of(blended, test)
    entry["lists"] = list_metrics(
        top_n_unrated(users, items, full_train, k), full_train, known_test, k, item_factors=items
    )
    return entry


# --------------------------------------------------------------------------------------------------
# Helpers


def _count_distinct(df: DataFrame, column: str) -> int:
    return int(df.select(column).distinct().count())


def _collect_int_columns(df: DataFrame) -> list[np.ndarray]:
    """Every column of `df` as an int64 numpy array, through Arrow (no Python objects per row)."""
    table = df.toArrow()
    return [table.column(i).to_numpy().astype(np.int64) for i in range(table.num_columns)]
