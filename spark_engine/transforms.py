"""Pure Spark transforms for training and evaluating the recommender.

Every public function takes DataFrames (and a frozen parameter dataclass where there are several knobs)
and returns a DataFrame, a fitted model or plain numbers; none writes files or touches Django.

Top-N and similar-item selection avoid `ALSModel.recommendForAllUsers` (slow here, and it cannot skip
movies a user already rated). Instead the factors (162K users + 59K movies x rank 10 is under 10 MB) and
an index of the rated pairs are collected once and broadcast; each Spark task takes a range of blocks of
users, scores a block with one matrix product, masks rated movies and selects the exact top N with a
sampled threshold (see `_top_k_per_row`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from spark_engine.schemas import RECOMMENDATIONS_SCHEMA, SIMILAR_SCHEMA

# Score matrix budget per block of users (float32): about 70 users x 59K movies. Small blocks stay in
# cache; measured on this machine the whole selection ran ~30% faster with 64 users per block than 1024.
BLOCK_BYTES = 16 * 1024 * 1024
MAX_BLOCK_ROWS = 4096
# Stage 1 of the top-k selection looks at every SAMPLE_STRIDE-th column only (see `_top_k_per_row`).
SAMPLE_STRIDE = 8

_LOWEST = np.finfo(np.float32).min


@dataclass(frozen=True)
class ALSParams:
    rank: int = 10
    max_iter: int = 10
    reg_param: float = 0.1
    implicit_prefs: bool = False
    alpha: float = 1.0
    nonnegative: bool = False
    seed: int = 42
    checkpoint_interval: int = 5
    # User and item blocks for ALS; None keeps Spark's default (10). Small data fits much faster with 1–2.
    num_blocks: int | None = None

    def __post_init__(self) -> None:
        if self.rank < 1 or self.max_iter < 1:
            raise ValueError(f"rank and max_iter must be positive, got rank={self.rank} max_iter={self.max_iter}")
        if self.num_blocks is not None and self.num_blocks < 1:
            raise ValueError(f"num_blocks must be positive or None, got {self.num_blocks}")
        if self.reg_param < 0 or self.alpha < 0:
            raise ValueError(f"reg_param and alpha must be >= 0, got {self.reg_param} and {self.alpha}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------
# Training and splitting


def fit_als(ratings: DataFrame, params: ALSParams) -> ALSModel:
    """Fit matrix-factorisation ALS.

    In: `ratings` with columns user_id (int), movie_id (int), rating (float); other columns are ignored.
    Out: the fitted `ALSModel`; its `userFactors` / `itemFactors` have columns (id int, features array<float>).
    The model uses coldStartStrategy "drop", so `transform` omits pairs with an unknown user or movie.
    Raises ValueError if a column is missing; Spark raises if ids do not fit in an int.
    """
    _require_columns(ratings, "ratings", ("user_id", "movie_id", "rating"))
    blocks = {}
    if params.num_blocks is not None:
        blocks = {"numUserBlocks": params.num_blocks, "numItemBlocks": params.num_blocks}
    als = ALS(
        rank=params.rank,
        maxIter=params.max_iter,
        regParam=params.reg_param,
        implicitPrefs=params.implicit_prefs,
        alpha=params.alpha,
        nonnegative=params.nonnegative,
        seed=params.seed,
        checkpointInterval=params.checkpoint_interval,
        userCol="user_id",
        itemCol="movie_id",
        ratingCol="rating",
        coldStartStrategy="drop",
        **blocks,
    )
    return als.fit(ratings.select("user_id", "movie_id", "rating"))


def split_holdout(ratings: DataFrame, fraction: float = 0.2, seed: int = 42) -> tuple[DataFrame, DataFrame]:
    """Randomly split ratings into (train, test), with about `fraction` of the rows in test.

    Columns are unchanged. Deterministic for the same input partitioning and seed. Cache both halves if
    they are used more than once. Raises ValueError unless 0 < fraction < 1.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    train, test = ratings.randomSplit([1.0 - fraction, fraction], seed=seed)
    return train, test


