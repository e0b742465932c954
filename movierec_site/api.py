"""The project's DRF toolkit, shared by every app's API: strict pagination, request-body fields that
accept exactly the JSON type the schema documents, a strict integer for query strings, and the query
string as a plain dict for filter serializers.

A base module: it imports no app, and every app may import it (the layering is in pyproject.toml).
"""

from __future__ import annotations

import re

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination


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
