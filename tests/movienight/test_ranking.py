"""The aggregation rules on hand-made prediction matrices (no database)."""

import numpy as np
import pytest

from movienight.ranking import AVERAGE, LEAST_MISERY, group_order

# Three members × five movies.
PREDICTIONS = np.array(
    [
        [5.0, 3.5, 4.0, 2.0, 3.5],
        [5.0, 3.5, 3.0, 4.5, 3.5],
        [1.0, 3.5, 3.5, 4.5, 4.0],
    ]
)


def test_average_ranks_by_the_mean_and_breaks_ties_by_the_least_happy_member():
    order = group_order(predictions=PREDICTIONS, aggregation=AVERAGE, limit=5)
    # means 3.667, 3.5, 3.5, 3.667, 3.667; mins 1, 3.5, 3, 2, 3.5
    assert order.columns.tolist() == [4, 3, 0, 1, 2]
    assert order.average == pytest.approx([11 / 3, 11 / 3, 11 / 3, 3.5, 3.5])
    assert order.least.tolist() == [3.5, 2.0, 1.0, 3.5, 3.0]


def test_least_misery_ranks_by_the_lowest_prediction_and_breaks_ties_by_the_mean():
    order = group_order(predictions=PREDICTIONS, aggregation=LEAST_MISERY, limit=5)
    # the movie two members love and one hates (0) comes last; 4 and 1 tie on 3.5, 4 has the higher mean
    assert order.columns.tolist() == [4, 1, 2, 3, 0]
    assert order.least.tolist() == [3.5, 3.5, 3.0, 2.0, 1.0]


def test_full_ties_go_to_the_lower_column():
    order = group_order(predictions=np.full((2, 4), 3.0), aggregation=LEAST_MISERY, limit=3)
    assert order.columns.tolist() == [0, 1, 2]


@pytest.mark.parametrize("aggregation", [AVERAGE, LEAST_MISERY])
def test_the_partitioned_top_equals_a_full_sort(aggregation):
    rng = np.random.default_rng(0)
    # half steps: many ties, also across the cut
    predictions = rng.integers(1, 11, size=(6, 2000)) / 2
    order = group_order(predictions=predictions, aggregation=aggregation, limit=37)
    mean, least = predictions.mean(axis=0), predictions.min(axis=0)
    primary, secondary = (least, mean) if aggregation == LEAST_MISERY else (mean, least)
    expected = sorted(range(2000), key=lambda j: (-primary[j], -secondary[j], j))[:37]
    assert order.columns.tolist() == expected


def test_a_limit_beyond_the_movies_and_no_movies():
    assert group_order(predictions=PREDICTIONS, aggregation=AVERAGE, limit=50).columns.size == 5
    assert group_order(predictions=np.zeros((3, 0)), aggregation=AVERAGE, limit=10).columns.size == 0
    with pytest.raises(ValueError):
        group_order(predictions=PREDICTIONS, aggregation="median", limit=5)
