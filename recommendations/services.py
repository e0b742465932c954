"""Writes for training runs: create, record progress, load results, publish, prune."""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from . import content, flavours
from .models import (
    ContentMap,
    EvaluationReport,
    ItemFactor,
    ListPreference,
    Recommendation,
    SimilarMovie,
    StarsItemFactor,
    StarsUserFactor,
    TrainingRun,
    TunedParameters,
    UserFactor,
)
from .user_rows import run_rows_drop_deleted_users

# Result tables and the columns their files carry, in file order.
RESULT_TABLES: dict[str, tuple[type, tuple[str, ...]]] = {
    "recommendations": (Recommendation, ("run_id", "user_id", "movie_id", "rank", "score")),
    "similar": (SimilarMovie, ("run_id", "movie_id", "similar_id", "rank", "score")),
    "user_factors": (UserFactor, ("run_id", "user_id", "taste_version", "factors")),
    "item_factors": (ItemFactor, ("run_id", "movie_id", "factors")),
    "stars_items": (StarsItemFactor, ("run_id", "movie_id", "bias", "factors")),
    "stars_users": (StarsUserFactor, ("run_id", "user_id", "bias", "factors")),
}


class RunNotActivatable(Exception):
    pass


def training_run_create(*, trigger: str, parameters: dict, status: str = TrainingRun.Status.QUEUED) -> TrainingRun:
    return TrainingRun.objects.create(trigger=trigger, parameters=parameters, status=status)


def training_run_update(*, run: TrainingRun, **fields) -> TrainingRun:
    """Save the given fields of a run immediately (progress must be visible while it runs)."""
    for name, value in fields.items():
        setattr(run, name, value)
    run.save(update_fields=list(fields))
    return run


def training_run_fail_interrupted(*, except_run: TrainingRun | None = None) -> int:
    """Mark runs left 'running' by a killed process as failed, and evaluations it left running (after their run's
    publish; the run serves on) as failed with a warning. Call only while holding the lock: a retrain holds it
    until its evaluation ends. Returns how many runs and evaluations were marked."""
    running = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING)
    evaluating = TrainingRun.objects.filter(evaluation=TrainingRun.Evaluation.RUNNING)
    if except_run is not None:
        running = running.exclude(pk=except_run.pk)
        evaluating = evaluating.exclude(pk=except_run.pk)
    marked = running.update(
        status=TrainingRun.Status.FAILED,
        error="Interrupted: the process running this retrain stopped before it finished.",
        finished_at=timezone.now(),
    )
    for run in evaluating:
        training_run_evaluation_fail(run=run, error="Interrupted: the process stopped before the evaluation finished.")
        marked += 1
    return marked


def training_run_evaluation_fail(*, run: TrainingRun, error: str) -> TrainingRun:
    """The evaluation after a run's publish failed: say so on the run (a warning); it stays published and serving."""
    training_run_update(run=run, evaluation=TrainingRun.Evaluation.FAILED)
    return training_run_warn(run=run, warning=f"evaluation failed: {error}")


def training_run_fail_lost(*, run_id: int, error: str) -> bool:
    """Mark a queued or running run failed because the task queue gave up its task (its worker died every time).

    Returns whether a run was marked (False if it had ended meanwhile, or is gone).
    """
    return (
        TrainingRun.objects.filter(
            pk=run_id, status__in=[TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING]
        ).update(status=TrainingRun.Status.FAILED, error=error, finished_at=timezone.now())
        > 0
    )


def training_run_results_load(
    *, run: TrainingRun, files: dict[str, Iterable[Path]], content_map: content.ContentMap | None = None
) -> dict[str, int]:
    """COPY each result file (CSV without header, columns as in RESULT_TABLES) into its table, and save the run's
    `content_map` (if any) in the same transaction.

    Rows carry the run's id, so until the run is activated no reader sees them. Rows of users whose
    account was deleted meanwhile are dropped before the commit (recommendations.user_rows). Returns rows
    loaded per table. Raises KeyError for an unknown table, psycopg2 errors on bad rows.
    """
    counts: dict[str, int] = {}
    with transaction.atomic(), connection.cursor() as cursor:
        if content_map is not None:
            content_map_save(run=run, content_map=content_map)
        for name, paths in files.items():
            model, columns = RESULT_TABLES[name]
            sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)"
            total = 0
            for path in paths:
                with open(path, "rb") as handle:
                    cursor.copy_expert(sql, handle, 1 << 20)  # positional: DEBUG cursors take no size=
                    total += max(cursor.rowcount, 0)
            counts[name] = total
        loaded = {RESULT_TABLES[name][0]: name for name in files}
        dropped = run_rows_drop_deleted_users(cursor=cursor, run_id=run.pk, models=loaded)
        for model, name in loaded.items():
            counts[name] -= dropped.get(model._meta.label, 0)
    return counts


def content_map_save(*, run: TrainingRun, content_map: content.ContentMap) -> ContentMap:
    """Store `content_map` as the run's (replacing one stored before), with its summary for the admin."""
    fit = content_map.fit
    record, _ = ContentMap.objects.update_or_create(
        run=run,
        defaults={
            "data": content_map.to_bytes(),
            "movies_learned": content_map.movies_learned,
            "features": len(content_map.vocabulary),
            "list_r2": fit.get("list_r2"),
            "stars_r2": fit.get("stars_r2"),
            "bias_r2": fit.get("bias_r2"),
            "learn_seconds": fit.get("learn_seconds"),
        },
    )
    return record


