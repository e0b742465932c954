"""New-user cold start, measured (issue 13): how good are the first recommendations after the onboarding?

`fit_without_users` (Spark) holds out the whole histories of a share of the users and fits the two models a
retrain would publish on everybody else. `simulate` (numpy, on the driver) then replays the onboarding for each
held-out user with every strategy of recommendations.onboarding: pages of PAGE_SIZE movies, the user "rates"
those they rated in truth (their true stars) and skips the rest, until TARGET_RATINGS ratings or MAX_SHOWN movies
shown. Their onboarding ratings are folded in exactly as the site does it (recommendations.foldin); their other
ratings (those no strategy's onboarding collected: one test set for all) judge the list (NDCG@k and friends,
ratings >= 4 relevant, onboarding movies excluded) and the predicted stars (RMSE), next to popularity (most ratings
in training) and to the stars of a user with no ratings (μ + b_i).
A user whose onboarding gave the list model nothing to rank by is shown popular movies, as on the site.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recommendations import foldin
from recommendations.onboarding import PAGE_SIZE, STRATEGIES, OnboardingPool, next_page, rating_entropy
from spark_engine.fitting import QualityConfig, fit_models, stars_item_terms
from spark_engine.frames import collect_factors, require_columns
from spark_engine.metrics import ranking_metrics_of_arrays, sample_users

TARGET_RATINGS = 10
MAX_SHOWN = 60
HOLDOUT_USER_FRACTION = 0.15
# The pool every strategy picks from: this many of the most-rated movies (training counts).
POOL_SIZE = 1000
STAR_VALUES = np.arange(1, 11) / 2.0  # 0.5 .. 5.0


@dataclass(frozen=True)
class HeldOut:
    """Held-out users' true ratings: user -> (movie ids int64, stars float64)."""

    ratings: dict[int, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ColdStartData:
    """Everything `simulate` needs, on the driver: the models fitted without the held-out users, per-movie
    training counts and star histograms, and the held-out users' ratings."""

    factors: foldin.ItemFactors
    stars: foldin.StarsModel
    movie_ids: np.ndarray  # int64: movies rated in training, ascending
    counts: np.ndarray  # float64, ratings per movie in training
    histograms: np.ndarray  # (movies, 10) counts of 0.5 .. 5.0 stars in training
    train_users: int
    train_ratings: int
    held_out: HeldOut


def fit_without_users(
    ratings: DataFrame,
    config: QualityConfig,
    *,
    fraction: float = HOLDOUT_USER_FRACTION,
    seed: int = 0,
    biases_on_driver: bool = False,
) -> ColdStartData:
    """Hold out every rating of about `fraction` of the users (seeded hash, `metrics.sample_users`), fit
    `fit_models(config)` on the rest, and collect what the simulation needs to the driver.

    In: `ratings` (user_id, movie_id, rating). Held-out users never reach the fits, the counts or the histograms.
    Config must have a list model (implicit ALS) and a biased stars model. Raises ValueError when either side is empty.
    """
    require_columns(ratings, "ratings", ("user_id", "movie_id", "rating"))
    if config.lists is None or not config.biased:
        raise ValueError("the cold-start evaluation needs a biased stars model and an implicit list model")
    ratings = ratings.select("user_id", "movie_id", "rating")
    held = sample_users(ratings, fraction, seed=seed).cache()
    train = ratings.join(held.select("user_id").distinct(), "user_id", "left_anti").cache()
    try:
        train_ratings, held_count = train.count(), held.count()
        if train_ratings == 0 or held_count == 0:
            raise ValueError(
                f"holding out {fraction:.0%} of the users left {train_ratings} training and "
                f"{held_count} held-out ratings; need some of both"
            )
        models = fit_models(train, config, biases_on_driver=biases_on_driver)
        item_ids, item_matrix = collect_factors(models.list_items, "list_items")
        lists = config.lists
        factors = foldin.ItemFactors(
            run_id=0,
            movie_ids=item_ids,
            matrix=np.ascontiguousarray(item_matrix),
            reg_param=lists.als.reg_param,
            implicit_prefs=True,
            alpha=lists.als.alpha,
            center=lists.center,
        )
        terms = stars_item_terms(models.stars).toArrow()
        order = np.argsort(terms.column("movie_id").to_numpy(), kind="stable")
        stars_ids = terms.column("movie_id").to_numpy().astype(np.int64)[order]
        features = terms.column("features").combine_chunks()
        rank = int(features.value_lengths().to_numpy()[0]) if len(features) else 1
        stars_matrix = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32).reshape(-1, rank)
        stars = foldin.StarsModel(
            run_id=0,
            global_mean=models.stars.global_mean,
            movie_ids=stars_ids,
            biases=terms.column("bias").to_numpy().astype(np.float64)[order],
            matrix=np.ascontiguousarray(stars_matrix[order]),
            reg_param=config.ratings.reg_param,
            reg_user=config.reg_user,
        )
        hist = (
            train.groupBy("movie_id", (F.round(F.col("rating") * 2)).cast("int").alias("half_stars")).count().toArrow()
        )
        movies, slots, slot_counts = (hist.column(i).to_numpy() for i in range(3))
        movie_ids, movie_rows = np.unique(movies.astype(np.int64), return_inverse=True)
        histograms = np.zeros((movie_ids.size, STAR_VALUES.size))
        np.add.at(histograms, (movie_rows, np.clip(slots, 1, 10) - 1), slot_counts)
        train_users = int(train.select(F.countDistinct("user_id")).first()[0])
        held_table = held.toArrow()
        users, held_movies, held_values = (held_table.column(i).to_numpy() for i in range(3))
    finally:
        held.unpersist()
        train.unpersist()
    return ColdStartData(
        factors=factors,
        stars=stars,
        movie_ids=movie_ids,
        counts=histograms.sum(axis=1),
        histograms=histograms,
        train_users=train_users,
        train_ratings=int(train_ratings),
        held_out=held_out_from_arrays(users, held_movies, held_values),
    )


