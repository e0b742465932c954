"""Sign-up; log-in, log-out and passwords are Django's auth views. The onboarding page that follows
sign-up (rate ten popular movies) is recommendations.views.welcome.

Sign-up and password reset are rate limited per client address (django-ratelimit; a limited
POST gets ops.views.rate_limited, 429); reset is also limited per e-mail address, so nobody can
flood a stranger's inbox. Log-in is limited by django-axes (accounts.backends).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from .forms import SignUpForm
from .ratelimit import posted_email, rate_from_setting
from .services import user_sign_up


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
