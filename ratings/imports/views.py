"""Site pages for importing ratings: upload -> preview (choose, resolve conflicts) -> confirm -> undo.

Plain forms, no JavaScript needed. Another person's import is a 404, like a page that does not exist.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from . import formats, selectors, services
from .models import RatingImport, RatingImportItem

# Rows a preview page lists in each section (the rest are counted; matched rows apply anyway).
ROWS_SHOWN = 500
UPLOAD_SLACK = 64 * 1024  # multipart framing and the other fields around the file


class UploadForm(forms.Form):
    file = forms.FileField(
        label="Ratings file",
        help_text=f"A CSV or JSON export, at most {formats.MAX_BYTES // 2**20} MB and {formats.MAX_ROWS:,} ratings.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.json,.txt,text/csv,application/json"}),
    )
    format = forms.ChoiceField(label="Exported from", choices=formats.FORMAT_CHOICES, initial=formats.AUTO)


def _import_or_404(request, import_id: int) -> RatingImport:
    rating_import = selectors.rating_import_get(user=request.user, import_id=import_id)
    if rating_import is None:
        raise Http404("No such import.")
    return rating_import


def _too_large(request) -> bool:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > formats.MAX_BYTES + UPLOAD_SLACK
    except ValueError:
        return False


@login_required
@require_http_methods(["GET", "POST"])
def rating_import_start(request):
    """The upload form and the person's earlier imports; POST stores a preview and shows it."""
    status, upload_error = 200, ""
    if request.method == "POST" and _too_large(request):
        # Refused before Django reads the body into memory or a temporary file.
        form, status = UploadForm(), 400
        upload_error = f"The file is larger than {formats.MAX_BYTES // 2**20} MB, the limit."
    elif request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > formats.MAX_BYTES:
                    raise ValidationError(f"The file is larger than {formats.MAX_BYTES // 2**20} MB, the limit.")
                rating_import = services.rating_import_preview(
                    user=request.user, data=upload.read(), filename=upload.name, format=form.cleaned_data["format"]
                )
            except ValidationError as exc:
                form.add_error("file", exc)
            else:
                return redirect("rating_import_detail", import_id=rating_import.pk)
        status = 400
    else:
        form = UploadForm()
    imports = list(selectors.rating_import_list_for_user(user=request.user)[:20])
    return render(
        request,
        "ratings/import_start.html",
        {"form": form, "imports": imports, "upload_error": upload_error},
        status=status,
    )


@login_required
def rating_import_detail(request, import_id: int):
    """A preview to check and confirm, or what an applied import did (with its undo button)."""
    rating_import = _import_or_404(request, import_id)
    counts = selectors.rating_import_counts(rating_import=rating_import)
    context = {"import": rating_import, "counts": counts, "rows_shown": ROWS_SHOWN}
    if rating_import.status == RatingImport.Status.PREVIEW:
        sections = {
            match: list(selectors.rating_import_items(rating_import=rating_import, match=match)[:ROWS_SHOWN])
            for match in RatingImportItem.Match.values
        }
        conflicts = selectors.rating_import_conflicts(rating_import=rating_import)
        candidate_ids = {m for key in ("choose", "not_found") for item in sections[key] for m in item.candidates}
        movies = selectors.movies_by_id(movie_ids=candidate_ids)
        for key in ("choose", "not_found"):
            for item in sections[key]:
                item.candidate_movies = [movies[m] for m in item.candidates if m in movies]
        context |= {
            "sections": sections,
            "conflicts": conflicts[:ROWS_SHOWN],
            "conflict_count": len(conflicts),
            "policies": selectors.CONFLICT_POLICIES,
        }
    else:
        context["changes"] = list(
            selectors.rating_import_items(rating_import=rating_import)
            .exclude(outcome="")
            .order_by("outcome", "line")[:ROWS_SHOWN]
        )
    return render(request, "ratings/import_detail.html", context)


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


@login_required
@require_POST
def rating_import_confirm(request, import_id: int):
    """POST choice-<row>=<movie id>|none, conflict_policy=newest|mine|theirs, conflict-<row>=mine|theirs."""
    rating_import = _import_or_404(request, import_id)
    choices: dict[int, int | None] = {}
    overrides: dict[int, str] = {}
    for key, value in request.POST.items():
        if key.startswith("choice-") and (row := _int(key.removeprefix("choice-"))) is not None:
            choices[row] = _int(value)
        elif key.startswith("conflict-") and (row := _int(key.removeprefix("conflict-"))) is not None and value:
            overrides[row] = value
    try:
        rating_import = services.rating_import_apply(
            rating_import=rating_import,
            choices=choices,
            conflict_policy=request.POST.get("conflict_policy") or selectors.NEWEST,
            conflict_overrides=overrides,
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("rating_import_detail", import_id=import_id)
    counts = rating_import.applied_counts
    written = counts.get("created", 0) + counts.get("updated", 0)
    messages.success(
        request, f"Imported {written} rating{'s' if written != 1 else ''}. You can undo this import below."
    )
    return redirect("rating_import_detail", import_id=import_id)


@login_required
@require_POST
def rating_import_undo(request, import_id: int):
    rating_import = _import_or_404(request, import_id)
    try:
        rating_import = services.rating_import_undo(rating_import=rating_import)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        counts = rating_import.undone_counts
        text = f"Undone: removed {counts.get('removed', 0)} and restored {counts.get('restored', 0)} ratings."
        if counts.get("changed_since"):
            text += f" {counts['changed_since']} you changed since were left as they are."
        messages.success(request, text)
    return redirect("rating_import_detail", import_id=import_id)


@login_required
@require_POST
def rating_import_discard(request, import_id: int):
    rating_import = _import_or_404(request, import_id)
    try:
        services.rating_import_discard(rating_import=rating_import)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("rating_import_detail", import_id=import_id)
    messages.success(request, "Import cancelled; nothing was changed.")
    return HttpResponseRedirect(reverse("rating_import_start"))
