"""Sign-up and the onboarding page; log-in, log-out and passwords are Django's auth views.

Sign-up and password reset are rate limited per client address (django-ratelimit; a limited
POST gets ops.views.rate_limited, 429); reset is also limited per e-mail address, so nobody can
flood a stranger's inbox. Log-in is limited by django-axes (accounts.backends).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from catalog.models import Movie
from catalog.selectors import movie_list_for_onboarding
from ops.ratelimit import posted_email, rate_from_setting
from ratings.models import Rating
from ratings.services import rating_upsert

from .forms import SignUpForm
from .services import user_sign_up

ONBOARDING_MOVIES = 10
RATING_FIELD_PREFIX = "rating-"


@ratelimit(group="signup", key="ip", rate=rate_from_setting("SIGNUP_RATE_LIMIT"), method="POST")
@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = user_sign_up(
            username=form.cleaned_data["username"],
            email=form.cleaned_data.get("email", ""),
            password=form.cleaned_data["password1"],
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Rate a few movies you know so we can suggest others.")
        return redirect("welcome")
    return render(request, "registration/signup.html", {"form": form})


# Django's view, which answers every address alike ("if an account uses that address..."), so it
# never tells whether an account exists; movierec_site/urls.py routes it ahead of django.contrib.auth.urls.
password_reset = ratelimit(
    group="password_reset", key="ip", rate=rate_from_setting("PASSWORD_RESET_RATE_LIMIT"), method="POST"
)(
    ratelimit(
        group="password_reset_email",
        key=posted_email,
        rate=rate_from_setting("PASSWORD_RESET_EMAIL_RATE_LIMIT"),
        method="POST",
    )(auth_views.PasswordResetView.as_view())
)


@login_required
@require_http_methods(["GET", "POST"])
def welcome(request):
    """Ten popular, varied movies to rate on one page; POST saves every rated one at once."""
    if request.method == "POST":
        saved, errors = _save_onboarding_ratings(request)
        for error in errors:
            messages.error(request, error)
        if saved:
            messages.success(request, f"Saved {saved} rating{'s' if saved != 1 else ''}. Here is what we suggest.")
        if errors:
            return redirect("welcome")
        return redirect("recommendations")
    movies = movie_list_for_onboarding(
        count=ONBOARDING_MOVIES, exclude_subquery=Rating.objects.filter(user=request.user).values("movie_id")
    )
    return render(request, "registration/welcome.html", {"movies": movies})


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
            rating_upsert(user=request.user, movie=movie, value=value)
            saved += 1
        except ValidationError as exc:
            errors.append(f"{movie.title}: {' '.join(exc.messages)}")
    return saved, errors
