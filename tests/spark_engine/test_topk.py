"""The numpy top-k kernel behind top_n_unrated / similar_items, checked without Spark."""

import numpy as np
import pytest

from spark_engine.topk import _top_k_per_row


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
