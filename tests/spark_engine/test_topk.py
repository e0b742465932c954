"""The numpy top-k kernel behind top_n_unrated / similar_items, checked without Spark."""

import numpy as np
import pytest

from spark_engine import topk
from spark_engine.topk import _top_k_per_row, local_top_k


def _brute_force(scores, k):
    rows = []
    for i, row in enumerate(scores):
        finite = sorted((j for j in range(row.size) if np.isfinite(row[j])), key=lambda j: (-row[j], j))
        rows += [(i, j, rank) for rank, j in enumerate(finite[:k], start=1)]
    return rows


@pytest.mark.parametrize("stride", [1, 2, 8, 32])
def test_top_k_per_row_is_exact_with_ties_and_excluded_entries(stride):
    rng = np.random.default_rng(stride)
    for _ in range(60):
        n_rows, width, k = rng.integers(1, 25), rng.integers(1, 250), int(rng.integers(1, 40))
        if rng.random() < 0.5:
            scores = rng.integers(-3, 4, size=(n_rows, width)).astype(np.float32)  # many ties
        else:
            scores = rng.normal(size=(n_rows, width)).astype(np.float32)
        scores[rng.random((n_rows, width)) < rng.choice([0.0, 0.3, 0.95, 1.0])] = -np.inf

        rows, cols, ranks, values = _top_k_per_row(scores, k, stride)

        assert list(zip(rows.tolist(), cols.tolist(), ranks.tolist(), strict=True)) == _brute_force(scores, k)
        np.testing.assert_array_equal(values, scores[rows, cols])


def test_top_k_per_row_handles_empty_input():
    rows, cols, ranks, values = _top_k_per_row(np.empty((3, 0), np.float32), 5)
    assert rows.size == cols.size == ranks.size == values.size == 0


def _brute_force_top_n(users, items, rated, k):
    """(user row, item column, rank) of every row's top k unrated items: score descending, then column."""
    scores = users @ items.T
    rows = []
    for i, row in enumerate(scores):
        unrated = sorted((j for j in range(row.size) if (i, j) not in rated), key=lambda j: (-row[j], j))
        rows += [(i, j, rank) for rank, j in enumerate(unrated[:k], start=1)]
    return rows


def _local_top_n(users, items, rated, k, **kwargs):
    user_ids, item_ids = np.arange(len(users)) * 3 + 1, np.arange(len(items)) * 2 + 5
    pairs = np.array(sorted(rated), np.int64).reshape(-1, 2)
    got = local_top_k(user_ids, users, item_ids, items, user_ids[pairs[:, 0]], item_ids[pairs[:, 1]], k, **kwargs)
    user_rows, item_cols = np.searchsorted(user_ids, got[0]), np.searchsorted(item_ids, got[1])
    return list(zip(user_rows.tolist(), item_cols.tolist(), got[2].tolist(), strict=True))


@pytest.mark.parametrize("first_chunk", [1, 3, 16, 1024])
def test_pruned_top_n_is_exact_with_ties_zero_users_and_rated_movies(monkeypatch, first_chunk):
    monkeypatch.setattr(topk, "FIRST_CHUNK", first_chunk)
    rng = np.random.default_rng(first_chunk)
    for _ in range(40):
        n_users, n_items, rank, k = (
            rng.integers(1, 40),
            rng.integers(1, 200),
            rng.integers(1, 5),
            int(rng.integers(1, 25)),
        )
        if rng.random() < 0.4:  # small integers: many exact ties, broken by column
            users = rng.integers(-2, 3, (n_users, rank)).astype(np.float32)
            items = rng.integers(-2, 3, (n_items, rank)).astype(np.float32)
        else:  # norms that differ by orders of magnitude, as fitted factors' do
            users = rng.normal(size=(n_users, rank)).astype(np.float32)
            items = (rng.normal(size=(n_items, rank)) * rng.lognormal(0, 1.5, (n_items, 1))).astype(np.float32)
        users[rng.random(n_users) < 0.15] = 0.0  # all scores 0: the first k unrated by column
        monkeypatch.setattr(topk, "PRUNED_BLOCK_BYTES", int(4 * min(n_items, 8 * first_chunk) * rng.integers(1, 9)))
        share = rng.choice([0.0, 0.2, 0.9])
        rated = {(i, j) for i in range(n_users) for j in range(n_items) if rng.random() < share}

        assert _local_top_n(users, items, rated, k) == _brute_force_top_n(users, items, rated, k)


