"""The retrain: export ratings → evaluate → fit the stars and list models → top-N and similar movies → publish.

One function, `retrain`, shared by the management command, the django-q2 task, the admin
action and the schedule. It is where Django and Spark meet: ratings leave PostgreSQL through
COPY into Parquet, results come back as CSV files COPY-loaded under the run's id, and the run
becomes active in one transaction. Any failure marks the run failed with its error and leaves
the previous run serving.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from movierec_site.logging import log_context
from ratings.export import ratings_export_to_parquet
from recommendations import services
from recommendations.locks import retrain_lock
from recommendations.models import TrainingRun

logger = logging.getLogger(__name__)

StageCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class RetrainOptions:
    """Everything a retrain can be told; defaults come from settings.

    A retrain fits two models (spark_engine.quality): the stars model, biased ALS (rank, max_iter,
    reg_param on the residuals of regularised user and movie biases, bias_reg_user / bias_reg_item),
    predicts ratings; the list model, implicit-feedback ALS on rating - list_center (list_rank,
    list_max_iter, list_reg_param, list_alpha), ranks the movies of top-N and similar movies.
    """

    rank: int
    max_iter: int
    reg_param: float
    bias_reg_user: float
    bias_reg_item: float
    list_rank: int
    list_max_iter: int
    list_reg_param: float
    list_alpha: float
    list_center: float
    nonnegative: bool
    seed: int
    top_n: int
    similar_k: int
    holdout_fraction: float
    evaluate: bool = True
    # ALS user/item blocks; 0 picks from the data size and cores (see stages.auto_num_blocks).
    num_blocks: int = 0

    @classmethod
    def from_settings(cls, **overrides) -> RetrainOptions:
        """Settings (ALS_*, LIST_ALS_* and the rest), then the parameters `manage.py tune --save` stored, then
        `overrides`."""
        from recommendations.selectors import tuned_parameters

        defaults = cls(
            rank=settings.ALS_RANK,
            max_iter=settings.ALS_MAX_ITER,
            reg_param=settings.ALS_REG_PARAM,
            bias_reg_user=settings.ALS_BIAS_REG_USER,
            bias_reg_item=settings.ALS_BIAS_REG_ITEM,
            list_rank=settings.LIST_ALS_RANK,
            list_max_iter=settings.LIST_ALS_MAX_ITER,
            list_reg_param=settings.LIST_ALS_REG_PARAM,
            list_alpha=settings.LIST_ALS_ALPHA,
            list_center=settings.LIST_ALS_CENTER,
            nonnegative=settings.ALS_NONNEGATIVE,
            seed=settings.ALS_SEED,
            top_n=settings.RECOMMENDATIONS_TOP_N,
            similar_k=settings.SIMILAR_MOVIES_K,
            holdout_fraction=settings.EVALUATION_HOLDOUT_FRACTION,
            num_blocks=settings.ALS_NUM_BLOCKS,
        )
        tuned = tuned_parameters()
        if tuned is not None:
            defaults = replace(defaults, **tuned.as_options())
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"Unknown retrain options: {', '.join(sorted(unknown))}")
        return replace(defaults, **{k: v for k, v in overrides.items() if v is not None})

    @classmethod
    def from_stored(cls, parameters: dict) -> RetrainOptions:
        """The options of a queued run (its `parameters`), over today's defaults.

        Keys no longer known are dropped: a run queued before an upgrade (say, with the single model's
        implicit_prefs and alpha) still runs, with today's defaults for what it did not set.
        """
        known = {f.name for f in fields(cls)}
        dropped = sorted(set(parameters) - known)
        if dropped:
            logger.warning("retrain: ignoring stored options this version does not know: %s", ", ".join(dropped))
        return cls.from_settings(**{k: v for k, v in parameters.items() if k in known})

    def validate(self) -> None:
        problems = []
        for prefix in ("", "list_"):
            if getattr(self, f"{prefix}rank") < 1:
                problems.append(f"{prefix}rank must be at least 1")
            if getattr(self, f"{prefix}max_iter") < 1:
                problems.append(f"{prefix}max_iter must be at least 1")
            if getattr(self, f"{prefix}reg_param") < 0:
                problems.append(f"{prefix}reg_param must not be negative")
        if self.bias_reg_user < 0 or self.bias_reg_item < 0:
            problems.append("bias_reg_user and bias_reg_item must not be negative")
        if self.list_alpha <= 0:
            problems.append("list_alpha must be positive")
        if not 0.5 <= self.list_center <= 5:
            problems.append("list_center must be a rating between 0.5 and 5")
        if self.top_n < 1 or self.top_n > 1000:
            problems.append("top_n must be between 1 and 1000")
        if self.similar_k < 1 or self.similar_k > 1000:
            problems.append("similar_k must be between 1 and 1000")
        if self.num_blocks < 0:
            problems.append("num_blocks must be 0 (automatic) or positive")
        if not 0 < self.holdout_fraction < 1:
            problems.append("holdout_fraction must be between 0 and 1")
        if problems:
            raise ValueError("; ".join(problems))


def spark_config_from_settings(*, checkpoint_dir: Path | None = None, ratings_count: int | None = None):
    """The retrain's SparkConfig; with `ratings_count` known, small data gets the quick-start JIT."""
    from spark_engine.session import SparkConfig  # imports pyspark: only when a retrain runs, never in a web process

    return SparkConfig(
        master=settings.SPARK_MASTER,
        app_name="movierec-retrain",
        driver_memory=settings.SPARK_DRIVER_MEMORY,
        executor_memory=settings.SPARK_EXECUTOR_MEMORY,
        shuffle_partitions=settings.SPARK_SHUFFLE_PARTITIONS,
        local_dir=str(settings.SPARK_LOCAL_DIR),
        checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None,
        quick_jit=ratings_count is not None and ratings_count <= settings.SPARK_QUICK_JIT_MAX_RATINGS,
    )


