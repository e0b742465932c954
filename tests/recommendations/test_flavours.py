"""The flavours' re-ranking maths on small arrays (recommendations.flavours): no database."""

import numpy as np
import pytest

from recommendations import flavours


def test_top_rows_orders_finite_scores_best_first_and_skips_excluded():
    scores = np.array([0.1, -np.inf, 0.9, 0.5, 0.9])
    assert flavours.top_rows(scores, 3).tolist() == [2, 4, 3]
    assert flavours.top_rows(scores, 10).tolist() == [2, 4, 3, 0]
    assert flavours.top_rows(np.full(3, -np.inf), 2).tolist() == []


def test_mmr_with_lambda_one_is_the_relevance_order():
    relevance = np.array([0.9, 0.8, 0.7, 0.1])
    vectors = np.eye(4)
    assert flavours.mmr(relevance=relevance, vectors=vectors, k=4, lam=1.0).tolist() == [0, 1, 2, 3]


def test_mmr_skips_a_near_duplicate_of_what_it_already_picked():
    # Movie 1 is a copy of movie 0; movie 2 points elsewhere and is a little less relevant.
    relevance = np.array([1.0, 0.95, 0.8, 0.0])
    vectors = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.0, 1.0]])
    assert flavours.mmr(relevance=relevance, vectors=vectors, k=2, lam=0.5).tolist() == [0, 2]
    assert flavours.mmr(relevance=relevance, vectors=vectors, k=2, lam=1.0).tolist() == [0, 1]


def test_genre_distribution_weights_rows_and_normalises():
    genres = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 0.0]])
    assert flavours.genre_distribution(genres, np.array([1.0, 2.0, 5.0])).tolist() == pytest.approx([2 / 3, 1 / 3])
    assert flavours.genre_distribution(np.zeros((1, 2))).tolist() == [0.0, 0.0]


def test_kl_divergence_is_zero_for_equal_distributions_and_positive_otherwise():
    p = np.array([0.5, 0.5, 0.0])
    assert flavours.kl_divergence(p, p)[0] == pytest.approx(0.0)
    assert flavours.kl_divergence(p, np.array([0.9, 0.1, 0.0]))[0] > 0


def test_calibrate_follows_the_target_mix_instead_of_relevance_alone():
    # Four comedies are the most relevant; the person rates comedy and drama half and half.
    genres = np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 2)
    relevance = np.array([1.0, 0.99, 0.98, 0.97, 0.5, 0.49])
    target = np.array([0.5, 0.5])
    order, kept = flavours.calibrate(relevance=relevance, genres=genres, target=target, k=4, lam=0.9)
    picked = genres[order].sum(axis=0)
    assert picked.tolist() == [2.0, 2.0]
    assert order[0] == 0
    assert set(kept.tolist()) == {0, 1}
    # λ weighs the sum of relevance against one divergence: at 0.5 the relevant comedies win three places of four.
    half, _ = flavours.calibrate(relevance=relevance, genres=genres, target=target, k=4, lam=0.5)
    assert genres[half].sum(axis=0).tolist() == [3.0, 1.0]
    plain, _ = flavours.calibrate(relevance=relevance, genres=genres, target=target, k=4, lam=0.0)
    assert plain.tolist() == [0, 1, 2, 3]


def test_calibrate_without_a_target_keeps_the_relevance_order():
    order, kept = flavours.calibrate(relevance=np.array([0.2, 0.9]), genres=np.eye(2), target=np.zeros(2), k=2, lam=0.5)
    assert order.tolist() == [1, 0]
    assert kept.tolist() == [-1, -1]


def test_gem_mask_keeps_trusted_movies_below_the_trusted_median():
    counts = np.array([2, 10, 12, 40, 100, 300])
    # trusted (>= 10): 10, 12, 40, 100, 300; their median 40
    assert flavours.gem_mask(counts).tolist() == [False, True, True, False, False, False]
    # min_ratings 25 raises the threshold: trusted 40, 100, 300, median 100
    assert flavours.gem_mask(counts, 25).tolist() == [False, False, False, True, False, False]


def _arrays():
    scores = np.array([5.0, 4.0, 3.0, 2.0, 1.0, -np.inf])
    matrix = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    counts = np.array([500, 300, 20, 15, 12, 11])
    genres = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.0, 1.0], [1.0, 0.0]])
    return scores, matrix, counts, genres


def test_flavour_list_top_picks_is_the_score_order_with_no_reasons():
    scores, matrix, _, _ = _arrays()
    result = flavours.flavour_list("top_picks", scores=scores, item_matrix=matrix, k=3)
    assert result.rows.tolist() == [0, 1, 2]
    assert result.reasons == [None, None, None]


def test_flavour_list_different_explains_what_it_brought_in():
    scores, matrix, _, _ = _arrays()
    result = flavours.flavour_list("different", scores=scores, item_matrix=matrix, k=2, mmr_lambda=0.5)
    assert result.rows.tolist() == [0, 2]
    assert result.reasons == ["Your closest match", "Unlike the rest of your list"]


def test_flavour_list_hidden_gems_orders_the_less_known_by_predicted_stars():
    scores, matrix, counts, _ = _arrays()
    means = np.array([4.0, 4.0, 4.31, 3.0, 3.5, 5.0])
    stars = {2: 3.0, 3: 4.5, 4: 4.0}
    result = flavours.flavour_list(
        "hidden_gems",
        scores=scores,
        item_matrix=matrix,
        k=5,
        counts=counts,
        means=means,
        stars=lambda rows: np.array([stars[int(r)] for r in rows]),
    )
    # trusted: all six, median 17.5; below it: rows 3, 4, 5, but row 5 is excluded (-inf)
    assert result.rows.tolist() == [3, 4]
    assert result.reasons[0] == "Loved by few (15 ratings), rated ★ 3.0 on average"


def test_flavour_list_genre_mix_names_the_genre_it_keeps():
    scores, matrix, _, genres = _arrays()
    result = flavours.flavour_list(
        "genre_mix",
        scores=scores,
        item_matrix=matrix,
        k=2,
        genres=genres,
        genre_target=np.array([0.0, 1.0]),  # someone who rates only dramas
        genre_names=("Comedy", "Drama"),
        calibration_lambda=0.9,
    )
    assert result.rows.tolist() == [2, 4]
    assert result.reasons == ["Keeps your mix: Drama", "Keeps your mix: Drama"]


def test_flavour_list_refuses_an_unknown_flavour():
    scores, matrix, _, _ = _arrays()
    with pytest.raises(ValueError, match="unknown flavour"):
        flavours.flavour_list("surprise", scores=scores, item_matrix=matrix, k=2)