def test_pruned_top_n_scores_only_the_movies_that_can_reach_the_top(monkeypatch):
    monkeypatch.setattr(topk, "FIRST_CHUNK", 64)
    rng = np.random.default_rng(0)
    users = rng.normal(size=(100, 8)).astype(np.float32)
    items = (rng.normal(size=(4000, 8)) * rng.pareto(2.0, (4000, 1))).astype(np.float32)  # a few large norms
    user_ids, item_ids = np.arange(100), np.arange(4000)
    payload = topk._top_n_payload(
        user_ids, users, item_ids, items, np.zeros(101, np.int64), np.empty(0, np.int32), prune=True
    )
    scored = [0]

    batch = topk._top_n_block_pruned(payload, 0, 100, 10, scored=scored)

    assert scored[0] < 0.2 * users.shape[0] * items.shape[0]
    got = list(zip(batch.column("user_id").to_pylist(), batch.column("movie_id").to_pylist(), strict=True))
    expected = [(i, j) for i, j, _ in _brute_force_top_n(users, items, set(), 10)]
    assert got == expected


@pytest.mark.parametrize("lookup", [True, False])
def test_rated_index_lists_each_known_pair_under_its_user_whatever_the_ids_and_order(monkeypatch, lookup):
    if not lookup:  # every id beyond the lookup table's budget: the binary search
        monkeypatch.setattr(topk, "LOOKUP_MIN_ENTRIES", 0)
        monkeypatch.setattr(topk, "LOOKUP_ENTRIES_PER_ID", 0)
    rng = np.random.default_rng(int(lookup))
    for _ in range(30):
        user_ids = np.unique(rng.choice([0, 1, 2, 5, 7, 40, 1_000, 70_000], rng.integers(1, 8), replace=False))
        item_ids = np.unique(rng.integers(0, rng.choice([10, 300, 100_000]), rng.integers(1, 60)))
        # Known and unknown ids, negatives, duplicates, in any order.
        users = rng.choice(np.concatenate([user_ids, [-1, 3, 99_999]]), 200)
        movies = rng.choice(np.concatenate([item_ids, [-7, 11, 100_001]]), 200)

        start, cols = topk._rated_index_of_arrays(users, movies, user_ids, item_ids)

        assert start.size == user_ids.size + 1 and start[0] == 0 and start[-1] == cols.size
        for row, user in enumerate(user_ids):
            expected = sorted(
                int(np.searchsorted(item_ids, m))
                for u, m in zip(users, movies, strict=True)
                if u == user and m in item_ids
            )
            assert sorted(cols[start[row] : start[row + 1]].tolist()) == expected


def test_rated_index_columns_are_uint16_below_65536_movies_else_int32():
    users, movies = np.array([1, 1, 2]), np.array([3, 65_534, 3])
    _, narrow = topk._rated_index_of_arrays(users, movies, np.array([1, 2]), np.arange(65_535))
    _, wide = topk._rated_index_of_arrays(users, movies, np.array([1, 2]), np.arange(65_536))
    assert narrow.dtype == np.uint16 and wide.dtype == np.int32
    assert narrow.tolist() == wide.tolist() == [3, 65_534, 3]


def test_read_pairs_reads_every_file_and_leaves_out_nulls(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from spark_engine.stages import read_pairs

    pq.write_table(
        pa.table({"user_id": [1, 2, None], "movie_id": [10, 20, 30], "rating": [4.0, 3.0, 5.0]}), tmp_path / "a"
    )
    pq.write_table(
        pa.table({"user_id": pa.array([3], pa.int32()), "movie_id": pa.array([None], pa.int32())}), tmp_path / "b"
    )
    pq.write_table(
        pa.table({"user_id": pa.array([4], pa.int32()), "movie_id": pa.array([40], pa.int32())}), tmp_path / "c"
    )

    users, movies = read_pairs([tmp_path / "a", tmp_path / "b", tmp_path / "c"])

    assert users.tolist() == [1, 2, 4] and movies.tolist() == [10, 20, 40]
    assert read_pairs([])[0].size == 0
