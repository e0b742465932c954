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


def test_mass_median_is_the_count_where_half_the_ratings_are_reached():
    # 200 ratings in all; most-rated first: 100 (cumulative 100 = half): the median by mass is 100
    assert flavours.mass_median(np.array([100, 50, 30, 20])) == 100
    # 210: half is 105, reached at the second movie (100 + 50)
    assert flavours.mass_median(np.array([0, 100, 50, 30, 20, 10])) == 50
    assert flavours.mass_median(np.array([0, 0])) == 0


def test_trust_threshold_is_the_average_rated_movies_count_or_the_filter():
    counts = np.array([0, 1, 2, 3, 40])  # 46 ratings over 4 rated movies: 11.5, rounded up
    assert flavours.trust_threshold(counts) == 12
    assert flavours.trust_threshold(counts, 30) == 30
    # Ten times the data, ten times the threshold: it scales with the release.
    assert flavours.trust_threshold(counts * 10) == 115
    assert flavours.trust_threshold(np.zeros(3, dtype=int)) == 1


def test_gem_mask_keeps_trusted_movies_below_the_trusted_mass_median():
    counts = np.array([10] * 10 + [30, 40, 60, 100, 200, 0])
    # 530 ratings over 15 rated movies: trusted from 36; of 40, 60, 100, 200 (400) half is reached at 200
    assert flavours.gem_mask(counts).tolist() == [False] * 11 + [True, True, True, False, False]
    # The page's filter below the average changes nothing; above it, it is the threshold: 60, 100, 200 (360), half
    # reached at 200
    assert flavours.gem_mask(counts, 20).tolist() == flavours.gem_mask(counts).tolist()
    assert flavours.gem_mask(counts, 50).tolist() == [False] * 12 + [True, True, False, False]
    assert not flavours.gem_mask(counts, 500).any()


def test_gem_mask_head_share_moves_the_cut_through_the_rating_mass():
    counts = np.array([10] * 10 + [30, 40, 60, 100, 200, 0])
    # trusted from 36: 40, 60, 100, 200 (400 ratings); a quarter is reached at 200, three quarters at 100, all at 40
    assert flavours.mass_quantile(counts[counts >= 36], 0.25) == 200
    assert flavours.mass_quantile(counts[counts >= 36], 0.75) == 100
    assert flavours.mass_quantile(counts[counts >= 36], 1.0) == 40
    assert flavours.gem_mask(counts, head_share=0.5).tolist() == flavours.gem_mask(counts).tolist()
    assert flavours.gem_mask(counts, head_share=0.75).tolist() == [False] * 11 + [True, True, False, False, False]
    assert not flavours.gem_mask(counts, head_share=1.0).any()
    for share in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="head share"):
            flavours.gem_mask(counts, head_share=share)


def test_rank_normalise_spreads_ranks_over_zero_to_one():
    assert flavours.rank_normalise(np.array([10.0, -3.0, 7.0])).tolist() == [1.0, 0.0, 0.5]
    assert flavours.rank_normalise(np.array([3.0, 1.0, 3.0, 0.0, 3.0])).tolist() == [0.75, 0.25, 0.75, 0.0, 0.75]
    assert flavours.rank_normalise(np.array([2.0])).tolist() == [1.0]
    assert flavours.rank_normalise(np.array([])).tolist() == []


def test_popularity_discount_favours_the_less_rated_of_equal_scores_whatever_their_sign():
    counts = np.array([100, 4, 100, 4])
    discounted = flavours.popularity_discount(np.array([2.0, 2.0, -2.0, -2.0]), counts, 0.5)
    assert discounted.tolist() == [0.2, 1.0, -20.0, -4.0]
    assert discounted[1] > discounted[0] and discounted[3] > discounted[2]
    assert flavours.popularity_discount(np.array([2.0, -1.0]), counts[:2], 0.0).tolist() == [2.0, -1.0]


def test_neighbour_similarity_is_the_mean_cosine_to_the_liked_movies():
    vectors = np.array([[2.0, 0.0], [0.0, 5.0], [1.0, 1.0], [0.0, 0.0]])
    liked = np.array([[1.0, 0.0], [0.0, 3.0]])
    assert flavours.neighbour_similarity(vectors, liked) == pytest.approx([0.5, 0.5, 2**-0.5, 0.0])
    assert flavours.neighbour_similarity(vectors, np.zeros((0, 2))).tolist() == [0.0] * 4


