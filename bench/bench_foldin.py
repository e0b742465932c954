"""Fold-in latency: p50/p95 of one recommendation step over random factors of a two-model run.

    .venv/bin/python bench/bench_foldin.py [--rank 32] [--stars-rank 16] [--repeat 300] [--items]

Times what a page request does after reading the user's ratings: the list model's implicit
least-squares step (rating - 3 as feedback), scoring every movie, masking rated/hidden ones and
the filters, the top-50 with argpartition, the "because you rated" attribution, and the stars
model's fold-in (user bias, residual step) to predict the stars of those 50. Catalogue sizes:
ml-latest-small (9,742 movies) and ml-25m (59,047). No database is touched.

--items times the item fold-in instead (recommendations.cold_items.item_terms_solve's arithmetic for one movie the
run has not trained): finding its raters among the run's users (162,541, ML-25M's count, or 610), the list model's
step (content.item_fold_in_list, with UᵀU over all users computed once per run) and the stars model's bias and
step (content.item_fold_in_stars), both shrunk toward a content prior, for 0 to 1,000 raters.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
os.environ.setdefault("DEBUG", "1")
# Importing the models needs settings, not a connection: a placeholder URL keeps the embedded server down.
os.environ.setdefault("DATABASE_URL", "postgres://unused@127.0.0.1:1/unused")

import django  # noqa: E402

django.setup()

from recommendations.content import item_fold_in_list, item_fold_in_stars, list_prior_strength  # noqa: E402
from recommendations.foldin import ItemFactors, StarsModel, predict_stars, top_movies, user_vector  # noqa: E402

CATALOGUES = {"ml-latest-small": 9_742, "ml-25m": 59_047}
RATINGS_PER_USER = (10, 100, 1_000)
USER_BASES = {"ml-latest-small": 610, "ml-25m": 162_541}
RATERS_PER_MOVIE = (0, 1, 3, 10, 100, 1_000)


def bench_item(
    users: int, rank: int, stars_rank: int, n_raters: int, repeat: int, rng: np.random.Generator
) -> tuple[float, float]:
    """p50/p95 (ms) of one new movie's item fold-in: raters' rows by id, both models' solves toward a prior."""
    user_ids = np.sort(rng.choice(10 * users, size=users, replace=False)).astype(np.int64)
    list_matrix = rng.normal(0, 0.3, (users, rank)).astype(np.float32)
    stars_matrix = rng.normal(0, 0.3, (users, stars_rank)).astype(np.float32)
    stars_biases = rng.normal(0, 0.3, users)
    wide = list_matrix.astype(np.float64)
    gram = wide.T @ wide  # once per run and process, as on the site
    strength = list_prior_strength(prior_ratings=2.0, alpha=2.0, users_mean_square=float((wide**2).mean()))
    prior, stars_prior = rng.normal(0, 0.3, rank), rng.normal(0, 0.3, stars_rank)
    timings = []
    for _ in range(repeat):
        raters = rng.choice(user_ids, size=min(n_raters, users), replace=False)
        values = rng.integers(1, 11, raters.size) / 2
        start = time.perf_counter()
        rows = np.minimum(np.searchsorted(user_ids, raters), users - 1)
        found = user_ids[rows] == raters
        item_fold_in_list(
            user_factors=list_matrix[rows[found]],
            values=values[found],
            prior=prior,
            users_gram=gram,
            reg_param=0.3,
            alpha=2.0,
            center=3.0,
            prior_strength=strength,
        )
        item_fold_in_stars(
            user_factors=stars_matrix[rows[found]],
            user_biases=stars_biases[rows[found]],
            values=values[found],
            global_mean=3.5,
            prior_bias=0.1,
            prior=stars_prior,
            reg_param=0.15,
            reg_item=5.0,
            prior_strength=0.2,
        )
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 95))


def bench(
    movies: int, rank: int, stars_rank: int, n_ratings: int, repeat: int, rng: np.random.Generator
) -> tuple[float, float]:
    movie_ids = np.arange(1, movies + 1, dtype=np.int64)
    factors = ItemFactors(
        run_id=0,
        movie_ids=movie_ids,
        matrix=rng.normal(0, 0.4, (movies, rank)).astype(np.float32),
        reg_param=0.3,
        implicit_prefs=True,
        alpha=2.0,
        center=3.0,
    )
    stars = StarsModel(
        run_id=0,
        global_mean=3.5,
        movie_ids=movie_ids,
        biases=rng.normal(0, 0.4, movies),
        matrix=rng.normal(0, 0.3, (movies, stars_rank)).astype(np.float32),
        reg_param=0.15,
        reg_user=5.0,
    )
    _ = factors.gram  # computed once per run and process, as on the site
    mask = rng.random(movies) < 0.3  # a genre / minimum-ratings filter
    timings = []
    for _ in range(repeat):
        rated = rng.choice(factors.movie_ids, size=n_ratings, replace=False)
        ratings = {int(m): float(v) for m, v in zip(rated, rng.integers(1, 11, n_ratings) / 2, strict=True)}
        hidden = rng.choice(factors.movie_ids, size=5, replace=False).tolist()
        start = time.perf_counter()
        ratings[int(rated[0])] = 5.0  # at least one rating above the centre: a personal list
        vector = user_vector(factors=factors, ratings=ratings)
        top = top_movies(factors=factors, user=vector, exclude_movie_ids=hidden, limit=50, mask=mask)
        predict_stars(model=stars, ratings=ratings, movie_ids=[m.movie_id for m in top])
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=32, help="list model rank (LIST_ALS_RANK)")
    parser.add_argument("--stars-rank", type=int, default=16, help="stars model rank (ALS_RANK)")
    parser.add_argument("--repeat", type=int, default=300)
    parser.add_argument("--items", action="store_true", help="time the item fold-in of a new movie instead")
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    if args.items:
        print(f"item fold-in, list rank {args.rank}, stars rank {args.stars_rank}, {args.repeat} calls, milliseconds")
        print(f"{'users of':<16} {'users':>7} {'raters':>8} {'p50':>7} {'p95':>7}")
        for name, users in USER_BASES.items():
            for n_raters in RATERS_PER_MOVIE:
                p50, p95 = bench_item(users, args.rank, args.stars_rank, n_raters, args.repeat, rng)
                print(f"{name:<16} {users:>7} {n_raters:>8} {p50:>7.3f} {p95:>7.3f}")
        return
    print(f"list rank {args.rank}, stars rank {args.stars_rank}, {args.repeat} calls each, milliseconds")
    print(f"{'catalogue':<16} {'movies':>7} {'ratings':>8} {'p50':>7} {'p95':>7}")
    for name, movies in CATALOGUES.items():
        for n_ratings in RATINGS_PER_USER:
            p50, p95 = bench(movies, args.rank, args.stars_rank, n_ratings, args.repeat, rng)
            print(f"{name:<16} {movies:>7} {n_ratings:>8} {p50:>7.2f} {p95:>7.2f}")


if __name__ == "__main__":
    main()
