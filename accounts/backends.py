"""Log-in rate limiting: django-axes, adapted to this site."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings


class LoginRateLimitBackend(AxesStandaloneBackend):
    """Axes' lockout check for log-ins that come through an HTTP request.

    `authenticate()` without a request (the test client's `login()`, a shell) has no client
    to rate limit, so it passes through to the next backend instead of raising.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip_address(request) -> str | None:
    """The client's address: REMOTE_ADDR, or the hop our own proxy appended to X-Forwarded-For."""
    if settings.SECURE_PROXY_SSL_HEADER:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
