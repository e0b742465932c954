from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from movierec_site.admin_utils import PlainRowsAdmin

from .models import ContentMap, EvaluationReport, TrainingRun, TunedParameters
from .retrain import retrain_enqueue
from .services import RunNotActivatable, training_run_activate


def _seconds(value) -> str:
    return f"{value:.1f}s" if value is not None else "–"


def _pending(run: TrainingRun) -> str:
    """What an evaluation figure a run lacks shows: "evaluating…" while its evaluation runs after its publish."""
    return "evaluating…" if run.evaluation == TrainingRun.Evaluation.RUNNING else "–"


@admin.register(TrainingRun)
class TrainingRunAdmin(PlainRowsAdmin, admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "active_flag",
        "trigger",
        "created_at",
        "ratings_count",
        "users_count",
        "movies_count",
        "rows_written",
        "rmse",
        "stars_reg",
        "stars_blend",
        "ndcg",
        "popularity_ndcg",
        "export",
        "fit",
        "content",
        "evaluate",
        "topn",
        "publish",
        "total",
    ]
    list_filter = ["status", "trigger", "is_active"]
    ordering = ["-created_at"]
    actions = ["activate_run"]
    change_list_template = "admin/recommendations/trainingrun/change_list.html"
    readonly_fields = [*(f.name for f in TrainingRun._meta.fields), "content_map_summary", "stars_reg", "stars_blend"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Old runs are pruned by the pipeline, which also removes their published rows.
        return False

    @admin.display(description="active", boolean=True, ordering="is_active")
    def active_flag(self, obj):
        return obj.is_active

    @admin.display(description="RMSE")
    def rmse(self, obj):
        value = (obj.metrics or {}).get("rmse")
        return f"{value:.4f}" if value is not None else _pending(obj)

    @admin.display(description="stars regParam")
    def stars_reg(self, obj):
        return obj.stars_reg_param

    @admin.display(description="stars blend")
    def stars_blend(self, obj):
        return obj.stars_blend

    @admin.display(description="NDCG@10")
    def ndcg(self, obj):
        value = (obj.metrics or {}).get("ndcg_at_10")
        return f"{value:.4f}" if value is not None else _pending(obj)

    @admin.display(description="popularity NDCG@10")
    def popularity_ndcg(self, obj):
        value = (obj.metrics or {}).get("popularity", {}).get("ndcg_at_10")
        return f"{value:.4f}" if value is not None else _pending(obj)

    @admin.display(description="export")
    def export(self, obj):
        return _seconds(obj.export_seconds)

    @admin.display(description="fit")
    def fit(self, obj):
        return _seconds(obj.fit_seconds)

    @admin.display(description="content map")
    def content(self, obj):
        return _seconds(obj.content_seconds)

    @admin.display(description="content map")
    def content_map_summary(self, obj):
        record = ContentMap.objects.filter(run_id=obj.pk).first()
        if record is None:
            return "none (a movie this run did not train has no content prior)"
        r2 = ", ".join(
            f"{name} {value:.3f}"
            for name, value in (("lists", record.list_r2), ("stars", record.stars_r2), ("bias", record.bias_r2))
            if value is not None
        )
        return f"{record.movies_learned} movies, {record.features} features; held-out R²: {r2 or '–'}"

    @admin.display(description="evaluate")
    def evaluate(self, obj):
        return _seconds(obj.evaluate_seconds)

    @admin.display(description="top-N")
    def topn(self, obj):
        return _seconds(obj.topn_seconds)

    @admin.display(description="publish")
    def publish(self, obj):
        return _seconds(obj.publish_seconds)

    @admin.display(description="total")
    def total(self, obj):
        return _seconds(obj.duration_seconds)

    @admin.action(description="Activate the selected run (serve its recommendations)")
    def activate_run(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one run to activate.", messages.ERROR)
            return
        try:
            run = training_run_activate(run=queryset.get())
        except RunNotActivatable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Run {run.pk} is now serving recommendations.", messages.SUCCESS)

    def get_urls(self):
        return [
            path("retrain/", self.admin_site.admin_view(self.retrain_view), name="recommendations_trainingrun_retrain"),
            *super().get_urls(),
        ]

    def retrain_view(self, request):
        changelist = reverse("admin:recommendations_trainingrun_changelist")
        if request.method != "POST" or not request.user.is_staff:
            return HttpResponseRedirect(changelist)
        run = retrain_enqueue(trigger=TrainingRun.Trigger.ADMIN)
        if run.status == TrainingRun.Status.SKIPPED:
            self.message_user(
                request, f"Run {run.pk} skipped: a retrain is already running or queued.", messages.WARNING
            )
        else:
            self.message_user(
                request,
                format_html("Run {} queued; the task queue worker will train and publish it.", run.pk),
                messages.SUCCESS,
            )
        return HttpResponseRedirect(changelist)


@admin.register(TunedParameters)
class TunedParametersAdmin(admin.ModelAdmin):
    """What `manage.py tune [--lists] --save` chose; deleting it returns the retrain to the settings."""

    list_display = (
        "rank",
        "reg_param",
        "max_iter",
        "cv_rmse",
        "list_rank",
        "list_reg_param",
        "list_alpha",
        "list_max_iter",
        "list_cv_ndcg",
        "folds",
        "ratings_count",
        "saved_at",
    )
    fieldsets = (
        ("Stars model (biased ALS)", {"fields": ("rank", "reg_param", "max_iter", "cv_rmse", "results")}),
        (
            "List model (implicit ALS)",
            {"fields": ("list_rank", "list_reg_param", "list_alpha", "list_max_iter", "list_cv_ndcg", "list_results")},
        ),
        ("Search", {"fields": ("folds", "ratings_count", "saved_at")}),
    )
    readonly_fields = tuple(name for _, group in fieldsets for name in group["fields"])

    def has_add_permission(self, request):
        return False  # written by `manage.py tune --save`

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EvaluationReport)
class EvaluationReportAdmin(admin.ModelAdmin):
    """Written by `manage.py evaluate` and `manage.py tune`; read-only here."""

    list_display = ("created_at", "kind", "ratings_count", "rmse", "ndcg_at_10", "popularity_ndcg_at_10", "summary")
    list_filter = ("kind",)
    readonly_fields = [f.name for f in EvaluationReport._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