def _print_stage(stage: str, detail: str) -> None:
    logger.info("retrain %s: %s", stage, detail)


def retrain_enqueue(*, trigger: str, options: RetrainOptions | None = None) -> TrainingRun:
    """Record a queued run and hand it to the django-q2 cluster once the transaction commits.

    If a retrain is already running the trigger is recorded as skipped instead.
    """
    from django.db import transaction
    from django_q.tasks import async_task

    from recommendations.locks import retrain_lock_is_held

    options = options or RetrainOptions.from_settings()
    options.validate()
    if retrain_lock_is_held() or TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED).exists():
        return services.training_run_create(
            trigger=trigger,
            parameters=asdict(options),
            status=TrainingRun.Status.SKIPPED,
        )
    run = services.training_run_create(trigger=trigger, parameters=asdict(options))
    transaction.on_commit(lambda: async_task("spark_engine.tasks.retrain_task", run.pk, task_name=f"retrain-{run.pk}"))
    return run


def training_runs_reap_interrupted() -> int:
    """Mark runs whose process died (a killed worker, a lost machine) as failed, unless a retrain runs now.

    Holding the retrain lock proves no retrain is running, so any run still 'running' was interrupted.
    Called by the periodic check, so such a run ends failed within RETRAIN_CHECK_MINUTES instead of at
    the next retrain. Returns how many runs were marked.
    """
    with retrain_lock() as acquired:
        if not acquired:
            return 0
        return services.training_run_fail_interrupted()


def retrain(
    *,
    trigger: str = TrainingRun.Trigger.COMMAND,
    options: RetrainOptions | None = None,
    run_id: int | None = None,
    on_stage: StageCallback = _print_stage,
) -> TrainingRun:
    """Run one retrain to the end and return its TrainingRun.

    Never raises for a failed pipeline: the run comes back `failed` with the error recorded
    and the previously active run untouched. If another retrain holds the lock, the run is
    recorded as `skipped`.
    """
    if run_id is not None:
        run = TrainingRun.objects.get(pk=run_id)
        options = options or RetrainOptions.from_stored(run.parameters)
    else:
        options = options or RetrainOptions.from_settings()
        run = services.training_run_create(trigger=trigger, parameters=asdict(options))
    options.validate()
    with log_context(run_id=run.pk):
        return _retrain_locked(run, options, on_stage)


def _retrain_locked(run: TrainingRun, options: RetrainOptions, on_stage: StageCallback) -> TrainingRun:
    with retrain_lock() as acquired:
        if not acquired:
            on_stage("skipped", "another retrain is running")
            return services.training_run_update(
                run=run,
                status=TrainingRun.Status.SKIPPED,
                error="Another retrain was running.",
                finished_at=timezone.now(),
            )
        services.training_run_fail_interrupted(except_run=run)
        services.training_run_update(
            run=run,
            status=TrainingRun.Status.RUNNING,
            started_at=timezone.now(),
            spark_master=settings.SPARK_MASTER,
        )
        try:
            _run_stages(run, options, on_stage)
        except Exception as exc:
            logger.exception("retrain %s failed", run.pk)
            on_stage("failed", f"{type(exc).__name__}: {exc}")
            services.training_run_delete_rows(run_ids=[run.pk])
            services.training_run_update(
                run=run,
                status=TrainingRun.Status.FAILED,
                error="".join(traceback.format_exception(exc))[-20000:],
                finished_at=timezone.now(),
            )
            return run
    try:
        pruned = services.training_runs_prune()
        if pruned:
            on_stage("prune", f"removed rows of runs {', '.join(map(str, pruned))}")
    except Exception:  # pruning is housekeeping; a failure must not fail a published run
        logger.exception("pruning old runs failed")
    return run


