"""The recommendations page, the onboarding page (`welcome`), and the staff page with the training-run history."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from catalog.models import Movie
from ratings import services as rating_services
from ratings.selectors import wishlist_movie_ids

from . import charts, flavours
from .forms import DEFAULT_MIN_RATINGS, RecommendationFilterForm
from .models import EvaluationReport, TrainingRun
from .retrain import RETRAIN_STAGES, retrain_enqueue
from .selectors import (
    cold_item_counts,
    evaluation_report_list,
    list_preference_flavour,
    onboarding_group_page_for_user,
    onboarding_page_for_user,
    recommendation_list_for_user_fresh,
    taste_groups,
    training_run_active,
    training_run_history,
)
from .services import list_preference_set

RECOMMENDATIONS_SHOWN = 30
RATING_FIELD_PREFIX = "rating-"
# "Show me others" remembers this many shown movies (in the page's hidden field and the URL).
ONBOARDING_SHOWN_MAX = 200


class ListFlavourForm(forms.Form):
    flavour = forms.ChoiceField(choices=[(name, flavours.LABELS[name]) for name in flavours.FLAVOURS])
    next = forms.CharField(required=False)


@login_required
@require_http_methods(["GET", "POST"])
def welcome(request):
    """The onboarding: a page of movies to rate, picked by ONBOARDING_STRATEGY (recommendations.onboarding).

    POST saves every rated movie at once, then shows the recommendations; with action=others ("Show me others")
    it saves them too and shows the next page, leaving out every movie shown so far (the `shown` field, carried in
    the URL: no JavaScript needed). With action=groups, the next pages ask about the best-known movies of the
    taste groups ticked (`group`), carried in the URL as `groups`.
    """
    if request.method == "POST":
        shown = _shown_ids(request.POST.get("shown", ""))
        saved, errors = _save_onboarding_ratings(request)
        for error in errors:
            messages.error(request, error)
        action = request.POST.get("action")
        if action in ("others", "groups"):
            if saved:
                messages.success(request, f"Saved {saved} rating{'s' if saved != 1 else ''}.")
            groups = _shown_ids(",".join(request.POST.getlist("group"))) if action == "groups" else []
            if action == "others":
                groups = _shown_ids(request.POST.get("groups", ""))
            return redirect(_welcome_url(shown, groups))
        if saved:
            messages.success(request, f"Saved {saved} rating{'s' if saved != 1 else ''}. Here is what we suggest.")
        if errors:
            return redirect(_welcome_url(shown))
        return redirect("recommendations")
    shown = _shown_ids(request.GET.get("shown", ""))
    groups = _shown_ids(request.GET.get("groups", ""))
    movies = []
    if groups:
        movies = onboarding_group_page_for_user(user=request.user, group_keys=groups, exclude_movie_ids=shown)
    if not movies:
        groups = []
        movies = onboarding_page_for_user(user=request.user, exclude_movie_ids=shown)
    now_shown = [*shown, *(m.pk for m in movies)][-ONBOARDING_SHOWN_MAX:]
    context = {
        "movies": movies,
        "shown": ",".join(map(str, now_shown)),
        "groups": ",".join(map(str, groups)),
        "more_pages": bool(shown),
        "taste_groups": taste_groups(),
    }
    return render(request, "registration/welcome.html", context)


def _shown_ids(value: str) -> list[int]:
    ids = []
    for part in value.split(",")[-ONBOARDING_SHOWN_MAX:]:
        if part.strip().isdigit():
            ids.append(int(part))
    return list(dict.fromkeys(ids))


def _welcome_url(shown: list[int], groups: list[int] = ()) -> str:
    # Digits and commas only: nothing to escape.
    parts = [f"{key}={','.join(map(str, ids))}" for key, ids in (("shown", shown), ("groups", groups)) if ids]
    return f"{reverse('welcome')}?{'&'.join(parts)}" if parts else reverse("welcome")


def _save_onboarding_ratings(request) -> tuple[int, list[str]]:
    values: dict[int, str] = {}
    for key, value in request.POST.items():
        if key.startswith(RATING_FIELD_PREFIX) and value:
            try:
                values[int(key.removeprefix(RATING_FIELD_PREFIX))] = value
            except ValueError:
                continue
    movies = Movie.objects.in_bulk(list(values)[:100])
    saved, errors = 0, []
    for movie_id, value in values.items():
        movie = movies.get(movie_id)
        if movie is None:
            continue
        try:
            rating_services.rating_upsert(user=request.user, movie=movie, value=value)
            saved += 1
        except ValidationError as exc:
            errors.append(f"{movie.natural_title}: {' '.join(exc.messages)}")
    return saved, errors


@login_required
@require_GET
def recommendations(request):
    form = RecommendationFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    min_ratings = data.get("min_ratings")
    if min_ratings is None:
        min_ratings = DEFAULT_MIN_RATINGS
    flavour = list_preference_flavour(user=request.user)
    result = recommendation_list_for_user_fresh(
        user=request.user,
        limit=RECOMMENDATIONS_SHOWN,
        genre=data.get("genre"),
        min_ratings=min_ratings,
        taste_version=request.user.taste_version,  # the user row was read for this GET
        flavour=flavour,
        explain=True,  # "Because you rated …" on every card, stored lists included
    )
    return render(
        request,
        "recommendations/recommendations.html",
        {
            "form": form,
            "result": result,
            "min_ratings": min_ratings,
            "wishlist_ids": wishlist_movie_ids(user=request.user),
            "flavour": flavour,
            "flavours": [
                {"name": name, "label": flavours.LABELS[name], "description": flavours.DESCRIPTIONS[name]}
                for name in flavours.FLAVOURS
            ],
            "flavour_label": flavours.LABELS[flavour],
        },
    )


@login_required
@require_POST
def recommendations_flavour(request):
    """Remember the flavour of list chosen on the recommendations page, then show it (with the filters kept)."""
    form = ListFlavourForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the lists offered.")
        return redirect("recommendations")
    list_preference_set(user=request.user, flavour=form.cleaned_data["flavour"])
    target = form.cleaned_data.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("recommendations")


# --- Staff: training-run history and "Retrain now". ---

RUN_HISTORY_CHARTED = 60
RECENT_RUNS_LISTED = 15


def staff_required(view: Callable) -> Callable:
    """Anonymous visitors go to the log-in page; signed-in people who are not staff get 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapped


def _metric(run: TrainingRun, *path: str) -> float | None:
    value = run.metrics or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None  # missing, or NaN from an evaluation that had nothing to score
    return value


def _evaluated(run: TrainingRun, key: str, digits: int) -> str:
    """A run's evaluation figure for the table, or "evaluating…" while its evaluation runs after its publish."""
    if run.evaluation == TrainingRun.Evaluation.RUNNING:
        return "evaluating…"
    return _fixed(digits)(_metric(run, key))


def _fixed(digits: int) -> Callable[[float | None], str]:
    return lambda value: "–" if value is None else f"{value:.{digits}f}"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} s"


def _describe(
    name: str,
    values: list,
    items: list,
    when: list,
    fmt: Callable,
    better: str,
    *,
    noun: str = "successful run",
    ref: str = "run",
) -> str:
    """A chart's text alternative: which runs (or reports), the latest value, the best value."""
    known = [(v, item.pk, t) for v, item, t in zip(values, items, when, strict=True) if v is not None]
    if not known:
        return f"No {name} recorded yet."
    best = (min if better == "lower" else max)(known, key=lambda row: row[0])
    latest = known[-1]
    plural = "s" if len(known) != 1 else ""
    return (
        f"{name} for {len(known)} {noun}{plural}, "
        f"{date_format(known[0][2], 'j M Y')} to {date_format(latest[2], 'j M Y')}. "
        f"Latest {fmt(latest[0])} ({ref} {latest[1]}); best {fmt(best[0])} ({ref} {best[1]}). "
        f"{better.capitalize()} is better."
    )