def training_run_warn(*, run: TrainingRun, warning: str) -> TrainingRun:
    """Record a warning on the run (shown in the admin and on the staff page); the run goes on."""
    run.warnings = [*(run.warnings or []), warning]
    run.save(update_fields=["warnings"])
    return run


def training_run_activate(*, run: TrainingRun) -> TrainingRun:
    """Make `run` the one active run, in one transaction.

    Readers see either the previous run or this one, never a mix. Raises RunNotActivatable
    for a run that did not succeed or whose rows were pruned.
    """
    with transaction.atomic():
        # Lock all runs' active flags in a fixed order so two activations serialise.
        list(TrainingRun.objects.select_for_update().filter(is_active=True).order_by("pk"))
        run = TrainingRun.objects.select_for_update().get(pk=run.pk)
        if run.status != TrainingRun.Status.SUCCEEDED:
            raise RunNotActivatable(f"Run {run.pk} is {run.status}; only a succeeded run can serve.")
        if run.pruned_at is not None:
            raise RunNotActivatable(f"Run {run.pk} was pruned; its recommendations are gone.")
        TrainingRun.objects.filter(is_active=True).exclude(pk=run.pk).update(is_active=False)
        run.is_active = True
        run.save(update_fields=["is_active"])
    return run


def training_run_delete_rows(*, run_ids: list[int]) -> None:
    if not run_ids:
        return
    with transaction.atomic():
        for model, _ in RESULT_TABLES.values():
            model.objects.filter(run_id__in=run_ids).delete()
        ContentMap.objects.filter(run_id__in=run_ids).delete()


def training_runs_prune(*, keep: int | None = None) -> list[int]:
    """Delete published rows and run folders of succeeded runs beyond the `keep` (at least 2) most recent.

    The active run is never pruned. Failed and skipped runs hold no published rows; their
    folders are removed too. Run records stay for the history. Returns the pruned run ids.
    """
    keep = settings.TRAINING_RUNS_KEEP if keep is None else keep
    succeeded = TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED, pruned_at__isnull=True).order_by(
        "-finished_at", "-pk"
    )
    # Never fewer than two: a request that read the previous active run's id just before a
    # switch must still find its rows.
    kept = set(succeeded.values_list("pk", flat=True)[: max(keep, 2)])
    to_prune = [pk for pk in succeeded.filter(is_active=False).values_list("pk", flat=True) if pk not in kept]
    training_run_delete_rows(run_ids=to_prune)
    TrainingRun.objects.filter(pk__in=to_prune).update(pruned_at=timezone.now())
    finished = TrainingRun.objects.exclude(status__in=[TrainingRun.Status.RUNNING, TrainingRun.Status.QUEUED])
    for pk in finished.exclude(pk__in=kept).values_list("pk", flat=True):
        shutil.rmtree(training_run_dir(run_id=pk), ignore_errors=True)
    return to_prune


def training_run_dir(*, run_id: int) -> Path:
    return Path(settings.TRAINING_RUNS_DIR) / f"run-{run_id:06d}"


def tuned_parameters_save(
    *, rank: int, max_iter: int, reg_param: float, cv_rmse: float, results: list, ratings_count: int, folds: int
) -> TunedParameters:
    """Store the stars-model winner of `manage.py tune` as the retrain's defaults (replacing an earlier one; a
    tuned list model stays)."""
    return _tuned_parameters_update(
        rank=rank,
        max_iter=max_iter,
        reg_param=reg_param,
        cv_rmse=cv_rmse,
        results=results,
        ratings_count=ratings_count,
        folds=folds,
    )


def tuned_list_parameters_save(
    *,
    rank: int,
    max_iter: int,
    reg_param: float,
    alpha: float,
    cv_ndcg: float,
    results: list,
    ratings_count: int,
    folds: int,
) -> TunedParameters:
    """Store the list-model winner of `manage.py tune --lists` as the retrain's defaults (a tuned stars model
    stays)."""
    return _tuned_parameters_update(
        list_rank=rank,
        list_max_iter=max_iter,
        list_reg_param=reg_param,
        list_alpha=alpha,
        list_cv_ndcg=cv_ndcg,
        list_results=results,
        ratings_count=ratings_count,
        folds=folds,
    )


def _tuned_parameters_update(**fields) -> TunedParameters:
    tuned, _ = TunedParameters.objects.update_or_create(pk=TunedParameters.SINGLETON_PK, defaults=fields)
    return tuned


def evaluation_report_create(
    *,
    kind: str,
    ratings_count: int,
    results: dict,
    rmse: float | None = None,
    ndcg_at_10: float | None = None,
    popularity_ndcg_at_10: float | None = None,
    summary: str = "",
) -> EvaluationReport:
    """Record what `evaluate` or `tune` measured (NaN is stored as unknown)."""

    def known(value: float | None) -> float | None:
        return None if value is None or not math.isfinite(value) else float(value)

    return EvaluationReport.objects.create(
        kind=kind,
        ratings_count=ratings_count,
        results=_json_safe(results),
        rmse=known(rmse),
        ndcg_at_10=known(ndcg_at_10),
        popularity_ndcg_at_10=known(popularity_ndcg_at_10),
        summary=summary[:300],
    )


def _json_safe(value):
    """`value` with NaN and infinities as None (JSON has neither) and tuples as lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def list_preference_set(*, user, flavour: str) -> ListPreference:
    """Remember the flavour of list `user` chose (recommendations.flavours.FLAVOURS); raises ValueError otherwise."""
    if flavour not in flavours.FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}")
    preference, _ = ListPreference.objects.update_or_create(user=user, defaults={"flavour": flavour})
    return preference
