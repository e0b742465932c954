"""The project's DRF toolkit, shared by every app's API: strict pagination, request-body fields that
accept exactly the JSON type the schema documents, a strict integer for query strings, the query
string as a plain dict for filter serializers, absolute links, and the browsable API's renderer and
view descriptions (what a person sees opening an API URL in a browser).

A base module: it imports no app, and every app may import it (the layering is in pyproject.toml).
"""

from __future__ import annotations

import inspect
import json
import re

from django.urls import Resolver404, get_script_prefix, resolve, reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import BrowsableAPIRenderer
from rest_framework.request import override_method
from rest_framework.reverse import preserve_builtin_query_params


def query_params(request) -> dict[str, str]:
    """The query string as a plain dict (last value wins) for a filter serializer.

    Given a QueryDict, DRF treats an empty value of an optional field as "not given" (HTML form
    semantics), so `?n=` would silently mean the default. An API client sending that has made a
    mistake, and gets a 400 instead.
    """
    return request.query_params.dict()


class ApiPagination(PageNumberPagination):
    """Page-number pagination, strict: a `page` or `page_size` that is not a whole number is a 400, not ignored.

    `page_size` goes up to 100; a page past the last one is a 404.
    """

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0
        if not 1 <= size <= self.max_page_size:
            raise serializers.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return size

    def get_page_number(self, request, paginator) -> str:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return "1"
        if not (raw.isascii() and raw.isdigit() and len(raw) < 12):
            raise serializers.ValidationError({self.page_query_param: ["A page number: 1, 2, 3 …"]})
        return raw

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


# --- Request-body fields that accept exactly the JSON type the schema documents. ---
# DRF's own fields coerce ("5" and true become numbers, 5 becomes "5"), which is friendly to HTML
# forms but makes a JSON API accept what its schema says is invalid.


class JsonIntegerField(serializers.IntegerField):
    default_error_messages = {"type": "Must be a JSON integer, such as 42."}

    def to_internal_value(self, data):
        if (
            isinstance(data, bool)
            or not isinstance(data, int | float)
            or (isinstance(data, float) and not data.is_integer())
        ):
            self.fail("type")
        return super().to_internal_value(int(data))


