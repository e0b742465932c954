"""Training runs and what they publish.

A run publishes two models (fitted by the Spark retrain): a list model (implicit-feedback ALS) that ranks
movies — Recommendation, SimilarMovie, UserFactor, ItemFactor — and a stars model (biased ALS) that
predicts ratings — TrainingRun.global_mean, StarsItemFactor and StarsUserFactor. Runs published before the stars model
existed have no StarsItemFactor rows; their item factors then predict stars themselves.

Result tables (Recommendation, SimilarMovie, UserFactor, ItemFactor, StarsItemFactor, StarsUserFactor) are keyed by
run and bulk-loaded with COPY. Their user/movie columns carry no database foreign keys on purpose: a
per-row FK check would dominate loading millions of rows, and the rows are only ever read
through the active run, joined to live users and movies. Deleting a run deletes its rows.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from . import flavours


class TrainingRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"

    class Trigger(models.TextChoices):
        COMMAND = "command", "management command"
        SCHEDULE = "schedule", "nightly schedule"
        NEW_RATINGS = "new_ratings", "new ratings threshold"
        ADMIN = "admin", "admin action"
        API = "api", "API"
        SETUP = "setup", "first start"

    class Evaluation(models.TextChoices):
        NONE = "", "not evaluated"
        RUNNING = "running", "evaluating"
        SUCCEEDED = "succeeded", "evaluated"
        FAILED = "failed", "evaluation failed"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    # The holdout evaluation runs after the publish (the run serves meanwhile) and records its figures in `metrics`
    # when they arrive: "running" until then. Blank: no evaluation (--no-evaluate), or evaluated before the publish.
    evaluation = models.CharField(max_length=16, choices=Evaluation.choices, default=Evaluation.NONE, blank=True)
    is_active = models.BooleanField(default=False)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.COMMAND)
    parameters = models.JSONField(default=dict, blank=True)
    spark_master = models.CharField(max_length=255, blank=True, default="")

    ratings_count = models.BigIntegerField(null=True, blank=True)
    users_count = models.IntegerField(null=True, blank=True)
    movies_count = models.IntegerField(null=True, blank=True)
    rows_written = models.BigIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    # mu of the stars model (mu + b_u + b_i + u.v); null for runs without one.
    global_mean = models.FloatField(null=True, blank=True)

    export_seconds = models.FloatField(null=True, blank=True)
    fit_seconds = models.FloatField(null=True, blank=True)
    content_seconds = models.FloatField(null=True, blank=True)
    evaluate_seconds = models.FloatField(null=True, blank=True)
    topn_seconds = models.FloatField(null=True, blank=True)
    publish_seconds = models.FloatField(null=True, blank=True)

    error = models.TextField(blank=True, default="")
    # What went wrong without failing the run (a content map that could not be learned, ...), shown with it.
    warnings = ArrayField(models.TextField(), blank=True, default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Ratings with rated_at up to this moment went into the run; the new-ratings trigger counts
    # ratings after it.
    ratings_snapshot_at = models.DateTimeField(null=True, blank=True)
    # Set when the run's published rows and files were deleted to save space; the run record
    # stays for the history charts but can no longer be activated.
    pruned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_training_run"),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(status="succeeded"), name="only_succeeded_runs_active"
            ),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def stars_reg_param(self) -> str:
        """How the stars model's regParam was set: "0.24 (chosen from 0.15, 3 fits)" when the run chose it on its
        holdout split (metrics["reg_search"]), "0.15 (kept from run 7's search, 1 fit)" when little data changed since
        that search, "0.15 (fixed)" when it was given, "–" when unknown. When the search also tried a larger rank
        (small data, spark_engine.reg_search), the rank follows: "…; rank 32 (chosen over 16)", "…; rank 16 (32 no
        better)", "…; rank 32 (kept)"."""
        search = (self.metrics or {}).get("reg_search")
        if search and search.get("reused"):
            kept = f"; rank {search['rank']} (kept)" if search.get("rank") else ""
            return f"{search['chosen']:.3g} (kept from run {search['basis']['run']}'s search, 1 fit){kept}"
        if search:
            return f"{search['chosen']:.3g} (chosen from {search['start']:.3g}, {search['fits']} fits){self._rank_note}"
        value = (self.parameters or {}).get("reg_param")
        return "–" if value is None else f"{value:.3g} (fixed)"

    @property
    def _rank_note(self) -> str:
        search = (self.metrics or {}).get("reg_search") or {}
        if not search.get("rank"):
            return ""
        rank, start = search["rank"], search.get("rank_start")
        if rank != start:
            return f"; rank {rank} (chosen over {start})"
        tried = ", ".join(str(trial["rank"]) for trial in search.get("rank_trials", []))
        return f"; rank {rank} ({tried} no better)" if tried else f"; rank {rank}"

    @property
    def stars_blend(self) -> str:
        """How the list score was blended into the predicted stars (spark_engine.blend; metrics["stars_blend"]):
        "list weight 0.12, offset -0.05 (chosen on the holdout split: RMSE 0.8612 → 0.8570)", "… (kept from run 7's
        choice)" when the run kept an earlier run's blend with its regParam, "none (…)" when no blend beat the stars
        alone, "off" when ALS_STARS_BLEND was off, "–" when unknown."""
        blend = (self.metrics or {}).get("stars_blend")
        parameters = self.parameters or {}
        if not blend:
            if parameters.get("stars_blend") is False:
                return "off"
            weight = parameters.get("stars_list_weight")
            return "none" if weight == 0 else "–"
        basis = (blend.get("basis") or {}).get("run")
        measured = ""
        if blend.get("rmse_before") is not None and blend.get("rmse") is not None:
            measured = f"RMSE {blend['rmse_before']:.4f} → {blend['rmse']:.4f}"
        if blend.get("reused"):
            where = f"kept from run {basis}'s choice"
            if measured:
                where += f"; on this run's holdout split {measured}"
        else:
            where = "chosen on the holdout split" + (f": {measured}" if measured else "")
        if not blend.get("kept") or not blend.get("list_weight"):
            return f"none (no gain beyond noise; {where})"
        return f"list weight {blend['list_weight']:.3g}, offset {blend['offset']:.3g} ({where})"