def test_liked_rows_are_those_rated_at_or_above_the_persons_mean():
    assert flavours.liked_rows(np.array([4, 7, 9]), np.array([5.0, 2.0, 3.5])).tolist() == [4, 9]
    assert flavours.liked_rows(np.array([], dtype=np.int64), np.array([])).tolist() == []


def _gem_arrays():
    # 333 ratings over 15 movies: trusted from 23; of the trusted movies' 325 ratings half is reached at 80, so the
    # four 30s (rows 2 to 5) and row 6 (25 ratings) are the gems
    counts = np.array([100, 80, 30, 30, 30, 30, 25] + [1] * 8)
    scores = np.array([9.0, 8.0, 5.0, 4.8, 4.6, 4.4, 4.75] + [0.1] * 8)
    matrix = np.array([[1.0, 0.0]] * 15)
    return counts, scores, matrix


def test_flavour_list_hidden_gems_discount_lifts_the_less_rated_gem():
    counts, scores, matrix = _gem_arrays()
    plain = flavours.flavour_list(
        "hidden_gems", scores=scores, item_matrix=matrix, k=3, counts=counts, gem_discount=0.0
    )
    assert plain.rows.tolist() == [2, 3, 6]
    # 4.75 / 25^0.5 = 0.95 beats 5 / 30^0.5 = 0.91: row 6, with fewer ratings, comes first
    discounted = flavours.flavour_list(
        "hidden_gems", scores=scores, item_matrix=matrix, k=3, counts=counts, gem_discount=0.5
    )
    assert discounted.rows.tolist()[0] == 6


def test_flavour_list_hidden_gems_neighbour_weight_follows_the_persons_favourites():
    counts, scores, matrix = _gem_arrays()
    matrix = matrix.copy()
    matrix[5] = [0.0, 1.0]  # the lowest-scored gem points the way of the liked movie (row 14)
    liked = np.array([14])
    matrix[14] = [0.0, 2.0]
    kept = flavours.flavour_list(
        "hidden_gems",
        scores=scores,
        item_matrix=matrix,
        k=5,
        counts=counts,
        liked=liked,
        gem_neighbour_weight=0.0,
        gem_discount=0.0,
    )
    assert kept.rows.tolist() == [2, 3, 6, 4, 5]
    # row 5 is last by score (rank 0) but alone first by similarity (rank 1); the others tie on similarity
    moved = flavours.flavour_list(
        "hidden_gems",
        scores=scores,
        item_matrix=matrix,
        k=5,
        counts=counts,
        liked=liked,
        gem_neighbour_weight=0.9,
        gem_discount=0.0,
    )
    assert moved.rows.tolist() == [5, 2, 3, 6, 4]
    # without liked movies the weight has nothing to follow
    alone = flavours.flavour_list(
        "hidden_gems", scores=scores, item_matrix=matrix, k=5, counts=counts, gem_neighbour_weight=0.9, gem_discount=0.0
    )
    assert alone.rows.tolist() == kept.rows.tolist()


def test_cosine_relevance_divides_the_score_by_the_movie_vectors_norm():
    vectors = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])
    scores = np.array([10.0, 1.0, 0.0])
    assert flavours.cosine_relevance(scores, vectors).tolist() == [2.0, 1.0, 0.0]
    assert flavours.cosine_relevance(scores, vectors, 0.5).tolist() == pytest.approx([10 / 5**0.5, 1.0, 0.0])
    assert flavours.cosine_relevance(scores, vectors, 0.0).tolist() == [10.0, 1.0, 0.0]


def test_mmr_novelty_brings_a_less_known_movie_forward_and_says_so():
    relevance = np.array([1.0, 0.9, 0.8])
    vectors = np.eye(3)  # nobody is similar to anybody: only relevance and novelty count
    novelty = np.array([1.0, 1.0, 9.0])
    plain, _ = flavours.mmr_explained(relevance=relevance, vectors=vectors, k=3, lam=0.5)
    assert plain.tolist() == [0, 1, 2]
    picked, why = flavours.mmr_explained(
        relevance=relevance, vectors=vectors, k=3, lam=0.5, novelty=novelty, novelty_weight=0.6
    )
    assert picked.tolist() == [2, 0, 1]
    assert why == [flavours.MMR_LESS_KNOWN, flavours.MMR_TOP, flavours.MMR_TOP]