def sample_users(ratings: DataFrame, fraction: float, seed: int = 42) -> DataFrame:
    """All ratings of about `fraction` of the users, chosen by a seeded hash of user_id (deterministic).

    Keeps each sampled user's whole history, so per-user ranking metrics stay meaningful. Raises
    ValueError unless 0 < fraction <= 1 or if user_id is missing.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    _require_columns(ratings, "ratings", ("user_id",))
    if fraction == 1.0:
        return ratings
    buckets = 1_000_000
    return ratings.where(F.pmod(F.xxhash64(F.col("user_id"), F.lit(seed)), F.lit(buckets)) < int(fraction * buckets))


# --------------------------------------------------------------------------------------------------
# Top-N recommendations and similar items


def top_n_unrated(
    user_factors: DataFrame,
    item_factors: DataFrame,
    rated: DataFrame,
    n: int,
    *,
    num_partitions: int | None = None,
    on_driver: bool = False,
) -> DataFrame:
    """Exact top-n unrated movies for every user, scored by the dot product of factors.

    In: `user_factors` and `item_factors` with columns (id int, features array<float>) as
    `ALSModel.userFactors` / `itemFactors` (rows with null features are ignored); `rated` with columns
    (user_id, movie_id) listing movies each user must not be recommended (duplicates, unknown users and
    movies without factors are fine).
    Out: RECOMMENDATIONS_SCHEMA (user_id, movie_id, rank, score); for every user with factors exactly
    min(n, number of movies with factors the user has not rated) rows, rank 1..that number, ordered by
    score descending then movie_id ascending (so ties are deterministic).
    Side effects: runs Spark jobs now to collect both factor tables and `rated` (as an index of 4 bytes
    per pair: 100 MB for 25M ratings) to the driver, and broadcasts them; the returned DataFrame is lazy.
    Raises ValueError on n < 1, missing columns, duplicate ids or factor lengths that differ.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    _require_columns(user_factors, "user_factors", ("id", "features"))
    _require_columns(item_factors, "item_factors", ("id", "features"))
    _require_columns(rated, "rated", ("user_id", "movie_id"))
    spark = user_factors.sparkSession
    user_ids, user_matrix = _collect_factors(user_factors, "user_factors")
    item_ids, item_matrix = _collect_factors(item_factors, "item_factors")
    if user_ids.size == 0 or item_ids.size == 0:
        return spark.createDataFrame([], RECOMMENDATIONS_SCHEMA)
    if user_matrix.shape[1] != item_matrix.shape[1]:
        raise ValueError(f"user factors have length {user_matrix.shape[1]}, item factors {item_matrix.shape[1]}")
    # Grouping the rated pairs per user in Spark (collect_list + join) cost 3-4x the CPU of collecting them
    # once as Arrow and indexing them with numpy, and needed a shuffle; the index is small enough to broadcast.
    rated_start, rated_cols = _rated_index(rated, user_ids, item_ids)
    payload = (user_ids, user_matrix, item_ids, np.ascontiguousarray(item_matrix.T), rated_start, rated_cols)
    return _map_blocks(
        spark, payload, _top_n_block, RECOMMENDATIONS_SCHEMA, user_ids.size, item_ids.size, n, num_partitions, on_driver
    )