class Recommendation(models.Model):
    """A user's top-N by the list model, movies they had neither rated nor hidden at training time."""

    pk = models.CompositePrimaryKey("run_id", "user_id", "rank")
    run = models.ForeignKey(TrainingRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    movie = models.ForeignKey(
        "catalog.Movie", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField(help_text="Predicted rating (by the stars model; rank comes from the list model).")

    class Meta:
        ordering = ["run_id", "user_id", "rank"]

    def __str__(self) -> str:
        return f"run {self.run_id}: user {self.user_id} #{self.rank} movie {self.movie_id}"


class SimilarMovie(models.Model):
    """For each movie, its K nearest movies by cosine similarity of the list model's item factors."""

    pk = models.CompositePrimaryKey("run_id", "movie_id", "rank")
    run = models.ForeignKey(TrainingRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    movie = models.ForeignKey(
        "catalog.Movie", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    similar = models.ForeignKey(
        "catalog.Movie", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField(help_text="Cosine similarity.")

    class Meta:
        ordering = ["run_id", "movie_id", "rank"]

    def __str__(self) -> str:
        return f"run {self.run_id}: movie {self.movie_id} #{self.rank} {self.similar_id}"


class UserFactor(models.Model):
    """The list model's user factors at training time, and the user's taste version in the run's export.

    While the user's `taste_version` is still this one, their ratings and hidden movies are the ones the run
    ranked with, so their stored Recommendation rows are exactly what a fold-in would compute and serve as they
    are (recommendations.selectors). Null for runs published before versions were recorded and for users with
    no rating above the list model's centre (no preference to rank by: they get popular movies).
    """

    pk = models.CompositePrimaryKey("run_id", "user_id")
    run = models.ForeignKey(TrainingRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    taste_version = models.BigIntegerField(null=True, blank=True)
    factors = ArrayField(models.FloatField())

    def __str__(self) -> str:
        return f"run {self.run_id}: user {self.user_id} factors"


class ItemFactor(models.Model):
    """The list model's item factors: the site folds a user's fresh ratings in against these to rank movies."""

    pk = models.CompositePrimaryKey("run_id", "movie_id")
    run = models.ForeignKey(TrainingRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    movie = models.ForeignKey(
        "catalog.Movie", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    factors = ArrayField(models.FloatField())

    def __str__(self) -> str:
        return f"run {self.run_id}: movie {self.movie_id} factors"


class StarsItemFactor(models.Model):
    """The stars model's per-movie terms: b_i and v_i of mu + b_u + b_i + u.v.

    The site folds a user's current ratings in against these (user bias, then one ALS step on the
    residuals) to predict the stars shown on movie pages, lists and the API.
    """

    pk = models.CompositePrimaryKey("run_id", "movie_id")
    run = models.ForeignKey(TrainingRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    movie = models.ForeignKey(
        "catalog.Movie", on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    bias = models.FloatField()
    factors = ArrayField(models.FloatField())

    def __str__(self) -> str:
        return f"run {self.run_id}: movie {self.movie_id} stars terms"


class StarsUserFactor(models.Model):
    """The stars model's per-user terms at training time: b_u and u of mu + b_u + b_i + u.v.

    The item fold-in (recommendations.cold_items) solves a movie the run has not trained from its raters' terms;
    these are the run's, fixed, so the result depends only on the run and the movie's ratings (its version).
    """

    pk = models.CompositePrimaryKey("run_id", "user_id")
    run = models.ForeignKey(TrainingRun, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    bias = models.FloatField()
    factors = ArrayField(models.FloatField())

    def __str__(self) -> str:
        return f"run {self.run_id}: user {self.user_id} stars terms"


class ContentMap(models.Model):
    """A run's content map (recommendations.content): features of a movie -> both models' per-movie terms.

    Learned at the retrain on the movies with enough ratings and published with the run's other rows; it gives a
    movie the run has not trained its first factors. `data` is `content.ContentMap.to_bytes()`; the other fields
    summarise it for the admin and the staff page.
    """

    run = models.OneToOneField(TrainingRun, on_delete=models.CASCADE, primary_key=True, related_name="content_map")
    data = models.BinaryField()
    movies_learned = models.PositiveIntegerField()
    features = models.PositiveIntegerField()
    list_r2 = models.FloatField(null=True, blank=True, help_text="R² of the list factors on held-out movies.")
    stars_r2 = models.FloatField(null=True, blank=True, help_text="R² of the stars factors on held-out movies.")
    bias_r2 = models.FloatField(null=True, blank=True, help_text="R² of the movie bias on held-out movies.")
    learn_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"run {self.run_id}: content map of {self.movies_learned} movies, {self.features} features"


class TunedParameters(models.Model):
    """Parameters chosen by `manage.py tune --save`; the retrain's defaults while this row exists.

    One row at most (pk 1). The stars model's part (rank, max_iter, reg_param) comes from `tune --save`, the
    list model's part (list_*) from `tune --lists --save`; a part left empty falls back to the settings
    (ALS_* / LIST_ALS_*), as does everything once the row is deleted in the admin. Command-line options of
    `retrain` still override both.
    """

    SINGLETON_PK = 1

    rank = models.PositiveIntegerField(null=True, blank=True)
    max_iter = models.PositiveIntegerField(null=True, blank=True)
    reg_param = models.FloatField(null=True, blank=True)
    # The cross-validated score of the stars winner and its whole table, for the admin and the staff page.
    cv_rmse = models.FloatField(null=True, blank=True)
    results = models.JSONField(default=list, blank=True)
    list_rank = models.PositiveIntegerField(null=True, blank=True)
    list_max_iter = models.PositiveIntegerField(null=True, blank=True)
    list_reg_param = models.FloatField(null=True, blank=True)
    list_alpha = models.FloatField(null=True, blank=True)
    list_cv_ndcg = models.FloatField(null=True, blank=True, verbose_name="list CV NDCG@10")
    list_results = models.JSONField(default=list, blank=True)
    ratings_count = models.BigIntegerField()
    folds = models.PositiveSmallIntegerField()
    saved_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tuned ALS parameters"
        verbose_name_plural = "tuned ALS parameters"
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="tunedparameters_singleton")]

    def __str__(self) -> str:
        parts = []
        if self.rank is not None:
            parts.append(
                f"stars: rank {self.rank}, regParam {self.reg_param:g}, {self.max_iter} iterations "
                f"(CV RMSE {self.cv_rmse:.4f})"
            )
        if self.list_rank is not None:
            parts.append(
                f"lists: rank {self.list_rank}, regParam {self.list_reg_param:g}, alpha {self.list_alpha:g}, "
                f"{self.list_max_iter} iterations (CV NDCG@10 {self.list_cv_ndcg:.4f})"
            )
        return "; ".join(parts) or "no tuned parameters"

    def as_options(self) -> dict:
        """The retrain options (recommendations.retrain.RetrainOptions fields) this row sets."""
        names = ("rank", "max_iter", "reg_param", "list_rank", "list_max_iter", "list_reg_param", "list_alpha")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class EvaluationReport(models.Model):
    """What `manage.py evaluate` (also `--cold-start`) or `manage.py tune` measured, kept for the staff page and
    the admin. A cold-start report's figures are those of its best onboarding strategy."""

    class Kind(models.TextChoices):
        EVALUATE = "evaluate"
        TUNE = "tune"
        COLD_START = "cold_start", "evaluate --cold-start"
        FLAVOURS = "flavours"  # manage.py evaluate --flavours: the trade-off table of the list flavours
        COLD_ITEMS = "cold_items", "evaluate --cold-items"  # new movies: content prior, then item fold-in

    kind = models.CharField(max_length=16, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    ratings_count = models.BigIntegerField()
    # evaluate: the defaults' test RMSE (refit on train+validation); tune: the winner's cross-validated RMSE.
    rmse = models.FloatField(null=True, blank=True)
    ndcg_at_10 = models.FloatField(null=True, blank=True)
    popularity_ndcg_at_10 = models.FloatField(null=True, blank=True)
    summary = models.CharField(max_length=300, blank=True, default="")
    results = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.created_at:%Y-%m-%d %H:%M}: {self.summary}"


class ListPreference(models.Model):
    """The flavour of recommendation list a person chose on the recommendations page (recommendations.flavours).

    No row: top picks. One row per person, replaced when they choose again.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="list_preference")
    flavour = models.CharField(
        max_length=16, choices=[(name, flavours.LABELS[name]) for name in flavours.FLAVOURS], default=flavours.TOP_PICKS
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.flavour}"