def _evaluation_charts(reports: list[EvaluationReport]) -> list[dict]:
    """`manage.py evaluate` over time: the published models' test RMSE and NDCG@10 against popularity."""
    reports = [r for r in reports if r.kind == EvaluationReport.Kind.EVALUATE]
    reports.reverse()  # oldest first
    when = [timezone.localtime(r.created_at) for r in reports]
    labels = [f"Evaluation {r.pk}, {date_format(t, 'j M Y H:i')}" for r, t in zip(reports, when, strict=True)]
    ticks = [date_format(t, "j M") for t in when]
    four = _fixed(4)
    rmse = [r.rmse for r in reports]
    ndcg = [r.ndcg_at_10 for r in reports]
    popular = [r.popularity_ndcg_at_10 for r in reports]
    about = {"noun": "evaluation", "ref": "evaluation"}
    return [
        {
            "id": "evaluation-rmse-chart",
            "title": "Evaluations: test RMSE of predicted stars",
            "note": "manage.py evaluate: the stars model fitted on 80% of the ratings (60/20/20 split, refitted on "
            "train+validation), scored on the last 20%. Lower is better.",
            "empty": "Nothing to chart yet: run manage.py evaluate.",
            "desc": _describe("Test RMSE", rmse, reports, when, four, "lower", **about),
            "chart": charts.line_chart(
                x_labels=labels, tick_labels=ticks, series=[charts.Series("test RMSE", rmse)], value_format=four
            ),
            "columns": ["Evaluation", "When", "Test RMSE"],
            "rows": [[f"{r.pk}", f"{t:%Y-%m-%d %H:%M}", four(v)] for r, t, v in zip(reports, when, rmse, strict=True)],
        },
        {
            "id": "evaluation-ndcg-chart",
            "title": "Evaluations: NDCG@10 of the served lists against popularity",
            "note": "manage.py evaluate: the list model's top-10 on the test split, next to the most popular movies. "
            "Higher is better.",
            "empty": "Nothing to chart yet: run manage.py evaluate.",
            "desc": _describe("Lists NDCG@10", ndcg, reports, when, four, "higher", **about)
            + " "
            + _describe("Popularity NDCG@10", popular, reports, when, four, "higher", **about),
            "chart": charts.line_chart(
                x_labels=labels,
                tick_labels=ticks,
                series=[charts.Series("served lists", ndcg), charts.Series("popularity baseline", popular)],
                include_zero=True,
                value_format=four,
            ),
            "columns": ["Evaluation", "When", "Lists NDCG@10", "Popularity NDCG@10"],
            "rows": [
                [f"{r.pk}", f"{t:%Y-%m-%d %H:%M}", four(n), four(p)]
                for r, t, n, p in zip(reports, when, ndcg, popular, strict=True)
            ],
        },
    ]


def _run_charts(runs: list[TrainingRun]) -> list[dict]:
    succeeded = [r for r in runs if r.status == TrainingRun.Status.SUCCEEDED]
    when = [timezone.localtime(r.finished_at or r.created_at) for r in succeeded]
    labels = [f"Run {r.pk}, {date_format(t, 'j M Y H:i')}" for r, t in zip(succeeded, when, strict=True)]
    ticks = [date_format(t, "j M") for t in when]
    four = _fixed(4)

    rmse = [_metric(r, "rmse") for r in succeeded]
    ndcg = [_metric(r, "ndcg_at_10") for r in succeeded]
    popular = [_metric(r, "popularity", "ndcg_at_10") for r in succeeded]
    stages = [[getattr(r, stage.field) for r in succeeded] for stage in RETRAIN_STAGES]
    totals = [r.duration_seconds for r in succeeded]
    # Stages within the duration (start to publish): an evaluation after the publish is not.
    within = [
        [s[i] for stage, s in zip(RETRAIN_STAGES, stages, strict=True) if stage.name != "evaluate" or not r.evaluation]
        for i, r in enumerate(succeeded)
    ]
    other = [
        None if total is None else max(total - sum(v or 0 for v in within[i]), 0) for i, total in enumerate(totals)
    ]

    return [
        {
            "id": "rmse-chart",
            "title": "RMSE on held-out ratings",
            "note": "Root-mean-square error of predicted stars on ratings the model did not see. Lower is better.",
            "desc": _describe("RMSE", rmse, succeeded, when, four, "lower"),
            "chart": charts.line_chart(
                x_labels=labels, tick_labels=ticks, series=[charts.Series("RMSE", rmse)], value_format=four
            ),
            "columns": ["Run", "Finished", "RMSE"],
            "rows": [
                [f"{r.pk}", f"{t:%Y-%m-%d %H:%M}", four(v)] for r, t, v in zip(succeeded, when, rmse, strict=True)
            ],
        },
        {
            "id": "ndcg-chart",
            "title": "NDCG@10: the model against the popularity baseline",
            "note": "How well each top-10 ranks held-out movies rated 4 stars or more. Higher is better; "
            "the model should beat recommending the most popular movies to everyone.",
            "desc": _describe("Model NDCG@10", ndcg, succeeded, when, four, "higher")
            + " "
            + _describe("Popularity baseline NDCG@10", popular, succeeded, when, four, "higher"),
            "chart": charts.line_chart(
                x_labels=labels,
                tick_labels=ticks,
                series=[charts.Series("model", ndcg), charts.Series("popularity baseline", popular)],
                include_zero=True,
                value_format=four,
            ),
            "columns": ["Run", "Finished", "Model NDCG@10", "Popularity NDCG@10"],
            "rows": [
                [f"{r.pk}", f"{t:%Y-%m-%d %H:%M}", four(n), four(p)]
                for r, t, n, p in zip(succeeded, when, ndcg, popular, strict=True)
            ],
        },
        {
            "id": "duration-chart",
            "title": "Time per stage",
            "note": "Seconds spent in each stage; “other” is the rest of the run up to its publish: Spark start-up "
            "and bookkeeping. The evaluation runs after the publish (the run serves meanwhile), so the total, start "
            "to publish, leaves it out.",
            "desc": _describe("Total duration", totals, succeeded, when, _seconds, "lower"),
            "chart": charts.stacked_bar_chart(
                x_labels=labels,
                tick_labels=ticks,
                series=[charts.Series(s.label, values) for s, values in zip(RETRAIN_STAGES, stages, strict=True)]
                + [charts.Series("other", other)],
                value_format=_seconds,
            ),
            "columns": ["Run", "Finished", *(stage.label for stage in RETRAIN_STAGES), "other", "total"],
            "rows": [
                [
                    f"{r.pk}",
                    f"{t:%Y-%m-%d %H:%M}",
                    *(_seconds(s[i]) for s in stages),
                    _seconds(other[i]),
                    _seconds(totals[i]),
                ]
                for i, (r, t) in enumerate(zip(succeeded, when, strict=True))
            ],
        },
    ]


