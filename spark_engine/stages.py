"""Spark-side steps of a retrain, called by spark_engine.pipeline.

Thin wrappers over the pure transforms that read the exported Parquet and write result files
in the layout `recommendations.services.training_run_results_load` COPYs into PostgreSQL.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_engine import fitting, metrics, topk
from spark_engine.frames import collect_factors
from spark_engine.schemas import RATINGS_SCHEMA
from spark_engine.session import SparkConfig, get_spark


@dataclass(frozen=True)
class ResultFiles:
    files: dict[str, list[Path]]
    users: int
    movies: int


def spark_for_run(config: SparkConfig) -> SparkSession:
    spark = get_spark(config)
    if config.checkpoint_dir:
        # getOrCreate may hand back a session made for an earlier run: point it at this run.
        spark.sparkContext.setCheckpointDir(config.checkpoint_dir)
    return spark


def read_ratings(spark: SparkSession, path: Path) -> DataFrame:
    return spark.read.schema(RATINGS_SCHEMA).parquet(str(path))


def read_export(spark: SparkSession, path: Path | None) -> DataFrame | None:
    """Another Parquet file of the export (taste versions, hidden movies), with the schema it was written with."""
    return None if path is None else spark.read.parquet(str(path))


def read_pairs(paths: Sequence[Path]) -> tuple[np.ndarray, np.ndarray]:
    """The (user_id, movie_id) columns of every row of these Parquet files, as two arrays on the driver, rows with a
    null in either left out. pyarrow, not Spark: the top-N index needs them on the driver, and at 25M ratings Spark's
    `toArrow` of the same pairs took 5 CPU s (25 s at load 22) against 0.35 CPU s."""
    tables = [pq.read_table(path, columns=["user_id", "movie_id"]).drop_null() for path in paths]
    if not tables:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return tuple(
        np.concatenate([table.column(name).to_numpy() for table in tables]) for name in ("user_id", "movie_id")
    )


def als_params(options, *, ratings_count: int, parallelism: int) -> fitting.ALSParams:
    """The stars model's ALS (on the residuals of the biases)."""
    return fitting.ALSParams(
        rank=options.rank,
        max_iter=options.max_iter,
        reg_param=options.reg_param,
        nonnegative=options.nonnegative,
        seed=options.seed,
        num_blocks=options.num_blocks or auto_num_blocks(ratings_count, parallelism),
    )


