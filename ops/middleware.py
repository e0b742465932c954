"""Middleware: request ids, request metrics, and the Content-Security-Policy with per-view updates."""

from __future__ import annotations

import fnmatch
import time

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings

from movierec_site.logging import log_context, request_id_from_header

from . import metrics

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Gives each request an id: the client's (or proxy's) X-Request-ID if it is sane, else a new one.

    The id is on every log line written while the request is handled (movierec_site.logging), in
    `request.request_id`, and in the response's X-Request-ID header, so a user's report, the
    proxy's access log and our lines can be matched. Goes first in MIDDLEWARE to cover the others.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from_header(request.headers.get(REQUEST_ID_HEADER))
        request.request_id = request_id
        with log_context(request_id=request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestMetricsMiddleware:
    """Times every request and counts responses by view name, method and status (ops.metrics)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        metrics.observe_request(
            # The URL pattern's name, never the path: one label value per view, not per movie id.
            view=match.view_name if match is not None else metrics.UNRESOLVED_VIEW,
            method=request.method,
            status=response.status_code,
            seconds=time.perf_counter() - started,
        )
        return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus additions for named views from CONTENT_SECURITY_POLICY_VIEW_UPDATES.

    The site's own pages need nothing beyond CONTENT_SECURITY_POLICY. Third-party pages that do
    (Swagger UI, DRF's browsable API) get their additions here, matched on the URL pattern's
    view name (`fnmatch` patterns such as "api:*"), without touching their URLconf or templates.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        if report_only or match is None:
            return parts
        update: dict[str, list[str]] = {}
        for pattern, additions in getattr(settings, "CONTENT_SECURITY_POLICY_VIEW_UPDATES", {}).items():
            if fnmatch.fnmatchcase(match.view_name, pattern):
                for directive, sources in additions.items():
                    update[directive] = [*update.get(directive, []), *sources]
        if update:
            for directive, sources in (parts.update or {}).items():  # a view decorator's own csp_update
                update[directive] = [*update.get(directive, []), *sources]
            parts.update = update
        return parts
