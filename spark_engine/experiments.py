"""What `manage.py evaluate` and `manage.py tune` run: a fresh export of every rating, then
`metrics.evaluate_protocol` or `tuning.cross_validate[_lists]` on it in Spark; plain dicts back, nothing stored.

The Django side of those commands (settings, the export); the measuring itself is pure Spark. Kept apart from
the commands so a task or a bench can run it too.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings

from catalog.models import Movie
from ratings.export import ratings_export_to_parquet
from recommendations import onboarding
from recommendations.retrain import RetrainOptions
from spark_engine import cold_start, fitting, metrics, stages, tuning
from spark_engine.pipeline import spark_config_from_settings


@contextmanager
def exported_ratings(*, prefix: str, notify=None) -> Iterator[tuple[Any, Any, int]]:
    """(spark, ratings DataFrame, row count) over a fresh export of every rating.

    The export lives in a temporary folder under TRAINING_RUNS_DIR (readable by every Spark node, like a
    run's) and is removed on exit. Raises ValueError when there are no ratings.
    """
    notify = notify or (lambda message: None)
    runs_dir = Path(settings.TRAINING_RUNS_DIR)
    runs_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=runs_dir) as folder:
        started = time.perf_counter()
        export = ratings_export_to_parquet(path=Path(folder) / "ratings.parquet")
        notify(f"export: {export.rows:,} ratings in {time.perf_counter() - started:.1f}s")
        if export.rows == 0:
            raise ValueError("There are no ratings; import MovieLens data first.")
        spark = stages.spark_for_run(
            spark_config_from_settings(checkpoint_dir=Path(folder) / "checkpoints", ratings_count=export.rows)
        )
        yield spark, stages.read_ratings(spark, export.path), export.rows


def tuning_run(
    *,
    ranks: tuple[int, ...],
    reg_params: tuple[float, ...],
    max_iters: tuple[int, ...],
    folds: int = 3,
    seed: int = 42,
    on_fit=None,
    notify=None,
) -> dict[str, Any]:
    """Cross-validate the stars model (biased ALS with the run's bias regularisation) over every (rank, regParam,
    maxIter) of the grid on every rating; return the table and winner.

    Out: {"results": [{"rank", "reg_param", "max_iter", "rmse", "fold_rmse", "seconds"}, ...] sorted best first,
    "best": the first of them, "folds", "ratings"}. Nothing is stored (see services.tuned_parameters_save).
    """
    with exported_ratings(prefix="tune-", notify=notify) as (spark, ratings, rows):
        options = RetrainOptions.from_settings(seed=seed)
        base = stages.als_params(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        grid = tuning.parameter_grid(base, ranks=ranks, reg_params=reg_params, max_iters=max_iters)
        results = tuning.cross_validate(
            ratings, grid, folds=folds, seed=seed, biases=(options.bias_reg_user, options.bias_reg_item), on_fit=on_fit
        )
    table = [result.to_dict() for result in results]
    return {"results": table, "best": table[0], "folds": folds, "ratings": rows}


def list_tuning_run(
    *,
    ranks: tuple[int, ...],
    reg_params: tuple[float, ...],
    alphas: tuple[float, ...],
    max_iters: tuple[int, ...],
    folds: int = 3,
    seed: int = 42,
    on_fit=None,
    notify=None,
) -> dict[str, Any]:
    """Cross-validate the list model (implicit ALS on rating - the run's centre) over every (rank, regParam, alpha,
    maxIter) on every rating, scored by NDCG@10; return the table and winner.

    Out: {"results": [{"rank", "reg_param", "alpha", "max_iter", "ndcg", "fold_ndcg", "popularity_ndcg",
    "seconds"}, ...] sorted best first, "best", "folds", "ratings"}. Nothing is stored.
    """
    with exported_ratings(prefix="tune-lists-", notify=notify) as (spark, ratings, rows):
        users, movies = stages.users_and_movies(ratings)
        too_large = [rank for rank in ranks if stages.list_rank_for(rank, users=users, movies=movies) != rank]
        if too_large:
            raise ValueError(
                f"list rank {max(too_large)} is too large for {users} users x {movies} movies: at most "
                f"{stages.list_rank_for(max(too_large), users=users, movies=movies)} here (half the smaller side)"
            )
        options = RetrainOptions.from_settings(seed=seed)
        base = stages.model_config(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        grid = tuning.list_parameter_grid(
            base.lists, ranks=ranks, reg_params=reg_params, alphas=alphas, max_iters=max_iters
        )
        results = tuning.cross_validate_lists(ratings, grid, folds=folds, seed=seed, on_fit=on_fit)
    table = [result.to_dict() for result in results]
    return {"results": table, "best": table[0], "folds": folds, "ratings": rows}


def evaluation_run(
    *, seed: int = 0, ranks: tuple[int, ...] = (4, 8, 12), k: int = 10, compare_proposed: bool = False, on_step=None
) -> dict[str, Any]:
    """Export every rating, run `metrics.evaluate_protocol` on it in Spark and return its plain dict.

    Configurations: "defaults" (what a retrain trains with today's settings) and, with `compare_proposed`,
    "proposed" (`fitting.PROPOSED`). The export lives in a temporary folder under TRAINING_RUNS_DIR, removed
    afterwards. Nothing is stored. Raises ValueError when there are too few ratings to split.
    """
    notify = on_step or (lambda message: None)
    with exported_ratings(prefix="evaluate-", notify=notify) as (spark, ratings, rows):
        # "defaults": exactly the two models a retrain would publish now (settings, then tuned parameters, and
        # the retrain's cap on the list rank for tiny catalogues).
        options, _ = stages.fit_list_rank_to_data(RetrainOptions.from_settings(seed=seed), ratings)
        defaults = stages.model_config(
            options,
            ratings_count=rows,
            parallelism=spark.sparkContext.defaultParallelism,
        )
        blocks = defaults.ratings.num_blocks
        configs = {"defaults": defaults}
        if compare_proposed:
            configs["proposed"] = fitting.with_run_options(fitting.PROPOSED, seed=seed, num_blocks=blocks)
        result = metrics.evaluate_protocol(
            ratings, configs, seed=seed, ranks=ranks, k=k, num_blocks=blocks, on_step=notify
        )
    result["ratings"] = rows
    return result


def cold_start_run(
    *,
    seed: int = 0,
    fraction: float = cold_start.HOLDOUT_USER_FRACTION,
    strategies: tuple[str, ...] = onboarding.STRATEGIES,
    k: int = 10,
    on_step=None,
) -> dict[str, Any]:
    """Export every rating, fit the two models a retrain would publish without a held-out `fraction` of the users
    (`cold_start.fit_without_users`), then replay the onboarding of each held-out user with every strategy
    (`cold_start.simulate`) and return its plain dict with "ratings", "train_users", "train_ratings",
    "holdout_fraction" and "seed" added. Nothing is stored. Raises ValueError when there is too little data.
    """
    notify = on_step or (lambda message: None)
    with exported_ratings(prefix="cold-start-", notify=notify) as (spark, ratings, rows):
        options, _ = stages.fit_list_rank_to_data(RetrainOptions.from_settings(seed=seed), ratings)
        config = stages.model_config(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        started = time.perf_counter()
        data = cold_start.fit_without_users(
            ratings,
            config,
            fraction=fraction,
            seed=seed,
            biases_on_driver=rows <= options.biases_driver_max_ratings,
        )
        notify(
            f"fit without {len(data.held_out.ratings):,} held-out users: {data.train_ratings:,} training ratings "
            f"in {time.perf_counter() - started:.1f}s"
        )
    genres, years = movie_genres_and_years(movie_ids=data.movie_ids)
    pool = cold_start.build_pool(data, genres=genres, years=years)
    started = time.perf_counter()
    result = cold_start.simulate(data, pool, strategies=strategies, k=k, on_strategy=lambda s: notify(f"simulate {s}"))
    notify(f"simulation in {time.perf_counter() - started:.1f}s")
    return {
        **result,
        "ratings": rows,
        "train_users": data.train_users,
        "train_ratings": data.train_ratings,
        "holdout_fraction": fraction,
        "seed": seed,
        "k": k,
    }


def movie_genres_and_years(*, movie_ids) -> tuple[dict[int, frozenset[int]], dict[int, int | None]]:
    """Genre ids and year of each of `movie_ids` (catalogue metadata, for the "varied" strategy)."""
    ids = [int(m) for m in movie_ids]
    genres: dict[int, set[int]] = {}
    for movie_id, genre_id in Movie.genres.through.objects.filter(movie_id__in=ids).values_list("movie_id", "genre_id"):
        genres.setdefault(movie_id, set()).add(genre_id)
    years = dict(Movie.objects.filter(pk__in=ids).values_list("pk", "year"))
    return {m: frozenset(g) for m, g in genres.items()}, years
