"""Operations endpoints: liveness, readiness, Prometheus metrics; the page for a rate-limited form."""

from __future__ import annotations

import sys

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from movierec_site.api_errors import database_unavailable_response, is_database_unavailable

from . import metrics, selectors


@never_cache
@require_safe
def healthz(request):
    """The process is up and answering. Touches nothing else, so a database outage never gets
    the web processes restarted by their supervisor."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """200 when the site can serve: database reachable, a task cluster alive, a training run serving;
    503 otherwise, naming the checks that failed. Public, so it says nothing secret."""
    checks = selectors.readiness_checks()
    failed = [name for name, check in checks.items() if not check.ok]
    body = {
        "status": "unavailable" if failed else "ok",
        "failed": failed,
        "checks": {name: check.as_dict() for name, check in checks.items()},
    }
    response = JsonResponse(body, status=503 if failed else 200)
    # Not an error of this request: without this Django logs an ERROR line for every probe while
    # not ready. The state is in the body and in /metrics.
    response._has_been_logged = True
    return response


@never_cache
@require_safe
def metrics_view(request):
    """Prometheus text format, for addresses in METRICS_ALLOWED_IPS or a METRICS_TOKEN bearer."""
    if not metrics.metrics_access_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain; charset=utf-8")
    return HttpResponse(generate_latest(metrics.scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def rate_limited(request, exception=None):
    """django-ratelimit's RATELIMIT_VIEW: a form posted too often (sign-up, password reset)."""
    return render(request, "ops/rate_limited.html", status=429)


def server_error(request):
    """handler500: a 503 when the cause is an unreachable database, Django's own 500 page otherwise."""
    if is_database_unavailable(sys.exc_info()[1]):
        return database_unavailable_response(request)
    return defaults.server_error(request)
