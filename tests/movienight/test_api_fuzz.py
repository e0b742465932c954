"""schemathesis over the movie-night operations, with the client a member of a real group that has a personal list.

tests/api/test_schema.py fuzzes every operation, but its client is in no group, so every generated group id is a 404.
Here valid (positive) requests to the read operations name the group the client is in, so the list and the
detail are generated, filtered and checked against the schema too.
"""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from rest_framework.throttling import UserRateThrottle
from schemathesis import GenerationMode

from movierec_site.wsgi import application
from ratings.services import rating_upsert
from tests.api.test_schema import CHECKS

from .conftest import make_group

TOKEN_KEY = "fedcba9876543210fedcba9876543210fedcba98"
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))
READS = {("GET", "/api/v1/groups/{group_id}/"), ("GET", "/api/v1/groups/{group_id}/movies/")}


@pytest.fixture
def group_world(catalogue, stars_run, alice, bob, monkeypatch):
    Token.objects.create(user=alice, key=TOKEN_KEY)
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    rating_upsert(user=bob, movie=catalogue["dramas"][0], value=4)
    group = make_group(bob, alice)  # alice is a member, not the owner: nothing of hers can delete the group
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "100000/minute"})
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield group
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _fuzz(operation, mode, *, group_id: int | None) -> None:
    """Generated requests for one operation and mode, checked; valid ones name `group_id` when given."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        if group_id is not None:
            case.path_parameters = {**(case.path_parameters or {}), "group_id": group_id}
        case.call_and_validate(headers={"Authorization": f"Token {TOKEN_KEY}"}, checks=CHECKS)

    check()


@pytest.mark.slow
def test_movie_night_operations_conform_to_the_schema_for_a_member(group_world):
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "414"]  # the documented long-query-string answer
    operations = [op.ok() for op in schema.get_all_operations() if op.ok().path.startswith("/api/v1/groups/")]
    assert len(operations) == 8
    for operation in operations:
        for mode in GenerationMode:
            # Valid requests to a read operation name the client's group (invalid ones keep their generated path).
            in_group = mode == GenerationMode.POSITIVE and (operation.method.upper(), operation.path) in READS
            try:
                _fuzz(operation, mode, group_id=group_world.pk if in_group else None)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.label
            except Exception as exc:
                raise AssertionError(f"{operation.label} ({mode} data): {exc}") from exc
