"""Top-k kernels: every user's top-N unrated movies and every movie's most similar movies, from factor tables.

Top-N and similar-item selection avoid `ALSModel.recommendForAllUsers` (slow here, and it cannot skip
movies a user already rated). Instead the factors (162K users + 59K movies x rank 10 is under 10 MB) and
an index of the rated pairs are collected once and broadcast; each Spark task takes a range of blocks of
users, scores it against the movies in descending order of factor norm, chunk by chunk, masks rated movies and
drops a user once no remaining movie can reach their top N by its norm bound (`_top_n_block_pruned`; the old
kernel, one product per block and a sampled threshold, is `_top_n_block` / `_top_k_per_row`). `local_top_k` runs
the same blocks on the driver without Spark. Pure: no Django, no files.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from spark_engine.frames import collect_factors, require_columns
from spark_engine.schemas import RATED_RECOMMENDATIONS_SCHEMA, RECOMMENDATIONS_SCHEMA, SIMILAR_SCHEMA

# Score matrix budget per block of users (float32): about 70 users x 59K movies. Small blocks stay in
# cache; measured on this machine the whole selection ran ~30% faster with 64 users per block than 1024.
BLOCK_BYTES = 16 * 1024 * 1024


MAX_BLOCK_ROWS = 4096

# The pruned kernel's budget per block of users: its score chunks are at most 8 x FIRST_CHUNK movies wide for the
# users still in play (about 256 users per block).
PRUNED_BLOCK_BYTES = 16 * 1024 * 1024


# Stage 1 of the top-k selection looks at every SAMPLE_STRIDE-th column only (see `_top_k_per_row`).
SAMPLE_STRIDE = 8


_LOWEST = np.finfo(np.float32).min


# The pruned top-N kernel (`_top_n_block_pruned`) scores movies in chunks, highest factor norm first: FIRST_CHUNK
# movies, then up to where CHUNK_QUANTILE of the users still in play could stop (at least FIRST_CHUNK more, at most
# 8 x FIRST_CHUNK: the memory of a chunk is bounded as the block's is). On 2,000 users of a list model fitted on the
# ML-25M-shaped synthetic data, on the driver: 2048 with 256-user blocks 0.20 s CPU, 1024 with 512 0.29 s, 4096 with
# 128 0.22 s; smaller blocks pay more per chunk (the unpruned kernel: 0.32 s).
FIRST_CHUNK = 2048
CHUNK_QUANTILE = 0.5

# Cauchy-Schwarz: u.v <= |u| |v|. A float32 dot product of rank r is within r * 2^-24 * |u| |v| of the exact one
# (under 2e-5 relative for r <= 256), so |u| |v| (1 + BOUND_SLACK) bounds every computed score.
BOUND_SLACK = 1e-4


@dataclass(frozen=True)
class PairScorer:
    """A second model's score of the pairs `top_n_unrated` selects: clip(user_row . item_row, low, high) in float64.

    `user_ids` / `item_ids` sorted ascending with one row each of `user_matrix` / `item_matrix`; an id absent there
    uses `default_user` / `default_item`. A biased model fits this form with its bias terms as extra columns
    (`fitting.stars_pair_scorer`), so its predicted stars come out of the same pass that ranks the lists, with no
    join of the top-N against the factors afterwards.
    """

    user_ids: np.ndarray
    user_matrix: np.ndarray
    item_ids: np.ndarray
    item_matrix: np.ndarray
    default_user: np.ndarray
    default_item: np.ndarray
    low: float = -np.inf
    high: float = np.inf

    def rows_for(self, ids: np.ndarray, *, users: bool) -> np.ndarray:
        """The rows of `ids` (user or item ids), the default row where an id is unknown."""
        known_ids, matrix, default = (
            (self.user_ids, self.user_matrix, self.default_user)
            if users
            else (self.item_ids, self.item_matrix, self.default_item)
        )
        rows = np.full((ids.size, default.size), default, np.float64)
        if known_ids.size:
            at = np.minimum(np.searchsorted(known_ids, ids), known_ids.size - 1)
            found = known_ids[at] == ids
            rows[found] = matrix[at[found]]
        return rows

    def aligned_to(self, user_ids: np.ndarray, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(user rows in the order of `user_ids`, item rows in the order of `item_ids`): what the blocks index."""
        return self.rows_for(user_ids, users=True), self.rows_for(item_ids, users=False)


# --------------------------------------------------------------------------------------------------
# Kernels


