"""What a retrain can be told, and queueing one: no Spark here.

Queueing writes a TrainingRun and hands django-q2 the task's dotted path (settings.RETRAIN_TASK), so the
pages, the API and the admin queue retrains without importing the package that runs them.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields, replace

from django.conf import settings
from django.db import transaction

from . import services
from .locks import retrain_lock_is_held
from .models import TrainingRun
from .selectors import tuned_parameters

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrainStage:
    """One timed stage of a retrain: `name` prefixes its TrainingRun field (`<name>_seconds`) and labels its
    Prometheus series; `label` is what progress lines and the staff page call it."""

    name: str
    label: str

    @property
    def field(self) -> str:
        return f"{self.name}_seconds"


# In pipeline order: the retrain times each, the staff page charts them, /metrics exports them. What a run's
# duration (start to publish) holds beyond these (Spark start-up, bookkeeping) is "other". The holdout evaluation
# runs after the publish (TrainingRun.evaluation says so; runs from before that evaluated before the fit), so it is
# not part of the duration; a regParam search, when the run needs one, is part of "fit".
RETRAIN_STAGES = (
    RetrainStage("export", "export"),
    RetrainStage("fit", "fit"),
    RetrainStage("content", "content map"),
    RetrainStage("topn", "top-N"),
    RetrainStage("publish", "publish"),
    RetrainStage("evaluate", "evaluate"),
)


@dataclass(frozen=True)
class RetrainOptions:
    """Everything a retrain can be told; defaults come from settings.

    A retrain fits two models: the stars model, biased ALS (rank, max_iter, reg_param on the residuals of
    regularised user and movie biases, bias_reg_user / bias_reg_item), predicts ratings; the list model,
    implicit-feedback ALS on rating - list_center (list_rank, list_max_iter, list_reg_param, list_alpha),
    ranks the movies of top-N and similar movies. The size thresholds (EVALUATION_MAX_RATINGS,
    BIASES_DRIVER_MAX_RATINGS, TOPN_DRIVER_MAX_CELLS) are options too, so a run's stored parameters say
    everything it did.
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
    # Above this many ratings the evaluation fits the ratings of a share of the users; 0: all ratings.
    evaluation_max_ratings: int
    # Up to this many ratings (per fit) the stars model's biases are fitted on the driver; 0: always in Spark.
    biases_driver_max_ratings: int
    # Up to this many users x movies top-N and similar movies are scored on the driver; 0: always distributed.
    topn_driver_max_cells: int
    evaluate: bool = True
    # ALS user/item blocks; 0 picks from the data size and cores.
    num_blocks: int = 0
    # Choose the stars model's reg_param on the evaluation's holdout split, warm-started from the last run's choice
    # (spark_engine.reg_search). Off with ALS_REG_SEARCH=0, or when reg_param was given by `tune --save` or on the
    # command line.
    reg_search: bool = True
    # Keep the last search's choice, fitting it alone, while at most this share of the ratings changed since that
    # search's snapshot (ALS_REG_SEARCH_REUSE_CHANGE; 0: always search).
    reg_search_reuse_change: float = 0.05
    # With the regParam search, also try a larger stars rank on small data (spark_engine.reg_search.RANK_MAX_RATINGS)
    # and keep it when better beyond noise. Off with ALS_RANK_SEARCH=0, or when the rank was given by `tune --save` or
    # on the command line.
    rank_search: bool = True
    # Blend the list model's score into the predicted stars, its weight and offset chosen on the holdout split made
    # before the fit, or kept from the last run with a kept regParam choice or without an evaluation
    # (spark_engine.pipeline._choose_stars_blend; ALS_STARS_BLEND=0 turns it off). The values fitted with are
    # recorded below.
    stars_blend: bool = True
    stars_list_weight: float = 0.0
    stars_list_offset: float = 0.0
    # Up to this many ratings the two models are fitted side by side (CONCURRENT_MAX_RATINGS; 0: never).
    concurrent_max_ratings: int = 2_000_000

    @classmethod
    def from_settings(cls, **overrides) -> RetrainOptions:
        """Settings (ALS_*, LIST_ALS_* and the rest), then the parameters `manage.py tune --save` stored, then
        `overrides`. A reg_param from either of those turns the retrain's own search (`reg_search`) off, unless
        `overrides` say reg_search themselves (a queued run's stored options do)."""
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
            evaluation_max_ratings=settings.EVALUATION_MAX_RATINGS,
            biases_driver_max_ratings=settings.BIASES_DRIVER_MAX_RATINGS,
            topn_driver_max_cells=settings.TOPN_DRIVER_MAX_CELLS,
            concurrent_max_ratings=settings.CONCURRENT_MAX_RATINGS,
            num_blocks=settings.ALS_NUM_BLOCKS,
            reg_search=settings.ALS_REG_SEARCH,
            reg_search_reuse_change=settings.ALS_REG_SEARCH_REUSE_CHANGE,
            rank_search=settings.ALS_RANK_SEARCH,
            stars_blend=settings.ALS_STARS_BLEND,
        )
        tuned = tuned_parameters()
        if tuned is not None:
            tuned_options = tuned.as_options()
            defaults = replace(defaults, **tuned_options)
            if "reg_param" in tuned_options:
                defaults = replace(defaults, reg_search=False)
            if "rank" in tuned_options:
                defaults = replace(defaults, rank_search=False)
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"Unknown retrain options: {', '.join(sorted(unknown))}")
        given = {k: v for k, v in overrides.items() if v is not None}
        if "reg_param" in given and "reg_search" not in given:
            given["reg_search"] = False
        if "rank" in given and "rank_search" not in given:
            given["rank_search"] = False
        return replace(defaults, **given)

    @classmethod
    def from_stored(cls, parameters: dict) -> RetrainOptions:
        """The options of a queued run (its `parameters`), over today's defaults.

        Keys no longer known are dropped: a run queued before an upgrade (say, with the single model's
        implicit_prefs and alpha) still runs, with today's defaults for what it did not set (as the size
        thresholds, for a run queued before they were options).
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
        if not 0 <= self.reg_search_reuse_change < 1:
            problems.append("reg_search_reuse_change must be at least 0 and below 1")
        if self.stars_list_weight < 0:
            problems.append("stars_list_weight must not be negative")
        if not 0 < self.holdout_fraction < 1:
            problems.append("holdout_fraction must be between 0 and 1")
        for name in (
            "evaluation_max_ratings",
            "biases_driver_max_ratings",
            "topn_driver_max_cells",
            "concurrent_max_ratings",
        ):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if problems:
            raise ValueError("; ".join(problems))


def retrain_enqueue(*, trigger: str, options: RetrainOptions | None = None) -> TrainingRun:
    """Record a queued run and hand settings.RETRAIN_TASK to the django-q2 cluster once the transaction commits.

    If a retrain is already running or queued the trigger is recorded as skipped instead. Raises ValueError
    on invalid options.
    """
    from django_q.tasks import async_task  # looked up per call: tests replace it

    options = options or RetrainOptions.from_settings()
    options.validate()
    if retrain_lock_is_held() or TrainingRun.objects.filter(status=TrainingRun.Status.QUEUED).exists():
        return services.training_run_create(
            trigger=trigger,
            parameters=asdict(options),
            status=TrainingRun.Status.SKIPPED,
        )
    run = services.training_run_create(trigger=trigger, parameters=asdict(options))
    transaction.on_commit(lambda: async_task(settings.RETRAIN_TASK, run.pk, task_name=f"retrain-{run.pk}"))
    return run
