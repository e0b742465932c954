"""Group aggregation of predicted stars: pure NumPy, no database.

A group's list ranks movies by one number made of every member's predicted stars, as GroupLens' PolyLens
did (O'Connor et al., ECSCW 2001):

- average: the mean of the members' predictions (ties: the higher least-misery value first);
- least misery: the lowest member's prediction, so a movie one person would hate sinks whatever the others
  think (ties: the higher average first).

Remaining ties go to the lower movie id (the rows are in movie-id order), so an order never depends on chance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AVERAGE = "average"
LEAST_MISERY = "least_misery"
AGGREGATIONS = {
    AVERAGE: "Average of everyone's predicted stars",
    LEAST_MISERY: "Least misery: the least happy member decides",
}


@dataclass(frozen=True)
class GroupOrder:
    columns: np.ndarray  # int64: the chosen columns of the prediction matrix, best first
    average: np.ndarray  # float64: their mean prediction
    least: np.ndarray  # float64: their lowest prediction


def group_order(*, predictions: np.ndarray, aggregation: str, limit: int) -> GroupOrder:
    """The `limit` best columns of `predictions` (members × movies, stars) by `aggregation`.

    Selects with a partition on the primary key (every column tied with the last one kept stays in the pool),
    then sorts only that pool: O(movies) for a catalogue of tens of thousands.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}")
    if predictions.ndim != 2 or predictions.shape[0] == 0:
        raise ValueError("predictions must be a members × movies matrix with at least one member")
    average = predictions.mean(axis=0)
    least = predictions.min(axis=0)
    primary, secondary = (least, average) if aggregation == LEAST_MISERY else (average, least)
    n = primary.size
    limit = max(min(limit, n), 0)
    if limit == 0:
        empty = np.zeros(0)
        return GroupOrder(columns=np.zeros(0, dtype=np.int64), average=empty, least=empty)
    if limit < n:
        threshold = np.partition(primary, n - limit)[n - limit]  # the limit-th largest
        pool = np.flatnonzero(primary >= threshold)
    else:
        pool = np.arange(n)
    # lexsort: the last key is the primary one.
    columns = pool[np.lexsort((pool, -secondary[pool], -primary[pool]))][:limit]
    return GroupOrder(columns=columns, average=average[columns], least=least[columns])