def top_n_unrated(
    user_factors: DataFrame,
    item_factors: DataFrame,
    rated: DataFrame | tuple[np.ndarray, np.ndarray],
    n: int,
    *,
    num_partitions: int | None = None,
    on_driver: bool = False,
    rate_with: PairScorer | None = None,
    collected: tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
    prune: bool = True,
) -> DataFrame:
    """Exact top-n unrated movies for every user, scored by the dot product of factors.

    In: `user_factors` and `item_factors` with columns (id int, features array<float>) as
    `ALSModel.userFactors` / `itemFactors` (rows with null features are ignored); `rated` with columns
    (user_id, movie_id) listing movies each user must not be recommended (duplicates, unknown users and
    movies without factors are fine), or those two columns as integer arrays already on the driver (then no Spark
    job collects them: for 25M pairs Spark's `toArrow` took 5 CPU s, reading the Parquet with pyarrow 0.35 s).
    Out: RECOMMENDATIONS_SCHEMA (user_id, movie_id, rank, score); for every user with factors exactly
    min(n, number of movies with factors the user has not rated) rows, rank 1..that number, ordered by
    score descending then movie_id ascending (so ties are deterministic). With `rate_with`,
    RATED_RECOMMENDATIONS_SCHEMA: the same rows with that scorer's `prediction` of each pair.
    Side effects: runs Spark jobs now to collect both factor tables and `rated` (as an index of 4 bytes
    per pair: 100 MB for 25M ratings) to the driver, and broadcasts them; the returned DataFrame is lazy.
    `collected`: both factor tables as `frames.collect_factors` returns them, when the caller has them already
    (then no job collects them again). `prune`: skip the movies whose norm bound says they cannot make a user's
    top n (`_top_n_block_pruned`, the default); False scores every pair (`_top_n_block`), for comparison.
    Raises ValueError on n < 1, missing columns, duplicate ids or factor lengths that differ.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    require_columns(user_factors, "user_factors", ("id", "features"))
    require_columns(item_factors, "item_factors", ("id", "features"))
    if isinstance(rated, DataFrame):
        require_columns(rated, "rated", ("user_id", "movie_id"))
    spark = user_factors.sparkSession
    if collected is None:
        collected = collect_factors(user_factors, "user_factors"), collect_factors(item_factors, "item_factors")
    (user_ids, user_matrix), (item_ids, item_matrix) = collected
    if user_ids.size == 0 or item_ids.size == 0:
        return spark.createDataFrame([], RECOMMENDATIONS_SCHEMA)
    if user_matrix.shape[1] != item_matrix.shape[1]:
        raise ValueError(f"user factors have length {user_matrix.shape[1]}, item factors {item_matrix.shape[1]}")
    # Grouping the rated pairs per user in Spark (collect_list + join) cost 3-4x the CPU of collecting them
    # once as Arrow and indexing them with numpy, and needed a shuffle; the index is small enough to broadcast.
    if isinstance(rated, DataFrame):
        rated_start, rated_cols = _rated_index(rated, user_ids, item_ids)
    else:
        rated_start, rated_cols = _rated_index_of_arrays(*rated, user_ids, item_ids)
    payload = _top_n_payload(user_ids, user_matrix, item_ids, item_matrix, rated_start, rated_cols, prune=prune)
    schema = RECOMMENDATIONS_SCHEMA
    if rate_with is not None:
        payload = (*payload, *rate_with.aligned_to(user_ids, item_ids), rate_with.low, rate_with.high)
        schema = RATED_RECOMMENDATIONS_SCHEMA
    block = _top_n_block_pruned if prune else _top_n_block
    block_rows = _pruned_block_rows(item_ids.size) if prune else None
    return _map_blocks(
        spark, payload, block, schema, user_ids.size, item_ids.size, n, num_partitions, on_driver, block_rows
    )


def similar_items(
    item_factors: DataFrame,
    k: int,
    *,
    num_partitions: int | None = None,
    on_driver: bool = False,
    collected: tuple[np.ndarray, np.ndarray] | None = None,
    chunked: bool = True,
) -> DataFrame:
    """The k most similar other movies for every movie, by cosine similarity of factors.

    In: `item_factors` with columns (id int, features array<float>); rows with null features are ignored.
    Out: SIMILAR_SCHEMA (movie_id, similar_id, rank, score) with exactly min(k, movies - 1) rows per movie,
    never the movie itself, ordered by score descending then similar_id ascending. A zero factor vector
    has similarity 0 to everything (no NaN).
    Side effect: collects (unless given as `collected`, as `frames.collect_factors` returns them) and broadcasts
    the item factors now; the result is lazy.
    `chunked`: select with the pruned top-N kernel (`_similar_block_chunked`, the default); False: `_similar_block`.
    Raises ValueError on k < 1, missing columns or duplicate ids.
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    require_columns(item_factors, "item_factors", ("id", "features"))
    spark = item_factors.sparkSession
    item_ids, matrix = collected if collected is not None else collect_factors(item_factors, "item_factors")
    if item_ids.size == 0:
        return spark.createDataFrame([], SIMILAR_SCHEMA)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    unit = (matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    if not chunked:
        payload = (item_ids, unit, np.ascontiguousarray(unit.T))
        return _map_blocks(
            spark, payload, _similar_block, SIMILAR_SCHEMA, item_ids.size, item_ids.size, k, num_partitions, on_driver
        )
    # Each movie "rated" itself: the top-N kernel never returns it.
    itself = np.arange(item_ids.size)
    payload = _top_n_payload(item_ids, unit, item_ids, unit, np.arange(item_ids.size + 1), itself, prune=True)
    block_rows = _pruned_block_rows(item_ids.size)
    return _map_blocks(
        spark,
        payload,
        _similar_block_chunked,
        SIMILAR_SCHEMA,
        item_ids.size,
        item_ids.size,
        k,
        num_partitions,
        on_driver,
        block_rows,
    )


def local_top_k(
    user_ids: np.ndarray,
    user_matrix: np.ndarray,
    item_ids: np.ndarray,
    item_matrix: np.ndarray,
    rated_users: np.ndarray,
    rated_movies: np.ndarray,
    k: int,
    *,
    prune: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact top k unrated items per user on the driver, in blocks: (user ids, item ids, ranks 1..k).

    `user_ids` and `item_ids` sorted ascending; (rated_users, rated_movies) are the pairs to exclude.
    The same blocks as `top_n_unrated`, without Spark.
    """
    rated_start, rated_cols = _rated_index_of_arrays(rated_users, rated_movies, user_ids, item_ids)
    payload = _top_n_payload(user_ids, user_matrix, item_ids, item_matrix, rated_start, rated_cols, prune=prune)
    block, block_rows = (
        (_top_n_block_pruned, _pruned_block_rows(item_ids.size))
        if prune
        else (_top_n_block, _block_rows(item_ids.size))
    )
    batches = [block(payload, lo, min(lo + block_rows, user_ids.size), k) for lo in range(0, user_ids.size, block_rows)]
    if not batches:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64)
    table = pa.Table.from_batches(batches)
    return tuple(table.column(name).to_numpy().astype(np.int64) for name in ("user_id", "movie_id", "rank"))


# --------------------------------------------------------------------------------------------------
# Helpers (the `_…_block` functions run inside Python workers)


def _rated_index(rated: DataFrame, user_ids: np.ndarray, item_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR index of `rated` over (position in user_ids, position in item_ids): row i's rated columns are
    cols[start[i]:start[i + 1]], in no particular order (uint16 when there are fewer than 65,536 items, else
    int32: 50 MB instead of 100 MB per 25M pairs in every copy of the broadcast). Pairs with an unknown user or movie
    are dropped."""
    columns = rated.select(F.col("user_id").cast("int"), F.col("movie_id").cast("int")).dropna().toArrow()
    positions = [
        _rated_positions(batch.column(0).to_numpy(), batch.column(1).to_numpy(), user_ids, item_ids)
        for batch in columns.to_batches()
    ]
    del columns
    return _csr_of_positions(positions, user_ids.size, item_ids.size)


def _rated_index_of_arrays(
    users: np.ndarray, movies: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_rated_index` of pairs already on the driver."""
    return _csr_of_positions([_rated_positions(users, movies, user_ids, item_ids)], user_ids.size, item_ids.size)


# An id lookup table (one int32 per id up to the largest) is used while it has at most this many entries per id or
# LOOKUP_MIN_ENTRIES in all; beyond, a binary search. At 25M pairs the table took 0.35 s of CPU, np.searchsorted 5 s.
LOOKUP_ENTRIES_PER_ID = 16
LOOKUP_MIN_ENTRIES = 1 << 22


def _positions_of(ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The position of each of `values` in the sorted unique `ids` (int32), -1 where it is not there."""
    if ids.size == 0 or values.size == 0:
        return np.full(values.size, -1, np.int32)
    low, high = int(ids[0]), int(ids[-1])
    if low >= 0 and high < max(LOOKUP_MIN_ENTRIES, LOOKUP_ENTRIES_PER_ID * ids.size):
        table = np.full(high + 2, -1, np.int32)
        table[ids] = np.arange(ids.size, dtype=np.int32)
        return table[np.clip(values, 0, high + 1)]  # below 0 lands on a -1 unless 0 is an id, so check it
    at = np.minimum(np.searchsorted(ids, values), ids.size - 1)
    return np.where(ids[at] == values, at, -1).astype(np.int32)


def _rated_positions(
    users: np.ndarray, movies: np.ndarray, user_ids: np.ndarray, item_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = _positions_of(user_ids, users), _positions_of(item_ids, movies)
    known = (rows >= 0) & (cols >= 0)
    if user_ids.size and user_ids[0] == 0:  # clipped negatives looked up id 0
        known &= users >= 0
    if item_ids.size and item_ids[0] == 0:
        known &= movies >= 0
    return rows[known], cols[known]


def _csr_of_positions(
    positions: list[tuple[np.ndarray, np.ndarray]], n_users: int, n_items: int
) -> tuple[np.ndarray, np.ndarray]:
    rows = np.concatenate([r for r, _ in positions]) if positions else np.empty(0, np.int32)
    cols = np.concatenate([c for _, c in positions]) if positions else np.empty(0, np.int32)
    # Stable: pairs exported in user order (as the ratings table's are, mostly) sort in one linear pass.
    order = np.argsort(rows, kind="stable")
    start = np.zeros(n_users + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n_users), out=start[1:])
    return start, cols[order].astype(_column_dtype(n_items))


def _column_dtype(n_items: int) -> type:
    return np.uint16 if n_items < 1 << 16 else np.int32


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
    block_rows: int | None = None,
) -> DataFrame:
    """Run `block` over blocks of the `rows` x `columns` score matrix and return the rows as a DataFrame.

    Distributed (default): broadcast `payload`; the only Spark input is the block numbers, split into
    contiguous ranges, one per task; two tasks per core even out stragglers. `on_driver`: the same
    blocks computed here, for small data, where starting Python workers costs more than the work
    (about 3 s of a 28 s ml-latest-small retrain). `block_rows`: rows per block, by default what fits BLOCK_BYTES.
    """
    block_rows = block_rows or _block_rows(columns)
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


def _pruned_block_rows(columns: int) -> int:
    # The pruned kernel's score chunks are FIRST_CHUNK x 2^i movies of the users still in play, not whole rows.
    return int(max(1, min(MAX_BLOCK_ROWS, PRUNED_BLOCK_BYTES // (4 * max(1, min(columns, 8 * FIRST_CHUNK))))))


def _top_n_payload(
    user_ids: np.ndarray,
    user_matrix: np.ndarray,
    item_ids: np.ndarray,
    item_matrix: np.ndarray,
    rated_start: np.ndarray,
    rated_cols: np.ndarray,
    *,
    prune: bool,
) -> tuple:
    """What the top-N blocks read. Unpruned: the item matrix transposed. Pruned: the items in descending order of
    norm (rows of a C-contiguous matrix, so a chunk is a slice), their norms, `order` (sorted position -> position in
    item_ids) and the rated columns as sorted positions."""
    user_matrix = np.ascontiguousarray(user_matrix, np.float32)
    item_matrix = np.asarray(item_matrix, np.float32)
    if not prune:
        return (user_ids, user_matrix, item_ids, np.ascontiguousarray(item_matrix.T), rated_start, rated_cols)
    norms = np.sqrt(np.einsum("ij,ij->i", item_matrix, item_matrix, dtype=np.float64))
    order = np.argsort(-norms, kind="stable")
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    sorted_cols = position.astype(_column_dtype(order.size))[rated_cols]
    items = np.ascontiguousarray(item_matrix[order])
    return (user_ids, user_matrix, item_ids, items, norms[order], order, rated_start, sorted_cols)


def _result_batch(names: tuple[str, ...], *columns: np.ndarray, prediction: np.ndarray | None = None) -> pa.RecordBatch:
    arrays = [pa.array(c.astype(np.int32)) for c in columns[:-1]] + [pa.array(columns[-1], pa.float32())]
    if prediction is not None:
        arrays.append(pa.array(prediction, pa.float64()))
        names = (*names, "prediction")
    return pa.RecordBatch.from_arrays(arrays, names=list(names))


def _top_n_block(payload: tuple, lo: int, hi: int, k: int) -> pa.RecordBatch:
    """Users lo..hi-1 of `top_n_unrated`'s payload: score, mask rated movies, keep the exact top k."""
    user_ids, user_matrix, item_ids, item_t, rated_start, rated_cols = payload[:6]
    scores = user_matrix[lo:hi] @ item_t
    per_row = np.diff(rated_start[lo : hi + 1])
    excluded = rated_cols[rated_start[lo] : rated_start[hi]]
    scores[np.repeat(np.arange(hi - lo), per_row), excluded] = -np.inf
    rows, cols, ranks, values = _top_k_per_row(scores, k)
    prediction = None
    if len(payload) > 6:  # a PairScorer's rows, aligned with the users and items (see top_n_unrated)
        rate_users, rate_items, low, high = payload[6:]
        prediction = np.clip(np.einsum("ij,ij->i", rate_users[lo + rows], rate_items[cols]), low, high)
    names = ("user_id", "movie_id", "rank", "score")
    return _result_batch(names, user_ids[lo + rows], item_ids[cols], ranks, values, prediction=prediction)


def _top_n_block_pruned(payload: tuple, lo: int, hi: int, k: int, scored: list[int] | None = None) -> pa.RecordBatch:
    """`_top_n_block` (the same rows, exactly) without scoring the movies that cannot make a user's top k.

    Movies come in descending order of factor norm, in chunks (see FIRST_CHUNK, CHUNK_QUANTILE). After each chunk a
    user's threshold t is the k-th best unrated score seen so far, a lower bound on the final k-th best; every
    later movie v scores at most |u| |v| (Cauchy-Schwarz, with BOUND_SLACK for float32 rounding), which only falls
    as the chunks go on, so once |u| |v_next| is below t no later movie can reach the top k, not even by a tie,
    and the user drops out of the product. Scores >= t are kept as candidates; the final cut orders them like
    `_top_k_per_row` (score descending, then movie position). A user whose factors are all zero scores exactly 0
    everywhere: their top k is their first k unrated movies, without any product. `scored`: a one-item list the
    number of computed scores is added to.
    """
    user_ids, user_matrix, item_ids, items, norms, order, rated_start, rated_cols = payload[:8]
    n_items = items.shape[0]
    users = user_matrix[lo:hi]
    n_rows = hi - lo
    user_norms = np.sqrt(np.einsum("ij,ij->i", users, users, dtype=np.float64))
    rated_rows = np.repeat(np.arange(n_rows), np.diff(rated_start[lo : hi + 1]))
    rated = rated_cols[rated_start[lo] : rated_start[hi]]
    threshold = np.full(n_rows, _LOWEST, np.float64)
    found_rows, found_cols, found_values = [], [], []
    zero = np.flatnonzero(user_norms == 0)
    if zero.size:
        rows, cols = _first_unrated(zero, rated_rows, order[rated], n_items, k)
        found_rows.append(rows)
        found_cols.append(np.argsort(order)[cols] if cols.size else cols)
        found_values.append(np.zeros(rows.size, np.float32))
    active = np.flatnonzero(user_norms > 0)
    slot = np.full(n_rows, -1)
    start, size = 0, FIRST_CHUNK
    norms = norms.astype(np.float64)
    while start < n_items and active.size:
        if start:
            active = active[user_norms[active] * (norms[start] * (1 + BOUND_SLACK)) >= threshold[active]]
            if not active.size:
                break
        end = min(n_items, start + size)
        scores = users[active] @ items[start:end].T
        if scored is not None:  # for bench_topn: how much of the product was computed
            scored[0] += scores.size
        slot[:] = -1
        slot[active] = np.arange(active.size)
        inside = (rated >= start) & (rated < end) & (slot[rated_rows] >= 0)
        scores[slot[rated_rows[inside]], rated[inside] - start] = -np.inf
        cut = threshold[active]
        if not start:  # no threshold yet: the k-th best of every stride-th column is a lower bound (see _top_k_per_row)
            stride = max(1, min(SAMPLE_STRIDE, (end - start) // (4 * k)))
            cut = np.maximum(cut, _row_thresholds(scores[:, ::stride], k))
        # flatnonzero + divmod: np.nonzero of a 2-D mask took ~6x as long (100 ms against 15 ms for 256 x 16,384).
        rows, cols = np.divmod(np.flatnonzero(scores >= cut.astype(np.float32)[:, None]), scores.shape[1])
        found_rows.append(active[rows])
        found_cols.append(cols + start)
        found_values.append(scores[rows, cols])
        rows, cols, values = (np.concatenate(found) for found in (found_rows, found_cols, found_values))
        threshold = np.maximum(threshold, _row_thresholds(_padded(rows, values, n_rows), k))
        keep = values >= threshold[rows]
        found_rows, found_cols, found_values = [rows[keep]], [cols[keep]], [values[keep]]
        start = end
        if start < n_items:  # the next chunk ends where the median user still in play could stop
            limit = threshold[active] / (user_norms[active] * (1 + BOUND_SLACK))
            stops = np.searchsorted(-norms, -limit, side="right")
            # np.partition, not np.quantile: the same order statistic (lower, not interpolated) without the
            # ~6% of the kernel's CPU that np.quantile's Python overhead took per chunk.
            middle = int(CHUNK_QUANTILE * (stops.size - 1))
            size = min(8 * FIRST_CHUNK, max(FIRST_CHUNK, int(np.partition(stops, middle)[middle]) - start))
    rows, cols, values = (np.concatenate(found) for found in (found_rows, found_cols, found_values))
    rows, cols, ranks, values = _top_k_of_candidates(rows, order[cols], values, n_rows, k)
    prediction = None
    if len(payload) > 8:  # a PairScorer's rows, aligned with the users and items (see top_n_unrated)
        rate_users, rate_items, low, high = payload[8:]
        prediction = np.clip(np.einsum("ij,ij->i", rate_users[lo + rows], rate_items[cols]), low, high)
    names = ("user_id", "movie_id", "rank", "score")
    return _result_batch(names, user_ids[lo + rows], item_ids[cols], ranks, values, prediction=prediction)


def _similar_block_chunked(payload: tuple, lo: int, hi: int, k: int) -> pa.RecordBatch:
    """Movies lo..hi-1 of `similar_items`' chunked payload: the top-N kernel on unit vectors, each movie's own
    column excluded as if rated. Unit norms leave nothing to prune; what it saves is the selection: after the
    first chunk, a comparison with each row's running k-th best instead of a partition."""
    batch = _top_n_block_pruned(payload, lo, hi, k)
    return pa.RecordBatch.from_arrays(batch.columns, names=["movie_id", "similar_id", "rank", "score"])


def _first_unrated(
    rows: np.ndarray, rated_rows: np.ndarray, rated_positions: np.ndarray, n_items: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """For each of `rows`, its first k item positions not among its rated ones: (rows repeated, positions)."""
    out_rows, out_cols = [], []
    for row in rows:
        taken = np.zeros(n_items, bool)
        taken[rated_positions[rated_rows == row]] = True
        cols = np.flatnonzero(~taken)[:k]
        out_rows.append(np.full(cols.size, row))
        out_cols.append(cols)
    return np.concatenate(out_rows), np.concatenate(out_cols)


def _padded(rows: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    """Flat (row, value) pairs as an n_rows x (most per row) matrix, -inf where a row has fewer."""
    counts = np.bincount(rows, minlength=n_rows)
    padded = np.full((n_rows, int(counts.max()) if rows.size else 0), -np.inf, np.float32)
    order = np.argsort(rows, kind="stable")
    sorted_rows = rows[order]
    slots = np.arange(rows.size) - (np.cumsum(counts) - counts)[sorted_rows]
    padded[sorted_rows, slots] = values[order]
    return padded


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
    return _top_k_of_candidates(rows, cols, scores.ravel()[flat], n_rows, k)


def _top_k_of_candidates(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n_rows: int, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The exact top k of flat (row, col, value) candidates per row, as `_top_k_per_row` returns them: the k-th
    largest value of each row (ties included) leaves about k per row; a lexsort orders those and cuts ties at k by
    column. A row's candidates must include every entry of its top k."""
    keep = values >= _row_thresholds(_padded(rows, values, n_rows), k)[rows]
    rows, cols, values = rows[keep], cols[keep], values[keep]

    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    counts = np.bincount(rows, minlength=n_rows)
    ranks = np.arange(rows.size) - (np.cumsum(counts) - counts)[rows]
    keep = ranks < k
    return rows[keep], cols[keep], ranks[keep] + 1, values[keep]
