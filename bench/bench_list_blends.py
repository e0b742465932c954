"""Blends of the list model's score with the predicted stars or with popularity, judged by NDCG@10 (issue 16).

    .venv/bin/python bench/bench_list_blends.py [--data /work/main/data/ml-latest-small] [--test]

On the tutorial's random 60/20/20 split (seed 0) of ratings.csv: both models a retrain publishes fitted on train,
every user's top 10 of the movies they did not rate in train ranked by each blend, judged on validation (ratings
>= 4 relevant). Blends: the list score alone; popularity; the list score plus w x the predicted stars (raw); the
rank-normalised scores (each score's rank among the user's movies / the number of movies) of the list plus w x the
stars' or w x log popularity's. `--test` also refits on train+validation and judges on test (for reference only:
choose on validation). Driver-side numpy (dense users x movies): for ml-latest-small-sized data only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

import numpy as np  # noqa: E402


def _arrays(df):
    table = df.select("user_id", "movie_id", "rating").toArrow()
    return tuple(table.column(i).to_numpy().astype(np.float64 if i == 2 else np.int64) for i in range(3))


def _rank_normalised(matrix: np.ndarray) -> np.ndarray:
    return matrix.argsort(1).argsort(1).astype(np.float32) / matrix.shape[1]


def judge(config, data, judged) -> dict[str, float]:
    from spark_engine import fitting, metrics
    from spark_engine.frames import collect_factors

    stars = fitting.fit_biased_als(data, config.ratings, biases_on_driver=True)
    list_users, list_items = fitting.fit_list_model(data, config.lists)
    user_ids, user_matrix = collect_factors(list_users, "list users")
    item_ids, item_matrix = collect_factors(list_items, "list items")
    train_users, train_movies, _ = _arrays(data)
    judged_users, judged_movies, judged_ratings = _arrays(judged)
    relevant = judged_ratings >= 4
    rel_users, rel_movies = judged_users[relevant], judged_movies[relevant]
    users = np.intersect1d(np.unique(rel_users), user_ids)
    scores = user_matrix[np.searchsorted(user_ids, users)] @ item_matrix.T
    scorer = fitting.stars_pair_scorer(stars)
    predicted = scorer.rows_for(users, users=True) @ scorer.rows_for(item_ids, users=False).T
    popularity = np.bincount(np.searchsorted(item_ids, train_movies), minlength=item_ids.size).astype(float)
    rows = np.searchsorted(users, train_users)
    known = (rows < users.size) & (users[np.minimum(rows, users.size - 1)] == train_users)
    rated = np.zeros(scores.shape, bool)
    rated[rows[known], np.searchsorted(item_ids, train_movies[known])] = True
    ranked_list, ranked_stars = _rank_normalised(scores), _rank_normalised(predicted)
    ranked_popularity = _rank_normalised(np.broadcast_to(np.log1p(popularity), scores.shape))
    blends = {"list": scores, "popularity": np.broadcast_to(popularity, scores.shape)}
    for w in (0.05, 0.1, 0.2):
        blends[f"list + {w} x stars"] = scores + w * predicted
    for w in (0.1, 0.2, 0.3, 0.5):
        blends[f"rank: list + {w} x stars"] = ranked_list + w * ranked_stars
        blends[f"rank: list + {w} x log popularity"] = ranked_list + w * ranked_popularity
    keep = np.isin(rel_users, users)
    out = {}
    for name, matrix in blends.items():
        top = np.argsort(-np.where(rated, -np.inf, matrix), 1)[:, :10]
        out[name] = metrics.ranking_metrics_of_arrays(
            np.repeat(users, 10),
            item_ids[top.ravel()],
            np.tile(np.arange(1, 11), users.size),
            rel_users[keep],
            rel_movies[keep],
            10,
        )["ndcg_at_10"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/main/data/ml-latest-small"))
    parser.add_argument("--test", action="store_true")
    args = parser.parse_args()

    from bench_autoreg import load, load_average

    from spark_engine import fitting, metrics
    from spark_engine.session import SparkConfig, get_spark

    spark = get_spark(SparkConfig(master="local[2]", app_name="bench-list-blends", quick_jit=True))
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir("/tmp/bench-list-blends-checkpoints")
    config = fitting.with_run_options(fitting.PROPOSED, seed=42, num_blocks=2)
    train, validation, test = (part.cache() for part in metrics.split_three(load(spark, args.data), 0))
    parts = [("validation", train, validation)]
    if args.test:
        parts.append(("test", train.unionByName(validation).cache(), test))
    for name, data, judged in parts:
        started = time.perf_counter()
        for blend, ndcg in judge(config, data, judged).items():
            print(f"{name:<10} {blend:<36} NDCG@10 {ndcg:.4f}")
        print(f"{name}: {time.perf_counter() - started:.1f}s ({load_average()})", flush=True)


if __name__ == "__main__":
    main()
