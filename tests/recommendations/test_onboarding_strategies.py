"""recommendations.onboarding: each strategy's pick rules on small arrays (no database)."""

from __future__ import annotations

import numpy as np
import pytest

from recommendations.onboarding import OnboardingPool, next_page, rating_entropy, taste_clusters


def _pool(n=6, **extra) -> OnboardingPool:
    return OnboardingPool(
        movie_ids=np.arange(1, n + 1, dtype=np.int64) * 10,
        counts=np.linspace(100, 50, n),
        raters=100,
        **extra,
    )


def test_popular_takes_the_pool_in_order_leaving_out_shown_and_rated():
    pool = _pool()
    assert next_page(strategy="popular", pool=pool, count=3) == [10, 20, 30]
    assert next_page(strategy="popular", pool=pool, exclude=[10, 30], rated={20: 4.0}, count=3) == [40, 50, 60]
    assert next_page(strategy="popular", pool=pool, exclude=[10, 20, 30, 40, 50, 60]) == []


def test_rating_entropy_is_zero_for_unanimous_movies_and_one_bit_for_an_even_split():
    histograms = np.zeros((3, 10))
    histograms[0, 9] = 40  # everybody gives 5 stars
    histograms[1, [1, 9]] = 20  # half 1 star, half 5
    assert rating_entropy(histograms).tolist() == pytest.approx([0.0, 1.0, 0.0])


def test_popular_entropy_prefers_known_films_people_disagree_on():
    # Movie 10 is the most rated but unanimous; 30 is less rated and divisive; 20 a little divisive.
    pool = _pool(n=3, entropy=np.array([0.0, 0.5, 2.0]))
    assert next_page(strategy="popular_entropy", pool=pool, count=3) == [30, 20, 10]
    assert next_page(strategy="popular_entropy", pool=pool, exclude=[30], count=1) == [20]


def test_varied_adds_new_genres_and_decades_before_popularity():
    genres = (frozenset({1}), frozenset({1}), frozenset({2, 3}), frozenset({1}))
    decades = (1990, 1990, 1970, 2000)
    pool = _pool(n=4, genres=genres, decades=decades)
    # 30 first (two new genres and a new decade beat being the most popular), then 10 (a new genre and decade),
    # then 40 (a new decade) before 20 (nothing new).
    assert next_page(strategy="varied", pool=pool, count=4) == [30, 10, 40, 20]


def test_informative_spreads_its_picks_over_the_factor_directions():
    # Two popular movies saying the same thing and a less popular one in another direction.
    factors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    pool = OnboardingPool(
        movie_ids=np.array([10, 20, 30]), counts=np.array([90.0, 85.0, 60.0]), raters=100, factors=factors
    )
    assert next_page(strategy="informative", pool=pool, count=2) == [10, 30]


def test_informative_adapts_to_what_the_user_rated_and_puts_unknown_movies_last():
    factors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    pool = OnboardingPool(
        movie_ids=np.array([10, 20, 30, 40]), counts=np.array([90.0, 85.0, 60.0, 95.0]), raters=100, factors=factors
    )
    assert next_page(strategy="informative", pool=pool, count=1) == [10]
    # Having rated movie 30, the direction it covers is known: the first axis is worth more now.
    assert next_page(strategy="informative", pool=pool, rated={30: 4.0}, count=1) == [10]
    # Having rated 10, its near twin 20 says little; 30 comes first. 40 has no factors: last.
    assert next_page(strategy="informative", pool=pool, rated={10: 4.0}, count=3) == [30, 20, 40]


def test_unknown_strategy_or_missing_inputs_are_refused():
    with pytest.raises(ValueError, match="unknown onboarding strategy"):
        next_page(strategy="random", pool=_pool())
    with pytest.raises(ValueError, match="needs the pool's factors"):
        next_page(strategy="informative", pool=_pool())
    with pytest.raises(ValueError, match="rows"):
        OnboardingPool(movie_ids=np.array([1, 2]), counts=np.array([1.0]), raters=1)


def test_taste_clusters_separate_directions_and_leave_unknown_movies_out():
    rng = np.random.default_rng(0)
    a = np.array([1.0, 0.0, 0.0]) + rng.normal(0, 0.05, (5, 3))
    b = np.array([0.0, 1.0, 0.0]) * 3 + rng.normal(0, 0.05, (5, 3))  # scale does not matter: cosine
    factors = np.vstack([a[:1], b, a[1:], np.zeros((1, 3))])
    labels = taste_clusters(factors, 2, seed=1)
    assert labels.tolist() == [0, 1, 1, 1, 1, 1, 0, 0, 0, 0, -1]
    # Never more clusters than distinct directions.
    assert set(taste_clusters(np.vstack([a, a]), 5).tolist()) <= {0, 1, 2, 3, 4}