# What each run's evaluation measures of the list model's top-10 besides accuracy (spark_engine.metrics).
BEYOND_ACCURACY = (
    ("Coverage@10", "coverage_at_10", 4),
    ("Novelty (bits)", "novelty_at_10", 2),
    ("Diversity", "diversity_at_10", 4),
    ("Personalisation", "personalisation_at_10", 4),
    ("Popularity percentile", "popularity_percentile_at_10", 1),
)


def _trade_off(reports: list[EvaluationReport]) -> dict | None:
    """The latest `manage.py evaluate --flavours` table, ready to render; None if there is none."""
    report = next((r for r in reports if r.kind == EvaluationReport.Kind.FLAVOURS), None)
    if report is None:
        return None
    headings, rows = flavours.trade_off_rows(report.results or {}, 10)
    return {
        "report": report,
        "headings": headings,
        "rows": rows,
        "parameters": (report.results or {}).get("parameters"),
        "validated": bool((report.results or {}).get("validation")),
    }


@staff_required
@require_GET
def staff_runs(request):
    runs = training_run_history(limit=RUN_HISTORY_CHARTED)
    evaluations = evaluation_report_list(limit=RUN_HISTORY_CHARTED)
    active = next((r for r in runs if r.is_active), None) or training_run_active()
    return render(
        request,
        "recommendations/staff_runs.html",
        {
            "active": active,
            "cold_items": cold_item_counts(run=active) if active is not None and active.is_active else None,
            "charts": _run_charts(runs),
            "recent": [
                {
                    "run": r,
                    "rmse": _evaluated(r, "rmse", 4),
                    "ndcg": _evaluated(r, "ndcg_at_10", 4),
                    "beyond": [_evaluated(r, key, digits) for _, key, digits in BEYOND_ACCURACY],
                }
                for r in reversed(runs[-RECENT_RUNS_LISTED:])
            ],
            "beyond_headings": [title for title, _, _ in BEYOND_ACCURACY],
            "trade_off": _trade_off(evaluations),
            "evaluations": evaluations[:RECENT_RUNS_LISTED],
            "evaluation_charts": _evaluation_charts(evaluations),
        },
    )


@staff_required
@require_POST
def staff_retrain(request):
    """Queue a retrain on the task worker; a retrain already running or queued makes this one skipped."""
    run = retrain_enqueue(trigger=TrainingRun.Trigger.ADMIN)
    if run.status == TrainingRun.Status.SKIPPED:
        messages.warning(request, f"Run {run.pk} skipped: a retrain is already running or queued.")
    else:
        messages.success(request, f"Run {run.pk} queued; the task worker will train and publish it.")
    return redirect("staff_runs")
