"""Beyond-accuracy metrics of top-k lists on small arrays (spark_engine.metrics): numpy only, no Spark session."""

import math

import numpy as np
import pytest

from spark_engine import metrics

# Catalogue of four movies: rated by 8, 4, 2 and 1 of 8 users.
POP_IDS = np.array([1, 2, 3, 4])
POP_COUNTS = np.array([8, 4, 2, 1])


def test_novelty_is_the_mean_self_information_of_the_listed_movies():
    assert metrics.novelty_of_arrays(np.array([1, 2]), POP_IDS, POP_COUNTS, 8) == pytest.approx(0.5)
    assert metrics.novelty_of_arrays(np.array([4]), POP_IDS, POP_COUNTS, 8) == pytest.approx(3.0)
    # unknown to the catalogue: as if rated once
    assert metrics.novelty_of_arrays(np.array([99]), POP_IDS, POP_COUNTS, 8) == pytest.approx(3.0)
    assert math.isnan(metrics.novelty_of_arrays(np.array([], dtype=np.int64), POP_IDS, POP_COUNTS, 8))


def test_popularity_percentile_places_each_movie_in_the_catalogue():
    # counts sorted 1, 2, 4, 8: movie 1 (8) has 3 below and itself: (3 + 0.5) / 4
    assert metrics.popularity_percentile_of_arrays(np.array([1]), POP_IDS, POP_COUNTS) == pytest.approx(87.5)
    assert metrics.popularity_percentile_of_arrays(np.array([4, 1]), POP_IDS, POP_COUNTS) == pytest.approx(50.0)


def test_intra_list_diversity_is_one_minus_the_mean_pairwise_cosine():
    item_ids = np.array([1, 2, 3])
    matrix = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    same = metrics.intra_list_diversity_of_arrays(np.array([7, 7]), np.array([1, 2]), item_ids, matrix)
    assert same == pytest.approx(0.0)
    apart = metrics.intra_list_diversity_of_arrays(np.array([7, 7]), np.array([1, 3]), item_ids, matrix)
    assert apart == pytest.approx(1.0)
    # two users: 0 and (1 - (1 + 0 + 0) / 3) averaged
    mixed = metrics.intra_list_diversity_of_arrays(
        np.array([7, 7, 8, 8, 8]), np.array([1, 2, 1, 2, 3]), item_ids, matrix
    )
    assert mixed == pytest.approx((0.0 + 2 / 3) / 2)


def test_genre_diversity_is_one_minus_the_mean_pairwise_jaccard():
    genre_ids = np.array([1, 2, 3])
    genres = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1]])
    # {a, b} vs {a}: 1/2; {a, b} vs {c}: 0; {a} vs {c}: 0
    value = metrics.genre_diversity_of_arrays(np.array([5, 5, 5]), np.array([1, 2, 3]), genre_ids, genres)
    assert value == pytest.approx(1 - (0.5 + 0 + 0) / 3)


def test_personalisation_is_one_minus_the_mean_overlap_of_two_lists():
    users = np.array([1, 1, 2, 2, 3, 3])
    assert metrics.personalisation_of_arrays(users, np.array([10, 11, 10, 11, 10, 11]), 2) == pytest.approx(0.0)
    assert metrics.personalisation_of_arrays(users, np.array([10, 11, 12, 13, 14, 15]), 2) == pytest.approx(1.0)
    # pairs (1, 2): 1 shared, (1, 3): 0, (2, 3): 0
    assert metrics.personalisation_of_arrays(users, np.array([10, 11, 10, 12, 13, 14]), 2) == pytest.approx(
        1 - (0.5 + 0 + 0) / 3
    )
    sampled = metrics.personalisation_of_arrays(users, np.array([10, 11, 12, 13, 14, 15]), 2, pairs=2)
    assert sampled == pytest.approx(1.0)


def test_beyond_accuracy_reports_every_metric_at_k_and_ignores_lower_ranks():
    result = metrics.beyond_accuracy_of_arrays(
        np.array([1, 1, 2, 2]),
        np.array([1, 2, 1, 4]),
        np.array([1, 2, 1, 2]),
        1,
        pop_ids=POP_IDS,
        pop_counts=POP_COUNTS,
        raters=8,
        item_ids=POP_IDS,
        item_matrix=np.eye(4),
        genre_movie_ids=POP_IDS,
        genre_matrix=np.eye(4),
    )
    assert result["coverage_at_1"] == pytest.approx(0.25)
    assert result["novelty_at_1"] == pytest.approx(0.0)
    assert result["personalisation_at_1"] == pytest.approx(0.0)
    assert result["popularity_percentile_at_1"] == pytest.approx(87.5)
    assert math.isnan(result["diversity_at_1"]) and math.isnan(result["genre_diversity_at_1"])  # one movie each


def test_no_list_at_all_gives_nan_not_an_error():
    empty = np.array([], dtype=np.int64)
    assert math.isnan(metrics.intra_list_diversity_of_arrays(empty, empty, POP_IDS, np.eye(4)))
    assert math.isnan(metrics.genre_diversity_of_arrays(empty, empty, POP_IDS, np.eye(4)))
    assert math.isnan(metrics.personalisation_of_arrays(empty, empty, 10))