def test_mmr_explains_a_pick_that_is_unlike_the_list():
    relevance = np.array([1.0, 0.95, 0.5])
    vectors = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]])
    picked, why = flavours.mmr_explained(relevance=relevance, vectors=vectors, k=3, lam=0.5)
    assert picked.tolist() == [0, 2, 1]
    assert why == [flavours.MMR_CLOSEST, flavours.MMR_UNLIKE, flavours.MMR_TOP]


def test_parameter_grid_is_every_combination():
    grid = flavours.parameter_grid({"a": (1, 2), "b": (0.5,), "c": ("x", "y")})
    assert grid == [
        {"a": 1, "b": 0.5, "c": "x"},
        {"a": 1, "b": 0.5, "c": "y"},
        {"a": 2, "b": 0.5, "c": "x"},
        {"a": 2, "b": 0.5, "c": "y"},
    ]


def test_choose_setting_takes_the_most_coverage_that_keeps_the_ndcg_goal():
    trials = [
        ({"lam": 0.9}, {"ndcg_at_10": 0.30, "coverage_at_10": 0.05}),
        ({"lam": 0.6}, {"ndcg_at_10": 0.13, "coverage_at_10": 0.12}),
        ({"lam": 0.3}, {"ndcg_at_10": 0.11, "coverage_at_10": 0.20}),  # below 1.2 × 0.1: out
    ]
    assert flavours.choose_setting(trials, popularity_ndcg=0.1, flavour="different") == ({"lam": 0.6}, True)
    # Nothing meets the goal: the most accurate
    assert flavours.choose_setting(trials, popularity_ndcg=1.0, flavour="hidden_gems") == ({"lam": 0.9}, False)
    # Genre mix: the least miscalibrated among those meeting it
    calibrated = [
        ({"lam": 0.3}, {"ndcg_at_10": 0.3, "miscalibration_at_10": 0.5}),
        ({"lam": 0.7}, {"ndcg_at_10": 0.2, "miscalibration_at_10": 0.3}),
        ({"lam": 0.9}, {"ndcg_at_10": 0.1, "miscalibration_at_10": 0.1}),
    ]
    assert flavours.choose_setting(calibrated, popularity_ndcg=0.15, flavour="genre_mix") == ({"lam": 0.7}, True)
    with pytest.raises(ValueError):
        flavours.choose_setting([], popularity_ndcg=0.1, flavour="different")


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


def test_flavour_list_different_ranks_by_cosine_not_by_the_long_vectors_of_popular_movies():
    # Row 0 scores highest only because its vector is long; row 1 points the person's way.
    scores = np.array([4.0, 3.0, -np.inf])
    matrix = np.array([[4.0, 4.0], [0.0, 3.0], [0.0, 1.0]])
    result = flavours.flavour_list("different", scores=scores, item_matrix=matrix, k=2, mmr_lambda=1.0)
    assert result.rows.tolist() == [1, 0]
    assert result.reasons[0] == "Your closest match"


def test_flavour_list_hidden_gems_puts_those_liked_above_the_persons_mean_first():
    # 308 ratings over 14 movies: trusted from 22; of 100, 80 and four 30s (300) half is reached at 80: the 30s are
    # the gems (rows 2 to 5), and row 5 is excluded (rated)
    counts = np.array([100, 80, 30, 30, 30, 30] + [1] * 8)
    scores = np.arange(14, 0, -1, dtype=np.float64)
    scores[5] = -np.inf
    matrix = np.ones((14, 2))
    means = np.full(14, 4.0)
    means[3] = 3.04
    stars = {2: 3.0, 3: 4.5, 4: 3.9}
    result = flavours.flavour_list(
        "hidden_gems",
        scores=scores,
        item_matrix=matrix,
        k=3,
        counts=counts,
        means=means,
        stars=lambda rows: np.array([stars[int(r)] for r in rows]),
        person_mean=3.9,
    )
    # by the list model: 2, 3, 4; predicted at or above the person's 3.9: 3 and 4 first, in that order, then 2
    assert result.rows.tolist() == [3, 4, 2]
    assert result.reasons[0] == "Loved by few (30 ratings), rated ★ 3.0 on average"
    # without the stars model, the list model's order
    plain = flavours.flavour_list("hidden_gems", scores=scores, item_matrix=matrix, k=3, counts=counts)
    assert plain.rows.tolist() == [2, 3, 4]


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
