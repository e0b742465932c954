"""Time the content map at ML-25M scale: learning it (the retrain's "content map" stage after the Spark collect),
a new movie's prior, and one item fold-in. NumPy only, synthetic catalogue, no database.

    .venv/bin/python bench/bench_content_map.py                 # 59,047 movies, ranks 32 / 16, 2,000 words
    .venv/bin/python bench/bench_content_map.py --movies 9742 --repeat 5

The catalogue: 20 genres (1-3 each), years 1900-2023, Zipf-distributed tag and title words; item factors are a
linear function of the genres plus noise, so the fit has something to find. Print the load average with the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
os.environ.setdefault("DEBUG", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--movies", type=int, default=59_047)
    parser.add_argument("--rank", type=int, default=32, help="list model rank")
    parser.add_argument("--stars-rank", type=int, default=16)
    parser.add_argument("--users", type=int, default=162_541, help="users behind the fold-in's Gram matrix")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from catalog.selectors import MovieContent
    from recommendations.content import ContentMap, ModelTerms, content_map_learn, item_fold_in_list

    rng = np.random.default_rng(0)
    genres = [f"Genre{g}" for g in range(20)]
    words = [f"w{i}" for i in range(20_000)]
    zipf = 1.0 / np.arange(1, len(words) + 1)
    zipf /= zipf.sum()
    genre_vectors = rng.normal(size=(20, args.rank + args.stars_rank + 1))
    contents, targets = [], []
    for movie_id in range(1, args.movies + 1):
        chosen = rng.choice(20, size=rng.integers(1, 4), replace=False)
        tags = {words[i]: int(rng.integers(1, 5)) for i in rng.choice(len(words), size=rng.integers(0, 8), p=zipf)}
        title = " ".join(words[i] for i in rng.choice(len(words), size=3, p=zipf))
        contents.append(
            MovieContent(
                movie_id=movie_id,
                title=f"{title} (2000)",
                year=int(rng.integers(1900, 2024)),
                genres=tuple(genres[g] for g in chosen),
                tags=tags,
            )
        )
        targets.append(genre_vectors[chosen].sum(axis=0) + rng.normal(scale=0.5, size=genre_vectors.shape[1]))
    targets = np.asarray(targets)
    terms = ModelTerms(
        movie_ids=np.arange(1, args.movies + 1, dtype=np.int64),
        list_factors=targets[:, : args.rank].astype(np.float32),
        stars_factors=targets[:, args.rank : -1].astype(np.float32),
        stars_biases=targets[:, -1],
    )
    counts = rng.zipf(1.5, size=args.movies).clip(max=80_000)

    learn = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        content_map, reason = content_map_learn(terms=terms, rating_counts=counts, contents=contents)
        learn.append(time.perf_counter() - started)
    assert content_map is not None, reason
    data = content_map.to_bytes()
    started = time.perf_counter()
    ContentMap.from_bytes(data)
    load = time.perf_counter() - started

    one = contents[:1]
    content_map.predict_contents(one)
    started = time.perf_counter()
    for _ in range(200):
        content_map.predict_contents(one)
    prior = (time.perf_counter() - started) / 200

    users = rng.normal(scale=0.1, size=(min(args.users, 200_000), args.rank))
    gram = users.T @ users
    raters = users[:10]
    values = rng.choice([1.0, 3.5, 4.0, 5.0], size=10)
    prior_vector = np.zeros(args.rank)
    started = time.perf_counter()
    for _ in range(1000):
        item_fold_in_list(
            user_factors=raters, values=values, prior=prior_vector, users_gram=gram, reg_param=0.3, alpha=2.0,
            center=3.0, prior_strength=0.1,
        )  # fmt: skip
    foldin = (time.perf_counter() - started) / 1000

    print(f"{args.movies:,} movies ({content_map.movies_learned:,} with enough ratings), "
          f"{len(content_map.vocabulary):,} features, ranks {args.rank}/{args.stars_rank}")  # fmt: skip
    print(f"learn: {min(learn):.2f} s (best of {args.repeat}; all {', '.join(f'{s:.2f}' for s in learn)})")
    print(f"map: {len(data) / 1e6:.2f} MB serialized, loaded in {load * 1000:.1f} ms; fit {content_map.fit}")
    print(f"one movie's prior from its content: {prior * 1000:.3f} ms")
    print(f"one item fold-in (10 raters, rank {args.rank}): {foldin * 1000:.3f} ms")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
