"""The evaluation protocol of `manage.py evaluate`: export the ratings, run spark_engine.quality on them.

Kept apart from the command so the pipeline, a task or a bench can run it too.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings

from ratings.export import ratings_export_to_parquet
from spark_engine.pipeline import RetrainOptions, spark_config_from_settings


def evaluation_run(
    *, seed: int = 0, ranks: tuple[int, ...] = (4, 8, 12), k: int = 10, compare_proposed: bool = False, on_step=None
) -> dict[str, Any]:
    """Export every rating, run `quality.evaluate_protocol` on it in Spark and return its plain dict.

    Configurations: "defaults" (what a retrain trains with today's settings) and, with `compare_proposed`,
    "proposed" (`quality.PROPOSED`). The export lives in a temporary folder under TRAINING_RUNS_DIR, removed
    afterwards. Nothing is stored. Raises ValueError when there are too few ratings to split.
    """
    from spark_engine import quality, stages

    notify = on_step or (lambda message: None)
    runs_dir = Path(settings.TRAINING_RUNS_DIR)
    runs_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evaluate-", dir=runs_dir) as folder:
        started = time.perf_counter()
        export = ratings_export_to_parquet(path=Path(folder) / "ratings.parquet")
        notify(f"export: {export.rows:,} ratings in {time.perf_counter() - started:.1f}s")
        if export.rows == 0:
            raise ValueError("There are no ratings to evaluate; import MovieLens data first.")
        spark = stages.spark_for_run(spark_config_from_settings(checkpoint_dir=Path(folder) / "checkpoints"))
        ratings = stages.read_ratings(spark, export.path)
        params = stages.als_params(
            RetrainOptions.from_settings(seed=seed),
            ratings_count=export.rows,
            parallelism=spark.sparkContext.defaultParallelism,
        )
        configs = {"defaults": _defaults_config(params)}
        if compare_proposed:
            configs["proposed"] = quality.with_run_options(quality.PROPOSED, seed=seed, num_blocks=params.num_blocks)
        result = quality.evaluate_protocol(
            ratings, configs, seed=seed, ranks=ranks, k=k, num_blocks=params.num_blocks, on_step=notify
        )
    result["ratings"] = export.rows
    return result


def _defaults_config(params):
    """Today's retrain seen as a QualityConfig: one ALS model serves both the stars and its own top-N.

    With ALS_IMPLICIT_PREFS the retrain fits implicit ALS on the raw ratings; its lists are that model's and the
    predicted stars are judged with the same parameters fitted explicitly.
    """
    from spark_engine import quality

    if params.implicit_prefs:
        return quality.QualityConfig(
            ratings=replace(params, implicit_prefs=False), lists=quality.ListParams(als=params, confidence="rating")
        )
    return quality.QualityConfig(ratings=params)