class JsonNumberField(serializers.FloatField):
    default_error_messages = {"type": "Must be a JSON number, such as 0.1."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("type")
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    default_error_messages = {"type": "Must be true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("type")
        return data


class JsonStringField(serializers.CharField):
    default_error_messages = {"type": "Must be a JSON string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("type")
        return super().to_internal_value(data)


class QueryIntegerField(serializers.IntegerField):
    """A whole number in a query string: digits only (DRF's own field also takes "5.0")."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not re.fullmatch(r"-?[0-9]{1,18}", data):
            self.fail("invalid")
        return super().to_internal_value(data)


class RoundedFloatField(serializers.FloatField):
    """A float written rounded to `decimals` places: an average of half-star ratings to 2 decimals, not 17 digits.

    Still a JSON number (the schema's `type: number` is unchanged).
    """

    def __init__(self, *, decimals: int = 2, **kwargs):
        self.decimals = decimals
        super().__init__(**kwargs)

    def to_representation(self, value):
        return round(float(value), self.decimals)


def absolute_url(request, path: str) -> str:
    """`path` as an absolute URL on the host the request came to (a plain path without a request).

    The browsable API turns only absolute URLs in a body into links.
    """
    return request.build_absolute_uri(path) if request is not None else path


def api_url(request, name: str, *args) -> str:
    """The absolute URL of the API endpoint named `name` (in the "api" namespace, movierec_site/api_urls.py)."""
    return absolute_url(request, reverse(f"api:{name}", args=args))


# --- The browsable API: DRF's HTML pages for people who open an API URL in a browser. ---

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
# Methods every view answers; they need no description.
_UNDESCRIBED_METHODS = {"OPTIONS", "HEAD"}


def _docstring(obj) -> str:
    return inspect.cleandoc(obj.__doc__) if obj is not None and obj.__doc__ else ""


def view_summary(view_class) -> str:
    """The first paragraph of a view's docstring, on one line: what the endpoint is for."""
    first = _docstring(view_class).split("\n\n", 1)[0]
    return " ".join(first.split())


def _html_paragraphs(text: str) -> str:
    paragraphs = (" ".join(part.split()) for part in text.split("\n\n"))
    return "".join("<p>" + _CODE_SPAN.sub(r"<code>\1</code>", escape(part)) + "</p>" for part in paragraphs if part)


def view_description(view, html: bool = False) -> str:
    """REST_FRAMEWORK["VIEW_DESCRIPTION_FUNCTION"]: the view's docstring, then each method's.

    Both are written for the people using the API (the methods' docstrings are also the schema's
    descriptions of the operations), so the browsable page says what the endpoint is for and what
    each method does. `backticks` become code; there is no other markup.
    """
    intro = getattr(view, "description", None) or _docstring(view.__class__)
    methods = [
        (method, _docstring(getattr(view, method.lower(), None)))
        for method in view.allowed_methods
        if method not in _UNDESCRIBED_METHODS
    ]
    methods = [(method, text) for method, text in methods if text]
    if not html:
        return "\n\n".join([intro, *(f"{method}: {text}" for method, text in methods)]).strip()
    parts = [_html_paragraphs(intro)]
    if methods:
        items = "".join(f"<dt>{method}</dt><dd>{_html_paragraphs(text)}</dd>" for method, text in methods)
        parts.append(f'<dl class="api-methods">{items}</dl>')
    return mark_safe("".join(parts))  # every piece of text in it was escaped above


class ApiBrowsableRenderer(BrowsableAPIRenderer):
    """DRF's browsable API (templates/rest_framework/api.html), with breadcrumbs that follow the URL's real
    hierarchy and raw-data forms that start from what the request needs.

    Breadcrumbs: every prefix of the path that ends in "/" and names an API view, except views that set
    `in_breadcrumbs = False` (the catch-all 404 matches every prefix). DRF's own also resolves the prefixes
    without their slash, which only the catch-all matches.

    Forms: DRF fills the raw-data form from the serializer that `get_serializer()` returns, with every field
    at its initial value (null, "", false). Sent as they stand, optional fields would not mean "the default"
    (null is refused; `"evaluate": false` turns evaluation off), so a form to create something shows only the
    required fields, and one to change something the object's current values.
    """

    def get_breadcrumbs(self, request) -> list[tuple[str, str]]:
        from rest_framework.views import APIView  # not at the top: DRF's settings import this module

        prefix = get_script_prefix().rstrip("/")
        segments = request.path[len(prefix) :].split("/")
        crumbs = []
        for end in range(1, len(segments)):
            path = "/".join(segments[:end]) + "/"
            try:
                match = resolve(path)
            except Resolver404:
                continue
            view_class = getattr(match.func, "cls", None)
            if view_class is None or not issubclass(view_class, APIView):
                continue
            if not getattr(view_class, "in_breadcrumbs", True):
                continue
            view = view_class(**getattr(match.func, "initkwargs", {}))
            crumbs.append((view.get_view_name(), preserve_builtin_query_params(prefix + path, request)))
        return crumbs

    def get_raw_data_form(self, data, view, method, request):
        form = super().get_raw_data_form(data, view, method, request)
        if form is None or not hasattr(view, "get_serializer"):
            return form
        content = form.fields["_content"].initial
        try:
            body = json.loads(content) if content else None
        except ValueError:
            return form
        if not isinstance(body, dict):
            return form
        with override_method(view, request, method):
            serializer = view.get_serializer()
        fields = getattr(serializer, "child", serializer).fields
        kept = {key: value for key, value in body.items() if key in fields and fields[key].required}
        if method in ("PUT", "PATCH"):  # the current values of the object being changed, where there are any
            kept.update({key: value for key, value in body.items() if value is not None})
        if kept != body:
            form.fields["_content"].initial = json.dumps(kept, indent=4)
        return form