def similar_items(
    item_factors: DataFrame, k: int, *, num_partitions: int | None = None, on_driver: bool = False
) -> DataFrame:
    """The k most similar other movies for every movie, by cosine similarity of factors.

    In: `item_factors` with columns (id int, features array<float>); rows with null features are ignored.
    Out: SIMILAR_SCHEMA (movie_id, similar_id, rank, score) with exactly min(k, movies - 1) rows per movie,
    never the movie itself, ordered by score descending then similar_id ascending. A zero factor vector
    has similarity 0 to everything (no NaN).
    Side effect: collects and broadcasts the item factors now; the result is lazy.
    Raises ValueError on k < 1, missing columns or duplicate ids.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    _require_columns(item_factors, "item_factors", ("id", "features"))
    spark = item_factors.sparkSession
    item_ids, matrix = _collect_factors(item_factors, "item_factors")
    if item_ids.size == 0:
        return spark.createDataFrame([], SIMILAR_SCHEMA)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    payload = (item_ids, unit, np.ascontiguousarray(unit.T))
    return _map_blocks(
        spark, payload, _similar_block, SIMILAR_SCHEMA, item_ids.size, item_ids.size, k, num_partitions, on_driver
    )


def popularity_scores(train: DataFrame) -> DataFrame:
    """Popularity as one-dimensional "item factors".

    In: `train` with column movie_id. Out: (id int, features array<float>) with features = [number of
    ratings], so `top_n_unrated` with user vectors [1.0] ranks movies by popularity (see
    `popularity_top_n`). Raises ValueError if movie_id is missing.
    """
    _require_columns(train, "train", ("movie_id",))
    return (
        train.groupBy("movie_id")
        .count()
        .select(
            F.col("movie_id").cast("int").alias("id"),
            F.array(F.col("count").cast("float")).alias("features"),
        )
    )


def popularity_top_n(train: DataFrame, n: int, *, num_partitions: int | None = None) -> DataFrame:
    """Popularity baseline: for every user in `train`, the n most-rated movies they have not rated.

    In: `train` with columns (user_id, movie_id). Out: RECOMMENDATIONS_SCHEMA with score = number of
    ratings, ties by movie_id, same guarantees as `top_n_unrated`. Raises ValueError like `top_n_unrated`.
    """
    _require_columns(train, "train", ("user_id", "movie_id"))
    users = (
        train.select(F.col("user_id").cast("int").alias("id"))
        .distinct()
        .withColumn("features", F.array(F.lit(1.0).cast("float")))
    )
    return top_n_unrated(users, popularity_scores(train), train, n, num_partitions=num_partitions)


# --------------------------------------------------------------------------------------------------
# Evaluation


def rmse(model: ALSModel, test: DataFrame) -> float:
    """Root-mean-square error of `model` on `test` (columns user_id, movie_id, rating).

    Pairs whose user or movie has no factors are left out (cold start), so the result is NaN only if no
    pair can be scored. Raises ValueError if a column is missing.
    """
    _require_columns(test, "test", ("user_id", "movie_id", "rating"))
    predictions = model.transform(test.select("user_id", "movie_id", "rating")).where(~F.isnan("prediction"))
    error = predictions.agg(F.sqrt(F.avg((F.col("prediction") - F.col("rating")) ** 2))).first()[0]
    return math.nan if error is None else float(error)


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
    _require_columns(recommended, "recommended", ("user_id", "movie_id", "rank"))
    _require_columns(test, "test", ("user_id", "movie_id", "rating"))
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
    Out: {"precision_at_<k>", "recall_at_<k>", "ndcg_at_<k>", "map_at_<k>", "users_evaluated",
    "popularity": {same keys}, "ranking_users_available"}. Raises ValueError on max_users < 1.
    """
    if max_users < 1:
        raise ValueError(f"max_users must be positive, got {max_users}")
    user_ids, user_matrix = _collect_factors(user_factors, "user_factors")
    item_ids, item_matrix = _collect_factors(item_factors, "item_factors")

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
    model_rec = _local_top_k(sample, user_matrix[rows], item_ids, item_matrix, train_users, train_movies, k)
    popularity_rec = _local_top_k(
        sample,
        np.ones((sample.size, 1), np.float32),
        pop_ids,
        pop_counts.astype(np.float32)[:, None],
        train_users,
        train_movies,
        k,
    )
    return {
        **ranking_metrics_of_arrays(*model_rec, rel_users, rel_movies, k),
        "popularity": ranking_metrics_of_arrays(*popularity_rec, rel_users, rel_movies, k),
        "ranking_users_available": int(candidates.size),
    }


# --------------------------------------------------------------------------------------------------
# Helpers (the `_…_blocks` functions run inside Python workers)


