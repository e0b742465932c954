"""The retrain: export ratings → evaluate → fit the stars and list models → top-N and similar movies → publish.

One function, `retrain`, shared by the management command, the django-q2 task, the admin
action and the schedule. It is where Django and Spark meet: ratings leave PostgreSQL through
COPY into Parquet, results come back as CSV files COPY-loaded under the run's id, and the run
becomes active in one transaction. Any failure marks the run failed with its error and leaves
the previous run serving.
"""

from __future__ import annotations

import contextvars
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from catalog.selectors import movie_content_list
from movierec_site.logging import log_context
from ratings.export import ratings_export_to_parquet
from ratings.selectors import rating_count_estimate
from recommendations import services
from recommendations.content import content_map_learn
from recommendations.locks import retrain_lock
from recommendations.models import TrainingRun
from recommendations.retrain import RETRAIN_STAGES, RetrainOptions
from recommendations.selectors import RegChoiceBasis, ratings_changed_since, reg_param_last_choice

logger = logging.getLogger(__name__)

StageCallback = Callable[[str, str], None]
_STAGES = {stage.name: stage for stage in RETRAIN_STAGES}


def spark_config_from_settings(*, checkpoint_dir: Path | None = None, ratings_count: int | None = None):
    """The retrain's SparkConfig; with `ratings_count` known, small data gets the quick-start JIT and, in local mode,
    no more shuffle partitions than cores (`local_shuffle_partitions`)."""
    from spark_engine.session import SparkConfig  # imports pyspark: only when a retrain runs, never in a web process

    small = ratings_count is not None and ratings_count <= settings.SPARK_QUICK_JIT_MAX_RATINGS
    partitions = settings.SPARK_SHUFFLE_PARTITIONS
    if small:
        partitions = local_shuffle_partitions(settings.SPARK_MASTER, partitions)
    return SparkConfig(
        master=settings.SPARK_MASTER,
        app_name="movierec-retrain",
        driver_memory=settings.SPARK_DRIVER_MEMORY,
        executor_memory=settings.SPARK_EXECUTOR_MEMORY,
        shuffle_partitions=partitions,
        local_dir=str(settings.SPARK_LOCAL_DIR),
        checkpoint_dir=str(checkpoint_dir) if checkpoint_dir else None,
        quick_jit=small,
    )


def local_shuffle_partitions(master: str, configured: int) -> int:
    """At most one shuffle partition per core of a `local[N]` / `local[*]` / `local` master (`configured` for any
    other master): on small data each partition is a task of a few milliseconds of work and tens of overhead."""
    if master == "local":
        cores = 1
    elif master.startswith("local[") and master.endswith("]"):
        inside = master[len("local[") : -1].split(",")[0]
        cores = (os.cpu_count() or 1) if inside == "*" else int(inside) if inside.isdigit() else configured
    else:
        return configured
    return max(1, min(configured, cores))


def _report(on_stage: StageCallback | None, stage: str, detail: str) -> None:
    """Log one line of a run's progress and hand it to the caller's `on_stage` (the command prints it)."""
    logger.info("retrain %s: %s", stage, detail)
    if on_stage is not None:
        on_stage(stage, detail)


@dataclass
class _StageOutcome:
    """What a stage body hands back to `_stage`: run fields to save with its duration, and its progress line
    ("<summary> in <seconds>s<note>")."""

    fields: dict = field(default_factory=dict)
    summary: str = ""
    note: str = ""