def list_rank_for(requested: int, *, users: int, movies: int) -> int:
    """The list model's rank, at most half the smaller side of the data.

    Implicit ALS regularises a user by the number of their ratings above the centre: for a user with none, the
    normal equations are YᵀY plus confidences, singular when there are fewer movies than factors, and Spark's
    Cholesky solve fails the retrain. Only toy catalogues are affected (rank 32 needs 64 movies and users).
    """
    return max(1, min(requested, min(users, movies) // 2))


def fit_list_rank_to_data(options, ratings: DataFrame) -> tuple[object, str | None]:
    """`options` with the list rank lowered as `list_rank_for` requires for `ratings`, and a note saying so
    (None when the rank stands). Runs one Spark job (`users_and_movies`)."""
    users, movies = users_and_movies(ratings)
    return list_rank_options(options, users=users, movies=movies)


def list_rank_options(options, *, users: int, movies: int) -> tuple[object, str | None]:
    """`options` with the list rank lowered as `list_rank_for` requires for `users` x `movies` (counted by the
    export, so no Spark job), and a note saying so (None when the rank stands)."""
    list_rank = list_rank_for(options.list_rank, users=users, movies=movies)
    if list_rank == options.list_rank:
        return options, None
    note = f"list rank {options.list_rank} lowered to {list_rank} for {users} users x {movies} movies"
    return replace(options, list_rank=list_rank), note


def users_and_movies(ratings: DataFrame) -> tuple[int, int]:
    """About how many users and movies rated (HyperLogLog: one pass, no shuffle; exact for small counts, where
    it matters). An exact count of distinct values took ~40 s of a 25M retrain."""
    row = ratings.agg(F.approx_count_distinct("user_id", 0.01), F.approx_count_distinct("movie_id", 0.01)).first()
    return int(row[0]), int(row[1])


def model_config(options, *, ratings_count: int, parallelism: int) -> fitting.QualityConfig:
    """Both models of a retrain from its options: biased ALS for stars, implicit ALS on rating - center for lists."""
    stars = als_params(options, ratings_count=ratings_count, parallelism=parallelism)
    list_als = fitting.ALSParams(
        rank=options.list_rank,
        max_iter=options.list_max_iter,
        reg_param=options.list_reg_param,
        implicit_prefs=True,
        alpha=options.list_alpha,
        seed=options.seed,
        num_blocks=stars.num_blocks,
    )
    lists = fitting.ListParams(
        als=list_als,
        confidence="centered",
        center=options.list_center,
    )
    return fitting.QualityConfig(
        ratings=stars,
        biased=True,
        reg_user=options.bias_reg_user,
        reg_item=options.bias_reg_item,
        lists=lists,
        stars_list_weight=options.stars_list_weight,
        stars_list_offset=options.stars_list_offset,
    )


def auto_num_blocks(ratings_count: int, parallelism: int) -> int:
    """ALS blocks per side: one per core for small data, up to Spark's default 10 at millions.

    Spark's fixed default of 10 made a 100K-rating fit several times slower on 2 cores (each
    block is a task per iteration); at 25M ratings 10 blocks keep per-task memory moderate.
    """
    return max(1, min(10, max(parallelism, ratings_count // 2_500_000)))


def holdout(
    ratings: DataFrame, holdout_fraction: float, *, seed: int, ratings_count: int, max_ratings: int = 0
) -> metrics.Holdout:
    """The retrain's holdout split (`metrics.holdout_split`, cached); above `max_ratings` (0: no limit) of the
    ratings of a random share of the users (`user_sample_fraction` says which share). A user sample keeps whole
    histories, so RMSE and the ranking metrics stay comparable. Release it with `.release()`."""
    fraction = 1.0
    if max_ratings and ratings_count > max_ratings:
        fraction = max_ratings / ratings_count
        ratings = metrics.sample_users(ratings, fraction, seed=seed)
    split = metrics.holdout_split(ratings, holdout_fraction, seed)
    split.user_sample_fraction = fraction
    return split


def evaluate_holdout(split: metrics.Holdout, config: fitting.QualityConfig, *, biases_on_driver: bool = False) -> dict:
    """Holdout metrics of both models on `split` (`metrics.holdout_evaluate`: stars RMSE, list ranking against
    popularity), with the split's "user_sample_fraction"."""
    result = metrics.holdout_evaluate(split, config, 10, biases_on_driver=biases_on_driver)
    return {**result, "user_sample_fraction": round(split.user_sample_fraction, 4)}


def evaluate(
    ratings: DataFrame,
    config: fitting.QualityConfig,
    holdout_fraction: float,
    *,
    seed: int,
    ratings_count: int,
    max_ratings: int = 0,
    biases_on_driver: bool = False,
    reg_start: float | None = None,
    reg_max_fits: int = 7,
    on_trial=None,
    blend: bool = False,
) -> dict:
    """Holdout metrics of both models (stars RMSE, list ranking against popularity) in one go: `holdout`, then with
    `reg_start` the stars model's regParam chosen on the same split (`metrics.holdout_choose_reg_param`; the
    result's "reg_search", in at most `reg_max_fits` fits), then with `blend` the list score's blend into the stars
    chosen there too (`metrics.holdout_choose_blend`; the result's "stars_blend"), then `evaluate_holdout`.

    The evaluation fit is a second full ALS fit: at 25M ratings it cost as much as the final one.
    """
    split = holdout(ratings, holdout_fraction, seed=seed, ratings_count=ratings_count, max_ratings=max_ratings)
    try:
        if reg_start is not None and config.biased:
            metrics.holdout_choose_reg_param(
                split,
                config,
                start=reg_start,
                max_fits=reg_max_fits,
                biases_on_driver=biases_on_driver,
                on_trial=on_trial,
            )
        if blend and config.biased and config.lists is not None:
            # Chosen from the stars model alone, whatever weight `config` carries.
            config = replace(config, stars_list_weight=0.0, stars_list_offset=0.0)
            metrics.holdout_choose_blend(split, config, biases_on_driver=biases_on_driver)
        return evaluate_holdout(split, config, biases_on_driver=biases_on_driver)
    finally:
        split.release()


def fit(
    ratings: DataFrame, config: fitting.QualityConfig, *, biases_on_driver: bool = False, concurrent: bool = False
) -> fitting.FittedModels:
    return fitting.fit_models(ratings, config, biases_on_driver=biases_on_driver, concurrent=concurrent)


def _pg_array(column: str):
    """float array → PostgreSQL array literal text, e.g. {0.1,-2.5}."""
    return F.concat(F.lit("{"), F.concat_ws(",", F.col(column).cast("array<string>")), F.lit("}"))


def _write_csv(df: DataFrame, path: Path) -> list[Path]:
    df.write.mode("overwrite").option("header", False).csv(str(path))
    return sorted(Path(p) for p in glob.glob(str(path / "part-*")))


def write_results(
    *,
    models: fitting.FittedModels,
    rated_files: Sequence[Path],
    run_id: int,
    out_dir: Path,
    top_n: int,
    similar_k: int,
    driver_max_cells: int = 0,
    taste_versions: DataFrame | None = None,
) -> ResultFiles:
    """Compute every user's top-N movies they have neither rated nor hidden (ranked by the list model,
    scored in stars by the stars model) and every movie's K similar movies (list model), and write them
    with both models' factors (the stars model's user terms too, for the site's item fold-in) as CSV files
    under `out_dir`.

    `rated_files`: the export's Parquet files of ratings and of hidden movies (movies users asked never to see):
    no user is recommended a movie paired with them there (`read_pairs`). `taste_versions` (user_id,
    taste_version), from the same export snapshot: written with each user's factors, so the site
    knows whose stored top-N still holds; a user whose list factors are all zero (no rating above the
    list model's centre: nothing to rank by) gets none, and the site folds them in.
    When users x movies is at most `driver_max_cells` the scoring runs on the driver (the same
    blocks as on the executors): for small data, starting Python workers costs more than the work.
    """
    user_factors = models.list_users.cache()
    item_factors = models.list_items.cache()
    # Collected once for the counts, the top-N and similar movies: on small data every extra Spark job (a count, a
    # second collect) costs more than the scoring.
    user_table = collect_factors(user_factors, "list user factors")
    item_table = collect_factors(item_factors, "list item factors")
    users, movies = user_table[0].size, item_table[0].size
    on_driver = users * movies <= driver_max_cells
    rated = read_pairs(rated_files)
    run = F.lit(run_id)
    version = F.lit(None).cast("long")
    user_rows = user_factors
    if taste_versions is not None:
        user_rows = user_factors.join(
            taste_versions.select(F.col("user_id").alias("id"), "taste_version"), "id", "left"
        )
        version = F.when(F.exists("features", lambda f: f != 0), F.col("taste_version"))

    # The stars come out of the ranking pass: a join of the top-N against the stars factors afterwards cost
    # a Spark shuffle of every published row.
    top_stars = topk.top_n_unrated(
        user_factors,
        item_factors,
        rated,
        top_n,
        on_driver=on_driver,
        rate_with=fitting.stars_pair_scorer(models.stars),
        collected=(user_table, item_table),
    )
    similar = topk.similar_items(item_factors, similar_k, on_driver=on_driver, collected=item_table)
    stars_items = fitting.stars_item_terms(models.stars)
    stars_users = fitting.stars_user_terms(models.stars)
    files = {
        "recommendations": _write_csv(
            top_stars.select(run, "user_id", "movie_id", "rank", "prediction"), out_dir / "recs"
        ),
        "similar": _write_csv(similar.select(run, "movie_id", "similar_id", "rank", "score"), out_dir / "similar"),
        "user_factors": _write_csv(
            user_rows.select(run, "id", version, _pg_array("features")), out_dir / "user_factors"
        ),
        "item_factors": _write_csv(item_factors.select(run, "id", _pg_array("features")), out_dir / "item_factors"),
        "stars_items": _write_csv(
            stars_items.select(run, "movie_id", "bias", _pg_array("features")), out_dir / "stars_items"
        ),
        "stars_users": _write_csv(
            stars_users.select(run, "user_id", "bias", _pg_array("features")), out_dir / "stars_users"
        ),
    }
    user_factors.unpersist()
    item_factors.unpersist()
    return ResultFiles(files=files, users=users, movies=movies)


def content_terms(models: fitting.FittedModels, ratings: DataFrame):
    """What the content map learns from, collected to the driver: per movie the list model's item factors, the
    stars model's factors and bias, and its number of ratings (recommendations.content.ModelTerms, rating counts).

    Small even at 25M ratings (59K movies × 32 + 16 floats); movies the list model left without factors are out."""
    from recommendations.content import ModelTerms

    counts = ratings.groupBy(F.col("movie_id").cast("int").alias("id")).agg(F.count(F.lit(1)).alias("n"))
    stars = fitting.stars_item_terms(models.stars).select(
        F.col("movie_id").alias("id"), F.col("bias").alias("stars_bias"), F.col("features").alias("stars_features")
    )
    table = (
        models.list_items.join(stars, "id", "left")
        .join(counts, "id", "left")
        .orderBy("id")
        .select("id", "features", "stars_bias", "stars_features", "n")
        .toArrow()
    )
    movie_ids = table.column("id").to_numpy().astype(np.int64)
    rank = len(table.column("features")[0]) if table.num_rows else 0
    list_factors = np.array(table.column("features").to_pylist(), dtype=np.float32).reshape(table.num_rows, rank)
    stars_rows = table.column("stars_features").to_pylist()
    stars_rank = next((len(row) for row in stars_rows if row is not None), 0)
    stars_factors = np.array(
        [row if row is not None else [0.0] * stars_rank for row in stars_rows], dtype=np.float32
    ).reshape(table.num_rows, stars_rank)
    stars_biases = np.array([b if b is not None else 0.0 for b in table.column("stars_bias").to_pylist()])
    rating_counts = np.array([n or 0 for n in table.column("n").to_pylist()], dtype=np.int64)
    terms = ModelTerms(
        movie_ids=movie_ids, list_factors=list_factors, stars_factors=stars_factors, stars_biases=stars_biases
    )
    return terms, rating_counts
