"""Fold-in latency: p50/p95 of one recommendation step over random item factors.

    .venv/bin/python bench/bench_foldin.py [--rank 10] [--repeat 300]

Times what a page request does after reading the user's ratings: the ALS least-squares step,
scoring every movie, masking rated/hidden ones and the filters, the top-50 with argpartition,
and the "because you rated" attribution. Catalogue sizes: ml-latest-small (9,742 movies) and
ml-25m (59,047). No database is touched.
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

from recommendations.foldin import ItemFactors, top_movies, user_vector  # noqa: E402

CATALOGUES = {"ml-latest-small": 9_742, "ml-25m": 59_047}
RATINGS_PER_USER = (10, 100, 1_000)


def bench(movies: int, rank: int, n_ratings: int, repeat: int, rng: np.random.Generator) -> tuple[float, float]:
    factors = ItemFactors(
        run_id=0,
        movie_ids=np.arange(1, movies + 1, dtype=np.int64),
        matrix=rng.normal(0, 0.4, (movies, rank)).astype(np.float32),
        reg_param=0.1,
    )
    mask = rng.random(movies) < 0.3  # a genre / minimum-ratings filter
    timings = []
    for _ in range(repeat):
        rated = rng.choice(factors.movie_ids, size=n_ratings, replace=False)
        ratings = {int(m): float(v) for m, v in zip(rated, rng.integers(1, 11, n_ratings) / 2, strict=True)}
        hidden = rng.choice(factors.movie_ids, size=5, replace=False).tolist()
        start = time.perf_counter()
        vector = user_vector(factors=factors, ratings=ratings)
        top_movies(factors=factors, user=vector, exclude_movie_ids=hidden, limit=50, mask=mask)
        timings.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(42)
    print(f"rank {args.rank}, {args.repeat} calls each, milliseconds")
    print(f"{'catalogue':<16} {'movies':>7} {'ratings':>8} {'p50':>7} {'p95':>7}")
    for name, movies in CATALOGUES.items():
        for n_ratings in RATINGS_PER_USER:
            p50, p95 = bench(movies, args.rank, n_ratings, args.repeat, rng)
            print(f"{name:<16} {movies:>7} {n_ratings:>8} {p50:>7.2f} {p95:>7.2f}")


if __name__ == "__main__":
    main()