@contextmanager
def _stage(run: TrainingRun, name: str, on_stage: StageCallback | None) -> Iterator[_StageOutcome]:
    """Time one of RETRAIN_STAGES. When the body finishes, save `<name>_seconds` on the run together with the
    fields the body set, then log and report its progress line under the stage's label. A body that raises
    records nothing: the exception propagates and fails the run."""
    stage = _STAGES[name]
    outcome = _StageOutcome()
    started = time.perf_counter()
    yield outcome
    seconds = time.perf_counter() - started
    services.training_run_update(run=run, **outcome.fields, **{stage.field: seconds})
    _report(on_stage, stage.label, f"{outcome.summary} in {seconds:.1f}s{outcome.note}")


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
    on_stage: StageCallback | None = None,
) -> TrainingRun:
    """Run one retrain to the end and return its TrainingRun; `on_stage(stage, detail)` is called with each
    progress line, which is also logged.

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
    parameters = asdict(options)
    if run.parameters != parameters:  # queued by another version: store what this run goes by
        services.training_run_update(run=run, parameters=parameters)
    with log_context(run_id=run.pk):
        return _retrain_locked(run, options, on_stage)


def _retrain_locked(run: TrainingRun, options: RetrainOptions, on_stage: StageCallback | None) -> TrainingRun:
    with retrain_lock() as acquired:
        if not acquired:
            _report(on_stage, "skipped", "another retrain is running")
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
            _report(on_stage, "failed", f"{type(exc).__name__}: {exc}")
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
            _report(on_stage, "prune", f"removed rows of runs {', '.join(map(str, pruned))}")
    except Exception:  # pruning is housekeeping; a failure must not fail a published run
        logger.exception("pruning old runs failed")
    return run


def _content_map_learn(stages, models, ratings):
    """(the run's content map, "") or (None, the warning to record): a map that cannot be learned never fails
    the retrain, since the movies it trained are served all the same; only new movies lack a prior."""
    started = time.perf_counter()
    try:
        terms, counts = stages.content_terms(models, ratings)
        content_map, reason = content_map_learn(terms=terms, rating_counts=counts, contents=movie_content_list())
    except Exception as exc:
        logger.exception("learning the content map failed")
        return None, f"content map skipped: {type(exc).__name__}: {exc}"
    if content_map is None:
        logger.warning("content map skipped: %s", reason)
        return None, f"content map skipped: {reason}"
    seconds = round(time.perf_counter() - started, 3)
    return replace(content_map, fit={**content_map.fit, "learn_seconds": seconds}), ""


# Fits of the stars regParam search at most (spark_engine.reg_search.MAX_FITS; not imported: it imports pyspark).
MAX_REG_FITS = 7


def _reg_choice_reuse(basis: RegChoiceBasis, ratings_now: int, max_change: float) -> dict | None:
    """{"basis", "changed", "changed_share"} when at most `max_change` of the ratings changed since the search that
    made `basis`'s choice (`ratings_changed_since`), so this run keeps the choice and fits it alone; None: search.
    The change is measured against that search's data, never a later keep, so small changes cannot add up unseen."""
    if max_change <= 0:
        return None
    changed = ratings_changed_since(basis=basis, ratings_now=ratings_now)
    share = changed / max(basis.ratings, 1)
    if share > max_change:
        return None
    return {"basis": basis.to_dict(), "changed": changed, "changed_share": round(share, 6)}


def _with_stars_blend(options: RetrainOptions, chosen: dict | None) -> RetrainOptions:
    """`options` with the evaluation's blend of the list score into the stars (`spark_engine.blend`: weight 0 when it
    was not kept or not chosen), so the fit stage publishes what was measured and the run records it."""
    weight = float(chosen["list_weight"]) if chosen and chosen.get("kept") else 0.0
    offset = float(chosen["offset"]) if weight > 0 else 0.0
    return replace(options, stars_list_weight=weight, stars_list_offset=offset)


def _start_spark(checkpoint_dir: Path, ratings_count: int):
    """The run's SparkSession (imports pyspark: only when a retrain runs, never in a web process)."""
    from spark_engine import stages

    return stages.spark_for_run(spark_config_from_settings(checkpoint_dir=checkpoint_dir, ratings_count=ratings_count))


def _run_stages(run: TrainingRun, options: RetrainOptions, on_stage: StageCallback | None) -> None:
    run_dir = services.training_run_dir(run_id=run.pk)
    run_dir.mkdir(parents=True, exist_ok=True)

    # The JVM starts (5-7 s) while PostgreSQL streams the export: the two use different resources. The data
    # size that picks the JVM's settings is the planner's estimate, since the export has not counted yet.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="spark-start") as starter:
        # In a copy of this context, so whatever the start logs carries the run id.
        starting = starter.submit(
            contextvars.copy_context().run, _start_spark, run_dir / "checkpoints", rating_count_estimate()
        )
        with _stage(run, "export", on_stage) as outcome:
            export = ratings_export_to_parquet(
                path=run_dir / "ratings.parquet",
                taste_versions_path=run_dir / "taste_versions.parquet",
                hidden_path=run_dir / "hidden.parquet",
            )
            outcome.fields = {"ratings_count": export.rows, "ratings_snapshot_at": export.snapshot_at}
            outcome.summary = f"{export.rows:,} ratings"
        if export.rows == 0:
            raise ValueError("There are no ratings to train on; import MovieLens data first.")
        spark = starting.result()

    from spark_engine import stages  # imports pyspark: only when a retrain runs

    ratings = stages.read_ratings(spark, export.path)
    options, lowered = stages.list_rank_options(options, users=export.users, movies=export.movies)
    if lowered:
        _report(on_stage, "export", lowered)
        services.training_run_update(run=run, parameters=asdict(options))
    # The stars model's regParam: chosen on the evaluation's holdout split, starting from the last run's choice
    # (reg_search off: the settings', tune --save's or the command line's value stands).
    reg_start, reg_max_fits, reused = None, MAX_REG_FITS, None
    if options.reg_search:
        basis = reg_param_last_choice()
        last = None if basis is None else basis.chosen
        reg_start = options.reg_param if last is None else last
        if not options.evaluate and last is not None:  # no split to choose on: keep the last choice
            options = replace(options, reg_param=last)
            services.training_run_update(run=run, parameters=asdict(options))
            _report(on_stage, "evaluate", f"no evaluation: stars regParam {last:g}, the last run's choice")
        elif basis is not None:
            reused = _reg_choice_reuse(basis, export.rows, options.reg_search_reuse_change)
            if reused is not None:
                reg_max_fits = 1
    config = stages.model_config(options, ratings_count=export.rows, parallelism=spark.sparkContext.defaultParallelism)
    # The evaluation fits a user sample of at most evaluation_max_ratings: it decides by that size.
    evaluated_rows = min(export.rows, options.evaluation_max_ratings or export.rows)

    if options.evaluate:
        with _stage(run, "evaluate", on_stage) as outcome:
            metrics = stages.evaluate(
                ratings,
                config,
                options.holdout_fraction,
                seed=options.seed,
                ratings_count=export.rows,
                max_ratings=options.evaluation_max_ratings,
                biases_on_driver=evaluated_rows <= options.biases_driver_max_ratings,
                reg_start=reg_start,
                reg_max_fits=reg_max_fits,
                # Logged, not reported: the command prints one line per stage, which names the choice.
                on_trial=lambda reg, error: logger.info(
                    "retrain evaluate: stars regParam %.4g: holdout RMSE %.4f", reg, error
                ),
                blend=options.stars_blend,
            )
            outcome.fields = {"metrics": metrics}
            choice = metrics.get("reg_search")
            if choice is not None:
                # What the next run measures its change against: the data of the last real search.
                choice["basis"] = (
                    reused["basis"]
                    if reused is not None
                    else {"run": run.pk, "ratings": export.rows, "snapshot_at": export.snapshot_at.isoformat()}
                )
                if reused is not None:
                    choice["reused"] = {"changed": reused["changed"], "changed_share": reused["changed_share"]}
                options = replace(options, reg_param=choice["chosen"])
                outcome.fields["parameters"] = asdict(options)
                config = stages.model_config(
                    options, ratings_count=export.rows, parallelism=spark.sparkContext.defaultParallelism
                )
                outcome.note = (
                    f"; stars regParam {choice['chosen']:.4g} chosen from {choice['start']:.4g} "
                    f"({choice['fits']} fits, {choice['seconds']:.1f}s)"
                )
                if reused is not None:
                    outcome.note = (
                        f"; stars regParam {choice['chosen']:.4g} kept from run {reused['basis']['run']}'s search "
                        f"({reused['changed_share']:.1%} of the ratings changed since; 1 fit, {choice['seconds']:.1f}s)"
                    )
            blended = _with_stars_blend(options, metrics.get("stars_blend"))
            if blended != options:
                options = blended
                outcome.fields["parameters"] = asdict(options)
                config = stages.model_config(
                    options, ratings_count=export.rows, parallelism=spark.sparkContext.defaultParallelism
                )
                outcome.note = (outcome.note or "") + f"; stars blend list weight {options.stars_list_weight:.3f}"
            outcome.summary = (
                f"stars RMSE {metrics.get('rmse', float('nan')):.4f}, "
                f"lists NDCG@10 {metrics.get('ndcg_at_10', float('nan')):.4f} "
                f"(popularity {metrics.get('popularity', {}).get('ndcg_at_10', float('nan')):.4f})"
            )

    with _stage(run, "fit", on_stage) as outcome:
        models = stages.fit(ratings, config, biases_on_driver=export.rows <= options.biases_driver_max_ratings)
        outcome.fields = {"global_mean": models.stars.global_mean}
        outcome.summary = (
            f"stars: biased ALS rank {options.rank}, regParam {options.reg_param:.4g}, {options.max_iter} "
            f"iterations; lists: implicit ALS rank "
            f"{options.list_rank}, {options.list_max_iter} iterations;"
        )

    with _stage(run, "content", on_stage) as outcome:
        content_map, warning = _content_map_learn(stages, models, ratings)
        if content_map is None:
            services.training_run_warn(run=run, warning=warning)
            outcome.summary = warning
        else:
            r2 = {name: content_map.fit.get(f"{name}_r2", float("nan")) for name in ("list", "stars", "bias")}
            outcome.summary = (
                f"{content_map.movies_learned:,} movies, {len(content_map.vocabulary):,} features, held-out R² "
                f"lists {r2['list']:.3f} stars {r2['stars']:.3f} bias {r2['bias']:.3f}"
            )

    with _stage(run, "topn", on_stage) as outcome:
        outputs = stages.write_results(
            models=models,
            ratings=ratings,
            run_id=run.pk,
            out_dir=run_dir / "results",
            top_n=options.top_n,
            similar_k=options.similar_k,
            driver_max_cells=options.topn_driver_max_cells,
            taste_versions=stages.read_export(spark, export.taste_versions_path),
            hidden=stages.read_export(spark, export.hidden_path),
        )
        outcome.fields = {"users_count": outputs.users, "movies_count": outputs.movies}
        outcome.summary = f"{outputs.users:,} users × {outputs.movies:,} movies"

    with _stage(run, "publish", on_stage) as outcome:
        counts = services.training_run_results_load(run=run, files=outputs.files, content_map=content_map)
        services.training_run_update(
            run=run,
            rows_written=sum(counts.values()),
            status=TrainingRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
        )
        services.training_run_activate(run=run)
        outcome.fields = {"is_active": True}
        outcome.summary = (
            f"{counts.get('recommendations', 0):,} recommendations, {counts.get('similar', 0):,} similar pairs"
        )
        outcome.note = f"; run {run.pk} is active"
