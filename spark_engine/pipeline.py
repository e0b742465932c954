"""The retrain: export ratings → fit the stars and list models → top-N and similar movies → publish → evaluate.

The holdout evaluation comes after the publish: nothing published depends on it, so people get the new lists
sooner, and its figures reach the run when they arrive (`TrainingRun.evaluation` "running" until then). Only a
regParam search, when the run needs one, runs on the holdout split before the fit; the evaluation then reuses
that split and the chosen model.

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
from recommendations.selectors import (
    RegChoiceBasis,
    ratings_changed_since,
    reg_param_last_choice,
    stars_blend_last_choice,
)

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
            evaluation = _run_stages(run, options, on_stage)
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
        if evaluation is not None:
            # Under the lock still: the next retrain waits for it rather than share the cores with it.
            _evaluate_after_publish(run, evaluation, on_stage)
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
    """{"basis", "changed", "changed_share", "rank", "rank_start"} when at most `max_change` of the ratings changed
    since the search that made `basis`'s choice (`ratings_changed_since`), so this run keeps the choice (and the rank
    it chose) and fits it alone; None: search. The change is measured against that search's data, never a later
    keep, so small changes cannot add up unseen."""
    if max_change <= 0:
        return None
    changed = ratings_changed_since(basis=basis, ratings_now=ratings_now)
    share = changed / max(basis.ratings, 1)
    if share > max_change:
        return None
    return {
        "basis": basis.to_dict(),
        "changed": changed,
        "changed_share": round(share, 6),
        "rank": basis.rank,
        "rank_start": basis.rank_start,
    }


def _with_stars_blend(options: RetrainOptions, chosen: dict | None) -> RetrainOptions:
    """`options` with the run's blend of the list score into the stars (`spark_engine.blend`: weight 0 when it was
    not kept or there is none), so the fit stage publishes it and the run's parameters record it."""
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
    reg_start, reused = None, None
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
    # The stars blend: chosen on the holdout split when one is made before the fit, else the last run's (see
    # `_choose_stars_blend`).
    last_blend = stars_blend_last_choice() if options.stars_blend else None
    config = stages.model_config(options, ratings_count=export.rows, parallelism=spark.sparkContext.defaultParallelism)
    # The evaluation fits a user sample of at most evaluation_max_ratings: it decides by that size.
    evaluated_rows = min(export.rows, options.evaluation_max_ratings or export.rows)
    evaluation = None
    if options.evaluate:
        evaluation = _Evaluation(
            ratings=ratings,
            ratings_count=export.rows,
            holdout_fraction=options.holdout_fraction,
            seed=options.seed,
            max_ratings=options.evaluation_max_ratings,
            biases_on_driver=evaluated_rows <= options.biases_driver_max_ratings,
            reg_start=reg_start,
            concurrent=evaluated_rows <= options.concurrent_max_ratings,
        )
    try:
        with _stage(run, "fit", on_stage) as outcome:
            search_note = ""
            if evaluation is not None and reg_start is not None:
                # The regParam this run fits: chosen on the holdout split before the fit when it must be searched;
                # a kept choice is fitted on the split after the publish, with the rest of the evaluation.
                record, search_note = _choose_reg_param(run, export, evaluation, options, config, reused)
                options = replace(options, reg_param=record["chosen"], rank=record.get("rank") or options.rank)
                config = stages.model_config(
                    options, ratings_count=export.rows, parallelism=spark.sparkContext.defaultParallelism
                )
                evaluation.config, evaluation.reg_record = config, record
                outcome.fields = {"metrics": {"reg_search": record}, "parameters": asdict(options)}
            elif evaluation is not None:
                evaluation.config = config
            if options.stars_blend:
                blend_record, blend_note = _choose_stars_blend(run, evaluation, config, last_blend)
                options = _with_stars_blend(options, blend_record)
                config = stages.model_config(
                    options, ratings_count=export.rows, parallelism=spark.sparkContext.defaultParallelism
                )
                if evaluation is not None:
                    evaluation.config, evaluation.blend_record = config, blend_record
                if blend_record is not None:
                    metrics_so_far = outcome.fields.get("metrics", {})
                    outcome.fields["metrics"] = {**metrics_so_far, "stars_blend": blend_record}
                outcome.fields["parameters"] = asdict(options)
                search_note += blend_note
            models = stages.fit(
                ratings,
                config,
                biases_on_driver=export.rows <= options.biases_driver_max_ratings,
                concurrent=export.rows <= options.concurrent_max_ratings,
            )
            outcome.fields["global_mean"] = models.stars.global_mean
            outcome.summary = (
                f"stars: biased ALS rank {options.rank}, regParam {options.reg_param:.4g}, {options.max_iter} "
                f"iterations; lists: implicit ALS rank "
                f"{options.list_rank}, {options.list_max_iter} iterations;"
            )
            outcome.note = search_note
        _publish_stages(run, options, spark, export, ratings, models, run_dir, on_stage, evaluation)
    except BaseException:
        if evaluation is not None:
            evaluation.release()
        raise
    return evaluation


