"""Middleware: request ids, request metrics, the Content-Security-Policy with per-view updates, and Django's session,
authentication and message middlewares made to skip token-authenticated API requests."""

from __future__ import annotations

import fnmatch
import time
from dataclasses import asdict
from http import HTTPStatus

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware, PolicyParts
from csp.utils import build_policy
from django.conf import settings
from django.contrib.auth import middleware as django_auth
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import middleware as django_messages
from django.contrib.sessions import middleware as django_sessions
from django.core.signals import setting_changed
from django.dispatch import receiver

from movierec_site.logging import log_context, request_id_from_header

from . import metrics

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_META = "HTTP_X_REQUEST_ID"


class RequestIdMiddleware:
    """Gives each request an id: the client's (or proxy's) X-Request-ID if it is sane, else a new one.

    The id is on every log line written while the request is handled (movierec_site.logging), in
    `request.request_id`, and in the response's X-Request-ID header, so a user's report, the
    proxy's access log and our lines can be matched. Goes first in MIDDLEWARE to cover the others.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # META rather than request.headers, which would copy every header of the request to find this one.
        request_id = request_id_from_header(request.META.get(_REQUEST_ID_META))
        request.request_id = request_id
        with log_context(request_id=request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


def is_token_api_request(request) -> bool:
    """Whether DRF's token authentication decides who sends this request: an API path and `Authorization: Token …`.

    Such a request is answered by the token alone: a valid one authenticates it, any other is a 401, and
    session authentication is never consulted (rest_framework.authentication.TokenAuthentication, first in
    REST_FRAMEWORK's authentication classes; the header's keyword is case-insensitive, as DRF reads it).
    """
    if not request.path_info.startswith("/api/"):
        return False
    words = request.META.get("HTTP_AUTHORIZATION", "").split(None, 1)
    return bool(words) and words[0].lower() == "token"


class _SkippedForTokenApi:
    """Passes a token API request straight on (is_token_api_request), skipping this middleware's work both ways.

    Sessions, the session's user and messages cost every request (the session cookie read, a lazy user, three
    message storages built) yet a request with an API token uses none of them: the token alone names the user.
    Subclasses of Django's own, so they keep their places and checks (the admin's) and behave exactly as
    Django's for every other request. Django's CSRF middleware stays as it is, for every request: it costs a
    token request next to nothing (DRF's views are exempt from its check; DRF checks CSRF itself, for
    session-authenticated requests only), and the deploy checks look for it by name.
    """

    def __call__(self, request):
        if is_token_api_request(request):
            return self.get_response(request)
        return super().__call__(request)


class SessionMiddleware(_SkippedForTokenApi, django_sessions.SessionMiddleware):
    pass


class AuthenticationMiddleware(_SkippedForTokenApi, django_auth.AuthenticationMiddleware):
    def __call__(self, request):
        if is_token_api_request(request):
            request.user = AnonymousUser()  # until DRF's token authentication sets the token's user
            return self.get_response(request)
        return super().__call__(request)


class MessageMiddleware(_SkippedForTokenApi, django_messages.MessageMiddleware):
    pass


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


# (middleware class, view name or None when unresolved) -> (policy, report-only policy) as django-csp builds them.
_csp_policies: dict[tuple[type, str | None], tuple[str, str]] = {}


@receiver(setting_changed)
def _csp_settings_changed(*, setting, **kwargs):
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _csp_policies.clear()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, plus additions for named views from CONTENT_SECURITY_POLICY_VIEW_UPDATES, with each
    view's header built once per process.

    The site's own pages need nothing beyond CONTENT_SECURITY_POLICY. Third-party pages that do
    (Swagger UI, DRF's browsable API) get their additions here, matched on the URL pattern's
    view name (`fnmatch` patterns such as "api:*"), without touching their URLconf or templates.

    django-csp builds both policies (enforced and report-only) afresh for every response: dataclass copies, the
    directive table walked twice, and here the view patterns matched each time, ~0.07 ms of a ~0.8 ms API request.
    The policy depends only on the settings and the view's name unless a view sets its own (`csp_update`,
    `csp_replace`, a per-response config) or the page used a nonce: those responses take django-csp's own way,
    every other response the header its view got the first time. The headers are dropped when a CSP setting changes.
    """

    _RESPONSE_PARTS = (
        *("_csp_config", "_csp_update", "_csp_replace"),
        *("_csp_config_ro", "_csp_update_ro", "_csp_replace_ro"),
    )

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in self._RESPONSE_PARTS
        ):
            return super().process_response(request, response)
        if response.status_code in (HTTPStatus.INTERNAL_SERVER_ERROR, HTTPStatus.NOT_FOUND) and settings.DEBUG:
            return response  # django-csp leaves Django's debug pages alone
        match = getattr(request, "resolver_match", None)
        view_name = None if match is None else match.view_name
        policies = _csp_policies.get((type(self), view_name))
        if policies is None:
            policies = _csp_policies[type(self), view_name] = (
                build_policy(**asdict(self.get_policy_parts(request, response))),
                build_policy(**asdict(self.get_policy_parts(request, response, report_only=True)), report_only=True),
            )
        for header, policy, exempt, setting in (
            (HEADER, policies[0], "_csp_exempt", "CONTENT_SECURITY_POLICY"),
            (HEADER_REPORT_ONLY, policies[1], "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
        ):
            # As django-csp: only when not already set, not exempted, and not under an excluded prefix.
            if policy and header not in response and getattr(response, exempt, False) is False:
                prefixes = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES", None) or ()
                if not request.path_info.startswith(tuple(prefixes)):
                    response[header] = policy
        # As django-csp: request.csp_nonce raises once the header is written.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response

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
