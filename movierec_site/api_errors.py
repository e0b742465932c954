"""One error shape for the whole API, and the schema that documents it.

Every 4xx and 5xx the API answers has the body

    {"error": {"code": "invalid", "message": "…", "fields": {"value": ["…"]}}}

`code` is a stable machine-readable word (DRF's error codes: invalid, not_found, not_authenticated,
permission_denied, throttled, parse_error, …), `message` a sentence for people, and `fields` the
per-field messages of a validation error ({} otherwise; nested lists and objects for nested input,
such as the per-item errors of a bulk request).

Also the answer to a request that failed because the database is unreachable (503 with Retry-After,
in this shape under /api/, a static page elsewhere), used here and by ops.views.server_error.
"""

from __future__ import annotations

import logging

from django.core import signals
from django.core.exceptions import SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

logger = logging.getLogger("movierec.api")

NON_FIELD_KEYS = ("non_field_errors", "detail")

# No API filter needs more. Kept well under gunicorn's request-line limit (limit_request_line, 8190 bytes
# in ops/gunicorn_conf.py), so a long query string reaches ApiQueryTooLongMiddleware, which answers in the
# error shape, rather than gunicorn's HTML 414.
MAX_QUERY_STRING_BYTES = 4096


def api_exception_handler(exc, context):
    """DRF EXCEPTION_HANDLER: DRF's own handling, re-shaped; unexpected errors become a JSON 500."""
    if isinstance(exc, DjangoValidationError):
        # Services raise Django's ValidationError with messages meant for the user.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, SuspiciousOperation):
        # Over DATA_UPLOAD_MAX_NUMBER_FIELDS query parameters, say: a 400 as Django answers it, logged where
        # Django logs it, but in the error shape (not a 500).
        logging.getLogger(f"django.security.{exc.__class__.__name__}").warning(str(exc))
        exc = exceptions.ParseError(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None and is_database_unavailable(exc):
        request = context.get("request")
        logger.warning("Database unavailable: %s", exc)
        set_rollback()
        return database_unavailable_response(getattr(request, "_request", request))
    if response is None:
        request = context.get("request")
        django_request = getattr(request, "_request", request)
        logger.error("Unhandled API error on %s", getattr(django_request, "path", "?"), exc_info=exc)
        # What Django does for an uncaught exception: lets error reporters (and the test client) see it.
        signals.got_request_exception.send(sender=None, request=django_request)
        set_rollback()
        return Response(
            error_body("server_error", "Something went wrong on our side; it has been logged."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    response.data = _shape(exc, response.data)
    return response


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


class ApiQueryTooLongMiddleware:
    """An API request (/api/...) whose query string is over MAX_QUERY_STRING_BYTES gets a 414 in the error shape.

    Other pages are left alone: only the API promises a JSON error for every request.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if len(request.META.get("QUERY_STRING", "")) > MAX_QUERY_STRING_BYTES and request.path_info.startswith("/api/"):
            body = error_body("uri_too_long", f"The query string is longer than {MAX_QUERY_STRING_BYTES:,} bytes.")
            return JsonResponse(body, status=status.HTTP_414_REQUEST_URI_TOO_LONG)
        return self.get_response(request)


def _shape(exc, data) -> dict:
    if isinstance(exc, exceptions.ValidationError):
        fields: dict = {}
        messages: list[str] = []
        if isinstance(data, dict):
            for key, value in data.items():
                if key in NON_FIELD_KEYS:
                    messages.extend(str(m) for m in _flatten(value))
                else:
                    fields[key] = value
        else:
            messages.extend(str(m) for m in _flatten(data))
        if not messages:
            messages.append("The request has invalid fields; see `fields`.")
        return error_body(_first_code(exc.get_codes()) or "invalid", " ".join(messages), fields)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    message = data.get("detail", "") if isinstance(data, dict) else data
    return error_body(_first_code(code) or "error", str(message))


def _flatten(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    elif isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _first_code(codes) -> str | None:
    """The first error code in DRF's nested codes structure ('invalid' for field errors)."""
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict):
        # A field-level failure is an "invalid" request; a non-field one keeps its own code.
        for key in NON_FIELD_KEYS:
            if key in codes:
                return _first_code(codes[key])
        return "invalid" if codes else None
    if isinstance(codes, list):
        for item in codes:
            found = _first_code(item)
            if found:
                return found
    return None


# --- The database outage ---

# While the database is down (a restart, a failover) every request that needs it fails; it should
# fail fast with 503 and Retry-After, which load balancers and clients understand as "come back
# shortly", rather than a 500 that pages someone. Persistent connections broken by the outage are
# dropped at the end of the failing request (CONN_HEALTH_CHECKS), so service resumes by itself.
DATABASE_UNAVAILABLE_RETRY_AFTER = "5"
UNAVAILABLE_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>MovieRec is briefly unavailable</title>"
    "<h1>MovieRec is briefly unavailable</h1><p>Our database is not answering; please try again in a "
    "few seconds.</p></html>"
)


def database_unavailable_response(request) -> HttpResponse:
    """503 for a request that failed because the database is unreachable; JSON under /api/, else a page
    that needs nothing from the database (no session, no template context processors)."""
    if request.path.startswith("/api/"):
        response = JsonResponse(
            error_body("service_unavailable", "The database is unavailable; try again in a few seconds."), status=503
        )
    else:
        response = HttpResponse(UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = DATABASE_UNAVAILABLE_RETRY_AFTER
    return response


def is_database_unavailable(exc: BaseException | None) -> bool:
    return isinstance(exc, OperationalError | InterfaceError)


# --- OpenAPI: the Error component and the error responses of every operation. ---

ERROR_COMPONENT = {
    "type": "object",
    "description": "The body of every error response.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string", "example": "The request has invalid fields; see `fields`."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {},
                    "description": "Messages per invalid input field (nested for nested input); {} otherwise.",
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

ERROR_RESPONSES = {
    "400": "Invalid input: malformed JSON, a wrong type, a value out of range, an unknown movie.",
    "401": "No or invalid credentials where they are needed (send `Authorization: Token <key>`).",
    "403": "Authenticated, but not allowed (staff-only endpoints, or a missing CSRF token with session auth).",
    "404": "No such object, or an object that belongs to another user.",
    "406": "The Accept header asks for a format the API cannot produce.",
    "414": (
        f"The query string is longer than {MAX_QUERY_STRING_BYTES:,} bytes. (The web server refuses a request "
        "line over 8,190 bytes before it reaches the API: also a 414, but not in this shape.)"
    ),
    "429": "Too many requests; retry after the number of seconds in the Retry-After header.",
}
BODY_ERROR_RESPONSES = {
    "415": "Unsupported request body media type (use application/json).",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the shared error shape on every operation."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_COMPONENT
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(ERROR_RESPONSES)
            if "requestBody" in operation:
                errors.update(BODY_ERROR_RESPONSES)
            for code, description in errors.items():
                operation["responses"].setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result