def _choose_reg_param(run, export, evaluation, options, config, reused) -> tuple[dict, str]:
    """The stars regParam record this run fits by (metrics["reg_search"]) and its progress note. A kept choice
    (`reused`) is taken as it is: its one fit on the holdout split waits for the evaluation after the publish. Else
    the holdout split is made now and the search runs on it (`metrics.holdout_choose_reg_param`); the split and the
    chosen model stay for the evaluation."""
    from spark_engine import metrics

    if reused is not None:
        record = {
            "chosen": evaluation.reg_start,
            "start": evaluation.reg_start,
            "fits": 1,
            # The rank that search chose is kept with its regParam when it started from this run's rank.
            **(
                {"rank": reused["rank"], "rank_start": reused["rank_start"]}
                if options.rank_search and reused.get("rank") is not None and reused["rank_start"] == options.rank
                else {}
            ),
            "basis": reused["basis"],
            "reused": {"changed": reused["changed"], "changed_share": reused["changed_share"]},
        }
        evaluation.reg_max_fits = 1
        note = (
            f"; stars regParam {record['chosen']:.4g} kept from run {reused['basis']['run']}'s search "
            f"({reused['changed_share']:.1%} of the ratings changed since; 1 fit on the holdout split)"
        )
        if "rank" in record:
            note += f", rank {record['rank']} kept with it"
        return record, note
    evaluation.split = evaluation.holdout()
    choice = metrics.holdout_choose_reg_param(
        evaluation.split,
        config,
        start=evaluation.reg_start,
        max_fits=MAX_REG_FITS,
        biases_on_driver=evaluation.biases_on_driver,
        # Logged, not reported: the command prints one line per stage, which names the choice.
        on_trial=_log_trial,
        rank_search=options.rank_search,
        lists_alongside=evaluation.concurrent,
    )
    # What the next run measures its change against: the data of this search.
    record = {
        **choice.to_dict(),
        "basis": {"run": run.pk, "ratings": export.rows, "snapshot_at": export.snapshot_at.isoformat()},
    }
    note = (
        f"; stars regParam {choice.chosen:.4g} chosen from {choice.start:.4g} on the holdout split "
        f"({len(choice.trials)} fits, {choice.seconds:.1f}s)"
    )
    if choice.rank is not None:
        tried = ", ".join(f"{rank}: {error:.4f}" for rank, error, _ in choice.rank_trials)
        note += f", rank {choice.rank} (tried {tried} against {choice.rank_start}: {choice.reg_rmse:.4f})"
    return record, note


def _choose_stars_blend(run, evaluation, config, last_blend: dict | None) -> tuple[dict | None, str]:
    """The stars blend this run fits with (the record its metrics["stars_blend"] keeps, None: none) and its progress
    note. `last_blend` is `stars_blend_last_choice()`.

    Chosen on the holdout split before the fit (`metrics.holdout_choose_blend`) when the regParam search made that
    split, and also when the split is needed for the blend alone: regParam search off (nothing is kept then), or a
    kept regParam choice with no blend to keep (the kept choice's one fit then runs on the split now, and the
    evaluation after the publish reuses it). A kept regParam choice keeps `last_blend` as it keeps the regParam,
    with the run that chose it as its "basis": the publish needs no split, and the evaluation after it measures the
    blended model. Without an evaluation the last blend is kept when there is one (else the stars stand alone)."""
    from spark_engine import metrics

    if last_blend is not None and (evaluation is None or (evaluation.split is None and evaluation.reg_record)):
        record = {
            "list_weight": last_blend["list_weight"],
            "offset": last_blend["offset"],
            "kept": last_blend["kept"],
            "basis": {"run": last_blend["run"]},
            "reused": True,
        }
        note = (
            f"; stars blend list weight {record['list_weight']:.3f}, offset {record['offset']:.3f} kept from run "
            f"{last_blend['run']}'s choice"
            if record["kept"]
            else f"; no stars blend (run {last_blend['run']}'s choice)"
        )
        return record, note
    if evaluation is None:
        return None, ""
    if evaluation.split is None:
        evaluation.split = evaluation.holdout()
        if evaluation.reg_record is not None:  # a kept regParam choice: its one fit, as the search makes it
            metrics.holdout_choose_reg_param(
                evaluation.split,
                config,
                start=evaluation.reg_start,
                max_fits=1,
                biases_on_driver=evaluation.biases_on_driver,
                on_trial=_log_trial,
                lists_alongside=evaluation.concurrent,
            )
    unblended = replace(config, stars_list_weight=0.0, stars_list_offset=0.0)
    chosen = metrics.holdout_choose_blend(evaluation.split, unblended, biases_on_driver=evaluation.biases_on_driver)
    record = {**chosen.to_dict(), "basis": {"run": run.pk}}
    note = (
        f"; stars blend list weight {chosen.list_weight:.3f}, offset {chosen.offset:.3f} chosen on the holdout split "
        f"(RMSE {chosen.rmse_before:.4f} -> {chosen.rmse:.4f})"
        if chosen.kept
        else f"; no stars blend (holdout RMSE {chosen.rmse_before:.4f}: no gain beyond noise)"
    )
    return record, note


