"""Your data: download it, read about your ratings, delete your account."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate, logout
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from ratings import takeaway
from recommendations import charts

from .selectors import MIN_RATERS, ratings_about_for_user, user_data_counts
from .services import account_delete

# name in the URL -> (stream, file name suffix, content type)
DOWNLOADS: dict[str, tuple[Callable[..., Iterator[bytes]], str, str]] = {
    "ratings.csv": (takeaway.ratings_csv, "ratings.csv", "text/csv; charset=utf-8"),
    "wishlist.csv": (takeaway.wishlist_csv, "wishlist.csv", "text/csv; charset=utf-8"),
    "hidden.csv": (takeaway.hidden_csv, "hidden.csv", "text/csv; charset=utf-8"),
    "letterboxd.csv": (takeaway.letterboxd_csv, "ratings-letterboxd.csv", "text/csv; charset=utf-8"),
    "all.zip": (takeaway.takeaway_zip, "all.zip", "application/zip"),
}


def takeaway_response(stream: Iterator[bytes], *, filename: str, content_type: str) -> StreamingHttpResponse:
    """A streamed download that no cache keeps (it is someone's private data)."""
    response = StreamingHttpResponse(stream, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    response["Cache-Control"] = "no-store, private"
    return response


def takeaway_filename(user, suffix: str) -> str:
    return f"movierec-{user.pk}-{timezone.localdate():%Y-%m-%d}-{suffix}"


@login_required
@require_GET
@never_cache
def your_data(request):
    counts = user_data_counts(user=request.user)
    return render(request, "yourdata/your_data.html", {"counts": counts})


@login_required
@require_GET
def download(request, name: str):
    stream, suffix, content_type = DOWNLOADS[name]
    return takeaway_response(
        stream(user=request.user), filename=takeaway_filename(request.user, suffix), content_type=content_type
    )


class AccountDeleteForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="To make sure it is you.",
    )

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_password(self):
        password = self.cleaned_data["password"]
        # Through authenticate(), so wrong passwords count towards the log-in lockout (django-axes).
        user = authenticate(self.request, username=self.request.user.get_username(), password=password)
        if getattr(self.request, "axes_locked_out", False):
            self.request.axes_locked_out = False  # answer here, not with the log-in lockout page
            raise forms.ValidationError("Too many wrong passwords; try again later.", code="locked_out")
        if user is None or user.pk != self.request.user.pk:
            raise forms.ValidationError("That is not your password.", code="wrong_password")
        return password


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def delete_account(request):
    form = AccountDeleteForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        account_delete(user=request.user)
        logout(request)
        messages.success(request, "Your account and everything in it are deleted. Goodbye!")
        return redirect("home")
    counts = user_data_counts(user=request.user)
    return render(request, "yourdata/delete_account.html", {"form": form, "counts": counts})


@login_required
@require_GET
def about_ratings(request):
    about = ratings_about_for_user(user=request.user)
    labels = [f"{value:g}" for value, _ in about.distribution]
    chart = {
        "id": "stars-chart",
        "title": "Your stars",
        "note": "How many of your ratings gave each number of stars.",
        "desc": ", ".join(f"{label} stars: {n}" for label, (_, n) in zip(labels, about.distribution, strict=True)),
        "empty": "No ratings yet.",
        "caption": "Your ratings per number of stars",
        "chart": charts.stacked_bar_chart(
            x_labels=labels,
            series=[charts.Series("ratings", [n for _, n in about.distribution])],
            value_format=lambda v: f"{v:g}",
        ),
        "columns": ["Stars", "Ratings"],
        "rows": [[label, n] for label, (_, n) in zip(labels, about.distribution, strict=True)],
    }
    return render(
        request,
        "yourdata/about_ratings.html",
        {"about": about, "chart": chart, "min_raters": MIN_RATERS},
    )
