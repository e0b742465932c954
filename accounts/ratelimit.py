"""Rates and keys for django-ratelimit on the site's forms (sign-up, password reset).

Rates are read from settings when a request comes in, not when a view module is imported, so
the environment (and tests) decide them. Counters live in RATELIMIT_USE_CACHE; see settings.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest


def rate_from_setting(name: str) -> Callable[[str, HttpRequest], str]:
    """A django-ratelimit `rate` callable returning settings.<name>, such as "10/h"."""

    def rate(group: str, request: HttpRequest) -> str:
        return getattr(settings, name)

    rate.__name__ = f"rate_from_{name.lower()}"
    return rate


def posted_email(group: str, request: HttpRequest) -> str:
    """The e-mail address in a POST, case-folded: one counter per address however it is spelt."""
    return request.POST.get("email", "").strip().casefold()