def _require_columns(df: DataFrame, name: str, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; has {df.columns}")


def _collect_factors(factors: DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """(ids sorted ascending as int64, float32 matrix with one row per id)."""
    table = factors.where(F.col("features").isNotNull()).select("id", "features").toArrow()
    if table.num_rows == 0:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    ids = table.column("id").to_numpy().astype(np.int64)
    features = table.column("features").combine_chunks()
    lengths = features.value_lengths().to_numpy()
    if lengths.min() != lengths.max():
        raise ValueError(f"{name} has feature vectors of lengths {lengths.min()} to {lengths.max()}")
    values = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    matrix = values.reshape(ids.size, int(lengths[0]))
    order = np.argsort(ids, kind="stable")
    ids, matrix = ids[order], matrix[order]
    if np.any(ids[1:] == ids[:-1]):
        raise ValueError(f"{name} has duplicate ids")
    return ids, matrix


def _collect_int_columns(df: DataFrame) -> list[np.ndarray]:
    """Every column of `df` as an int64 numpy array, through Arrow (no Python objects per row)."""
    table = df.toArrow()
    return [table.column(i).to_numpy().astype(np.int64) for i in range(table.num_columns)]


def _local_top_k(
    user_ids: np.ndarray,
    user_matrix: np.ndarray,
    item_ids: np.ndarray,
    item_matrix: np.ndarray,
    rated_users: np.ndarray,
    rated_movies: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact top k unrated items per user on the driver, in blocks: (user ids, item ids, ranks 1..k).

    `user_ids` and `item_ids` sorted ascending; (rated_users, rated_movies) are the pairs to exclude.
    The same blocks as `top_n_unrated`, without Spark.
    """
    rated_start, rated_cols = _rated_index_of_arrays(rated_users, rated_movies, user_ids, item_ids)
    payload = (
        user_ids,
        user_matrix.astype(np.float32),
        item_ids,
        np.ascontiguousarray(item_matrix.T.astype(np.float32)),
        rated_start,
        rated_cols,
    )
    block_rows = _block_rows(item_ids.size)
    batches = [
        _top_n_block(payload, lo, min(lo + block_rows, user_ids.size), k) for lo in range(0, user_ids.size, block_rows)
    ]
    if not batches:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    table = pa.Table.from_batches(batches)
    return tuple(table.column(name).to_numpy().astype(np.int64) for name in ("user_id", "movie_id", "rank"))


def _rated_index(rated: DataFrame, user_ids: np.ndarray, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR index of `rated` over (position in user_ids, position in item_ids): row i's rated columns are
    cols[start[i]:start[i + 1]]. Pairs with an unknown user or movie are dropped."""
    columns = rated.select(F.col("user_id").cast("int"), F.col("movie_id").cast("int")).dropna().toArrow()
    codes = [
        _rated_codes(batch.column(0).to_numpy(), batch.column(1).to_numpy(), user_ids, item_ids)
        for batch in columns.to_batches()
    ]
    del columns
    return _csr_of_codes(codes, user_ids.size, item_ids.size)


def _rated_index_of_arrays(
    users: np.ndarray, movies: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_rated_index` of pairs already on the driver."""
    return _csr_of_codes([_rated_codes(users, movies, user_ids, item_ids)], user_ids.size, item_ids.size)


def _rated_codes(users: np.ndarray, movies: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
    if users.size == 0 or user_ids.size == 0 or item_ids.size == 0:
        return np.empty(0, np.int64)
    rows = np.minimum(np.searchsorted(user_ids, users), user_ids.size - 1)
    cols = np.minimum(np.searchsorted(item_ids, movies), item_ids.size - 1)
    known = (user_ids[rows] == users) & (item_ids[cols] == movies)
    return rows[known].astype(np.int64) * item_ids.size + cols[known]


def _csr_of_codes(codes: list[np.ndarray], n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    flat = np.sort(np.concatenate(codes)) if codes else np.empty(0, np.int64)
    start = np.searchsorted(flat, np.arange(n_users + 1, dtype=np.int64) * n_items)
    return start, (flat % max(n_items, 1)).astype(np.int32)


def _map_blocks(
    spark: SparkSession,
    payload: tuple,
    block: Callable[[tuple, int, int, int], pa.RecordBatch],
    schema: StructType,
    rows: int,
    columns: int,
    k: int,
    num_partitions: int | None,
    on_driver: bool = False,
) -> DataFrame:
    """Run `block` over blocks of the `rows` x `columns` score matrix and return the rows as a DataFrame.

    Distributed (default): broadcast `payload`; the only Spark input is the block numbers, split into
    contiguous ranges, one per task; two tasks per core even out stragglers. `on_driver`: the same
    blocks computed here, for small data, where starting Python workers costs more than the work
    (about 3 s of a 28 s ml-latest-small retrain).
    """
    block_rows = _block_rows(columns)
    blocks = -(-rows // block_rows)
    if on_driver:
        batches = [block(payload, lo, min(lo + block_rows, rows), k) for lo in range(0, rows, block_rows)]
        if not batches:
            return spark.createDataFrame([], schema)
        return spark.createDataFrame(pa.Table.from_batches(batches).to_pandas(), schema)
    partitions = max(1, min(blocks, num_partitions or 2 * spark.sparkContext.defaultParallelism))
    shared = spark.sparkContext.broadcast(payload)
    tasks = spark.range(0, blocks, numPartitions=partitions)
    worker = functools.partial(_blocks_worker, shared=shared, k=k, block_rows=block_rows, rows=rows, block=block)
    return tasks.mapInArrow(worker, schema)


def _block_rows(columns: int) -> int:
    # Computed on the driver and shipped with the worker function, so tests can shrink BLOCK_BYTES.
    return int(max(1, min(MAX_BLOCK_ROWS, BLOCK_BYTES // (4 * max(columns, 1)))))


def _result_batch(names: tuple[str, ...], *columns: np.ndarray) -> pa.RecordBatch:
    arrays = [pa.array(c.astype(np.int32)) for c in columns[:-1]] + [pa.array(columns[-1], pa.float32())]
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def _top_n_block(payload: tuple, lo: int, hi: int, k: int) -> pa.RecordBatch:
    """Users lo..hi-1 of `top_n_unrated`'s payload: score, mask rated movies, keep the exact top k."""
    user_ids, user_matrix, item_ids, item_t, rated_start, rated_cols = payload
    scores = user_matrix[lo:hi] @ item_t
    per_row = np.diff(rated_start[lo : hi + 1])
    excluded = rated_cols[rated_start[lo] : rated_start[hi]]
    scores[np.repeat(np.arange(hi - lo), per_row), excluded] = -np.inf
    rows, cols, ranks, values = _top_k_per_row(scores, k)
    return _result_batch(("user_id", "movie_id", "rank", "score"), user_ids[lo + rows], item_ids[cols], ranks, values)


def _similar_block(payload: tuple, lo: int, hi: int, k: int) -> pa.RecordBatch:
    """Movies lo..hi-1 of `similar_items`' payload: cosine against all, never the movie itself."""
    item_ids, unit, unit_t = payload
    scores = unit[lo:hi] @ unit_t
    scores[np.arange(hi - lo), np.arange(lo, hi)] = -np.inf
    rows, cols, ranks, values = _top_k_per_row(scores, k)
    return _result_batch(
        ("movie_id", "similar_id", "rank", "score"), item_ids[lo + rows], item_ids[cols], ranks, values
    )


def _blocks_worker(
    tasks: Iterator[pa.RecordBatch], shared: Any, k: int, block_rows: int, rows: int, block: Callable
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: each task row names a block number; run `block` on those rows of the payload."""
    payload = shared.value
    for task in tasks:
        for number in task.column(0).to_numpy():
            lo = int(number) * block_rows
            yield block(payload, lo, min(lo + block_rows, rows), k)


def _row_thresholds(values: np.ndarray, k: int) -> np.ndarray:
    """Each row's k-th largest value, raised to the lowest finite float32 so `>=` never selects -inf."""
    width = values.shape[1]
    if width < k:
        return np.full(values.shape[0], _LOWEST, np.float32)
    kth = np.partition(values, width - k, axis=1)[:, width - k]
    return np.maximum(kth, _LOWEST)


def _top_k_per_row(
    scores: np.ndarray, k: int, sample_stride: int = SAMPLE_STRIDE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Exact top k finite entries of each row of `scores` (-inf marks excluded entries).

    Returns flat arrays (rows, cols, ranks 1..k, values), ordered by row, value descending, column
    ascending; a row with fewer than k finite entries yields all of them.

    A full argpartition of every row was the bottleneck (about 60 s of CPU for 162K x 59K), so:
    1. the k-th largest of every `stride`-th column is a lower bound on the row's k-th largest, hence every
       true top-k entry is >= it, and only about k * stride entries per row pass that cut;
    2. the exact k-th largest among those candidates (ties included) leaves about k per row;
    3. a small lexsort orders the survivors and cuts ties at k by column.
    """
    scores = np.ascontiguousarray(scores)
    n_rows, width = scores.shape
    k = min(k, width)
    if n_rows == 0 or k == 0:
        empty = np.empty(0, np.int64)
        return empty, empty, empty, np.empty(0, np.float32)

    stride = max(1, min(sample_stride, width // (4 * k)))
    cut = _row_thresholds(scores[:, ::stride], k)
    flat = np.flatnonzero(scores >= cut[:, None])
    rows, cols = np.divmod(flat, width)
    values = scores.ravel()[flat]

    counts = np.bincount(rows, minlength=n_rows)
    slots = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
    padded = np.full((n_rows, int(counts.max())), -np.inf, np.float32)
    padded[rows, slots] = values
    keep = values >= _row_thresholds(padded, k)[rows]
    rows, cols, values = rows[keep], cols[keep], values[keep]

    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    counts = np.bincount(rows, minlength=n_rows)
    ranks = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
    keep = ranks < k
    return rows[keep], cols[keep], ranks[keep] + 1, values[keep]