def _run_stages(run: TrainingRun, options: RetrainOptions, on_stage: StageCallback) -> None:
    from spark_engine import stages  # imports pyspark: only when a retrain runs, never in a web process

    run_dir = services.training_run_dir(run_id=run.pk)
    run_dir.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    export = ratings_export_to_parquet(
        path=run_dir / "ratings.parquet",
        taste_versions_path=run_dir / "taste_versions.parquet",
        hidden_path=run_dir / "hidden.parquet",
    )
    services.training_run_update(
        run=run,
        export_seconds=time.perf_counter() - started,
        ratings_count=export.rows,
        ratings_snapshot_at=export.snapshot_at,
    )
    on_stage("export", f"{export.rows:,} ratings in {run.export_seconds:.1f}s")
    if export.rows == 0:
        raise ValueError("There are no ratings to train on; import MovieLens data first.")

    spark = stages.spark_for_run(
        spark_config_from_settings(checkpoint_dir=run_dir / "checkpoints", ratings_count=export.rows)
    )
    ratings = stages.read_ratings(spark, export.path)
    options, lowered = stages.fit_list_rank_to_data(options, ratings)
    if lowered:
        on_stage("export", lowered)
        services.training_run_update(run=run, parameters=asdict(options))
    config = stages.model_config(options, ratings_count=export.rows, parallelism=spark.sparkContext.defaultParallelism)
    # The evaluation fits a user sample of at most EVALUATION_MAX_RATINGS: it decides by that size.
    evaluated_rows = min(export.rows, settings.EVALUATION_MAX_RATINGS or export.rows)

    if options.evaluate:
        started = time.perf_counter()
        metrics = stages.evaluate(
            ratings,
            config,
            options.holdout_fraction,
            seed=options.seed,
            ratings_count=export.rows,
            max_ratings=settings.EVALUATION_MAX_RATINGS,
            biases_on_driver=evaluated_rows <= settings.BIASES_DRIVER_MAX_RATINGS,
        )
        services.training_run_update(run=run, metrics=metrics, evaluate_seconds=time.perf_counter() - started)
        on_stage(
            "evaluate",
            f"stars RMSE {metrics.get('rmse', float('nan')):.4f}, "
            f"lists NDCG@10 {metrics.get('ndcg_at_10', float('nan')):.4f} "
            f"(popularity {metrics.get('popularity', {}).get('ndcg_at_10', float('nan')):.4f}) "
            f"in {run.evaluate_seconds:.1f}s",
        )

    started = time.perf_counter()
    models = stages.fit(ratings, config, biases_on_driver=export.rows <= settings.BIASES_DRIVER_MAX_RATINGS)
    services.training_run_update(
        run=run, fit_seconds=time.perf_counter() - started, global_mean=models.stars.global_mean
    )
    on_stage(
        "fit",
        f"stars: biased ALS rank {options.rank}, {options.max_iter} iterations; lists: implicit ALS rank "
        f"{options.list_rank}, {options.list_max_iter} iterations; in {run.fit_seconds:.1f}s",
    )

    started = time.perf_counter()
    outputs = stages.write_results(
        models=models,
        ratings=ratings,
        run_id=run.pk,
        out_dir=run_dir / "results",
        top_n=options.top_n,
        similar_k=options.similar_k,
        driver_max_cells=settings.TOPN_DRIVER_MAX_CELLS,
        taste_versions=stages.read_export(spark, export.taste_versions_path),
        hidden=stages.read_export(spark, export.hidden_path),
    )
    services.training_run_update(
        run=run,
        topn_seconds=time.perf_counter() - started,
        users_count=outputs.users,
        movies_count=outputs.movies,
    )
    on_stage("top-N", f"{outputs.users:,} users × {outputs.movies:,} movies in {run.topn_seconds:.1f}s")

    started = time.perf_counter()
    counts = services.training_run_results_load(run=run, files=outputs.files)
    services.training_run_update(
        run=run,
        rows_written=sum(counts.values()),
        status=TrainingRun.Status.SUCCEEDED,
        finished_at=timezone.now(),
    )
    services.training_run_activate(run=run)
    services.training_run_update(run=run, publish_seconds=time.perf_counter() - started, is_active=True)
    on_stage(
        "publish",
        f"{counts.get('recommendations', 0):,} recommendations, {counts.get('similar', 0):,} similar pairs "
        f"in {run.publish_seconds:.1f}s; run {run.pk} is active",
    )