def held_out_from_arrays(users: np.ndarray, movies: np.ndarray, values: np.ndarray) -> HeldOut:
    users, movies, values = (np.asarray(a) for a in (users, movies, values))
    order = np.argsort(users, kind="stable")
    users, movies, values = users[order].astype(np.int64), movies[order].astype(np.int64), values[order]
    bounds = np.flatnonzero(np.diff(users)) + 1
    result = {}
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, users.size], strict=True):
        if stop > start:
            result[int(users[start])] = (movies[start:stop], values[start:stop].astype(np.float64))
    return HeldOut(result)


def build_pool(
    data: ColdStartData,
    *,
    size: int = POOL_SIZE,
    genres: Mapping[int, frozenset[int]] | None = None,
    years: Mapping[int, int | None] | None = None,
) -> OnboardingPool:
    """The `size` most-rated training movies (ties: lower id first) with entropy, list factors and, when given,
    genres and decades (movie metadata, not ratings)."""
    order = np.lexsort((data.movie_ids, -data.counts))[:size]
    movie_ids = data.movie_ids[order]
    rows, found = data.factors.rows_of(movie_ids)
    factors = np.zeros((movie_ids.size, data.factors.matrix.shape[1]), dtype=np.float32)
    factors[found] = data.factors.matrix[rows[found]]
    genres_of = decades_of = None
    if genres is not None and years is not None:
        genres_of = tuple(genres.get(int(m), frozenset()) for m in movie_ids)
        decades_of = tuple(_decade(years.get(int(m))) for m in movie_ids)
    return OnboardingPool(
        movie_ids=movie_ids,
        counts=data.counts[order],
        raters=data.train_users,
        entropy=rating_entropy(data.histograms[order]),
        factors=factors,
        genres=genres_of,
        decades=decades_of,
    )


def _decade(year: int | None) -> int | None:
    return year // 10 * 10 if year else None


def onboard(
    *,
    strategy: str,
    pool: OnboardingPool,
    truth: Mapping[int, float],
    target: int = TARGET_RATINGS,
    max_shown: int = MAX_SHOWN,
    page_size: int = PAGE_SIZE,
) -> tuple[dict[int, float], int]:
    """One simulated onboarding: (ratings given, movies shown). Pages come from `next_page` with what was shown and
    rated so far; the user rates, in page order, the movies they rated in `truth` until they have `target`."""
    rated: dict[int, float] = {}
    shown: list[int] = []
    while len(rated) < target and len(shown) < max_shown:
        page = next_page(
            strategy=strategy, pool=pool, exclude=shown, rated=rated, count=min(page_size, max_shown - len(shown))
        )
        if not page:
            break
        shown.extend(page)
        for movie_id in page:
            if movie_id in truth and len(rated) < target:
                rated[movie_id] = truth[movie_id]
    return rated, len(shown)