def _log_trial(reg: float, error: float) -> None:
    logger.info("retrain: stars regParam %.4g: holdout RMSE %.4f", reg, error)


def _publish_stages(run, options, spark, export, ratings, models, run_dir, on_stage, evaluation) -> None:
    from spark_engine import stages

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
            rated_files=[path for path in (export.path, export.hidden_path) if path is not None],
            run_id=run.pk,
            out_dir=run_dir / "results",
            top_n=options.top_n,
            similar_k=options.similar_k,
            driver_max_cells=options.topn_driver_max_cells,
            taste_versions=stages.read_export(spark, export.taste_versions_path),
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
        if evaluation is not None:
            outcome.fields["evaluation"] = TrainingRun.Evaluation.RUNNING
        outcome.summary = (
            f"{counts.get('recommendations', 0):,} recommendations, {counts.get('similar', 0):,} similar pairs"
        )
        outcome.note = f"; run {run.pk} is active"


@dataclass
class _Evaluation:
    """A run's holdout evaluation, made after its publish (`_evaluate_after_publish`): on `split` when the regParam
    search made one before the fit (the chosen stars model is on it), else on a split of `ratings` made then, where a
    kept regParam choice (`reg_max_fits` 1) or the models with a fixed one are fitted. `reg_record` (the choice's
    basis, what changed since) joins the figures' "reg_search"."""

    ratings: object
    ratings_count: int
    holdout_fraction: float
    seed: int
    max_ratings: int
    biases_on_driver: bool
    reg_start: float | None
    reg_max_fits: int = MAX_REG_FITS
    # Small data: the list model is fitted on the split beside the stars regParam fits (`lists_alongside`).
    concurrent: bool = False
    config: object = None
    reg_record: dict | None = None
    # The stars blend the run fitted with (metrics["stars_blend"]); chosen on `split` unless kept from a last run.
    blend_record: dict | None = None
    split: object = None

    def holdout(self):
        from spark_engine import stages

        return stages.holdout(
            self.ratings,
            self.holdout_fraction,
            seed=self.seed,
            ratings_count=self.ratings_count,
            max_ratings=self.max_ratings,
        )

    def release(self) -> None:
        if self.split is not None:
            self.split.release()
            self.split = None


def _evaluate_after_publish(run: TrainingRun, evaluation: _Evaluation, on_stage: StageCallback | None) -> None:
    """Measure the published run on its holdout split and record the figures on it (`metrics`, `evaluate_seconds`,
    `evaluation` "succeeded"). The run serves meanwhile; a failure here never fails it: the run gets `evaluation`
    "failed" and a warning saying why."""
    from spark_engine import metrics, stages

    try:
        with _stage(run, "evaluate", on_stage) as outcome:
            if evaluation.split is None:
                evaluation.split = evaluation.holdout()
                if evaluation.reg_record is not None:  # a kept choice: its one fit, measured as the search does
                    metrics.holdout_choose_reg_param(
                        evaluation.split,
                        evaluation.config,
                        start=evaluation.reg_start,
                        max_fits=evaluation.reg_max_fits,
                        biases_on_driver=evaluation.biases_on_driver,
                        on_trial=_log_trial,
                        lists_alongside=evaluation.concurrent,
                    )
            figures = stages.evaluate_holdout(
                evaluation.split, evaluation.config, biases_on_driver=evaluation.biases_on_driver
            )
            if evaluation.reg_record is not None:
                # The search's full record (trials, RMSE) with what the pre-publish record said of its basis.
                figures["reg_search"] = {**evaluation.reg_record, **figures.get("reg_search", {})}
            if evaluation.blend_record is not None:
                blend = {**evaluation.blend_record, **figures.get("stars_blend", {})}
                if "stars_rmse_unblended" in figures:  # a kept blend, measured on this split
                    blend["rmse_before"], blend["rmse"] = figures["stars_rmse_unblended"], figures["rmse"]
                figures["stars_blend"] = blend
            outcome.fields = {"metrics": figures, "evaluation": TrainingRun.Evaluation.SUCCEEDED}
            outcome.summary = (
                f"stars RMSE {figures.get('rmse', float('nan')):.4f}, "
                f"lists NDCG@10 {figures.get('ndcg_at_10', float('nan')):.4f} "
                f"(popularity {figures.get('popularity', {}).get('ndcg_at_10', float('nan')):.4f})"
            )
            outcome.note = f"; after run {run.pk}'s publish"
    except Exception as exc:
        logger.exception("the evaluation of run %s failed", run.pk)
        services.training_run_evaluation_fail(run=run, error=f"{type(exc).__name__}: {exc}")
        _report(on_stage, "evaluate", f"failed: {type(exc).__name__}: {exc}; run {run.pk} serves on")
    finally:
        evaluation.release()