def simulate(
    data: ColdStartData,
    pool: OnboardingPool,
    *,
    strategies: Sequence[str] = STRATEGIES,
    k: int = 10,
    relevant_threshold: float = 4.0,
    target: int = TARGET_RATINGS,
    max_shown: int = MAX_SHOWN,
    on_strategy: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Replay the onboarding of every held-out user with each strategy and judge what follows.

    One test set per user for every strategy, so their figures compare: the user's ratings of movies that no
    strategy's onboarding collected (a strategy that asks about the user's favourite popular films would otherwise
    take them out of its own test set and look worse than one that leaves them in). Those collected movies are
    left out of every list too. Ratings >= `relevant_threshold` are relevant; popularity's list is the same for all.
    Out: {"users", "popularity": {ranking keys}, "rmse_no_ratings", "strategies": {name: {"ratings_given",
    "shown", "reached_target", "ndcg_at_<k>", "precision_at_<k>", "recall_at_<k>", "map_at_<k>",
    "users_evaluated", "ndcg_vs_popularity", "rmse", "fallback_users"}}}; means over held-out users.
    """
    popular_order = np.lexsort((data.movie_ids, -data.counts))
    popular_ids = data.movie_ids[popular_order]
    users = sorted(data.held_out.ratings)
    if not users:
        raise ValueError("no held-out users to simulate")
    onboarded: dict[str, list[tuple[dict[int, float], int]]] = {name: [] for name in strategies}
    for name in strategies:
        if on_strategy:
            on_strategy(name)
        for user in users:
            movies, values = data.held_out.ratings[user]
            truth = dict(zip(movies.tolist(), values.tolist(), strict=True))
            onboarded[name].append(onboard(strategy=name, pool=pool, truth=truth, target=target, max_shown=max_shown))

    rec: dict[str, tuple[list, list, list]] = {name: ([], [], []) for name in strategies}
    pop: tuple[list, list, list] = ([], [], [])
    rel: tuple[list, list] = ([], [])
    squared = dict.fromkeys(strategies, 0.0)
    squared_base, predicted = 0.0, 0
    fallback = dict.fromkeys(strategies, 0)
    for i, user in enumerate(users):
        movies, values = data.held_out.ratings[user]
        collected = np.fromiter({m for name in strategies for m in onboarded[name][i][0]}, dtype=np.int64)
        rest = ~np.isin(movies, collected)
        rest_movies, rest_values = movies[rest], values[rest]
        relevant = rest_movies[rest_values >= relevant_threshold]
        rel[0].append(np.full(relevant.size, user, dtype=np.int64))
        rel[1].append(relevant)
        popular = _top_excluding(popular_ids, collected, k)
        _append(pop, user, popular)
        base = foldin.predict_stars(model=data.stars, ratings={}, movie_ids=rest_movies)
        known = ~np.isnan(base)
        squared_base += float(((base[known] - rest_values[known]) ** 2).sum())
        predicted += int(known.sum())
        for name in strategies:
            rated = onboarded[name][i][0]
            vector = foldin.user_vector(factors=data.factors, ratings=rated)
            if vector is None:
                fallback[name] += 1
                listed = popular
            else:
                top = foldin.top_movies(factors=data.factors, user=vector, exclude_movie_ids=collected, limit=k)
                listed = np.array([m.movie_id for m in top], dtype=np.int64)
            _append(rec[name], user, listed)
            stars = foldin.predict_stars(model=data.stars, ratings=rated, movie_ids=rest_movies)
            squared[name] += float(((stars[known] - rest_values[known]) ** 2).sum())

    rel_users, rel_movies = np.concatenate(rel[0]), np.concatenate(rel[1])
    popular_metrics = ranking_metrics_of_arrays(*(np.concatenate(part) for part in pop), rel_users, rel_movies, k)
    pop_ndcg = popular_metrics[f"ndcg_at_{k}"]
    result: dict[str, Any] = {
        "users": len(users),
        "popularity": popular_metrics,
        "rmse_no_ratings": math.sqrt(squared_base / predicted) if predicted else math.nan,
        "strategies": {},
    }
    for name in strategies:
        given = [len(rated) for rated, _ in onboarded[name]]
        shown = [count for _, count in onboarded[name]]
        metrics = ranking_metrics_of_arrays(*(np.concatenate(part) for part in rec[name]), rel_users, rel_movies, k)
        ndcg = metrics[f"ndcg_at_{k}"]
        result["strategies"][name] = {
            "ratings_given": float(np.mean(given)),
            "shown": float(np.mean(shown)),
            "reached_target": float(np.mean([g >= target for g in given])),
            **metrics,
            "ndcg_vs_popularity": ndcg / pop_ndcg if pop_ndcg else math.nan,
            "rmse": math.sqrt(squared[name] / predicted) if predicted else math.nan,
            "fallback_users": fallback[name],
        }
    return result


def _top_excluding(ordered_ids: np.ndarray, excluded: np.ndarray, k: int) -> np.ndarray:
    head = ordered_ids[: k + excluded.size]
    return head[~np.isin(head, excluded)][:k]


def _append(parts: tuple[list, list, list], user: int, movie_ids: np.ndarray) -> None:
    parts[0].append(np.full(movie_ids.size, user, dtype=np.int64))
    parts[1].append(np.asarray(movie_ids, dtype=np.int64))
    parts[2].append(np.arange(1, movie_ids.size + 1, dtype=np.int64))
