"""The served OpenAPI schema, the docs page, and a schemathesis run of the whole API against the schema."""

import os

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from movierec_site.wsgi import application
from tests.factories import RatingFactory, UserFactory

from .conftest import make_active_run

TOKEN_KEY = "0123456789abcdef0123456789abcdef01234567"
# Per operation and generation mode (positive, negative): about 16 x 2 x 25 requests, well under a minute.
# API_FUZZ_EXAMPLES=500 digs deeper.
MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))


@pytest.mark.django_db
def test_the_schema_is_served_as_openapi_3_and_names_every_endpoint(anon):
    response = anon.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) >= {
        "/api/v1/auth/token/",
        "/api/v1/movies/",
        "/api/v1/movies/{movie_id}/",
        "/api/v1/movies/{movie_id}/similar/",
        "/api/v1/me/ratings/",
        "/api/v1/me/ratings/{movie_id}/",
        "/api/v1/me/ratings/bulk/",
        "/api/v1/me/recommendations/",
        "/api/v1/me/predictions/{movie_id}/",
        "/api/v1/users/{user_id}/recommendations/",
        "/api/v1/training-runs/",
        "/api/v1/training-runs/{run_id}/",
    }
    error = schema["paths"]["/api/v1/me/ratings/"]["post"]["responses"]["400"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db
def test_the_schema_documents_the_414_for_a_long_query_string_on_every_operation(anon):
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    operations = [op for item in schema["paths"].values() for op in item.values() if "responses" in op]
    assert operations and all("414" in op["responses"] for op in operations)
    too_long = schema["paths"]["/api/v1/me/recommendations/"]["get"]["responses"]["414"]
    assert too_long["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


@pytest.mark.django_db
def test_the_genre_filters_are_documented_as_matching_nothing_when_unknown(anon):
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    for path in ("/api/v1/movies/", "/api/v1/me/recommendations/"):
        operation = schema["paths"][path]["get"]
        (genre,) = [p for p in operation["parameters"] if p["name"] == "genre"]
        assert genre["schema"]["type"] == "string"
        assert "unknown name matches no movie" in genre["description"]
        assert "unknown movie or genre" not in operation["responses"]["400"]["description"]


@pytest.mark.django_db
def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(anon):
    response = anon.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in page
    assert "cdn" not in page.lower()
    assert "<script>" not in page  # no inline script: the start-up script is a file (CSP)
    script = anon.get("/api/docs/?script")
    assert script.status_code == 200 and reverse("api_schema") in script.content.decode()
    assert anon.get(bundle).status_code == 200  # the file is ours to serve


# --- schemathesis: generated valid and invalid requests to every operation, responses checked against the schema ---


@pytest.fixture
def fuzzing_world(db, catalogue, monkeypatch):
    # A staff user (so staff endpoints answer 200 too) with some ratings, a trained model, similar movies.
    user = UserFactory(username="fuzzer", is_staff=True)
    Token.objects.create(user=user, key=TOKEN_KEY)
    for movie in catalogue["comedies"][:3]:
        RatingFactory(user=user, movie=movie, value=4)
    comedies = catalogue["comedies"]
    make_active_run(catalogue["factors"], similar={comedies[0]: comedies[1:4]})
    # Generated requests come fast; the throttles are tested elsewhere.
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "100000/minute"})
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "100000/minute"})
    # POST /training-runs/ queues a retrain: never run Spark here (on_commit does not fire in this test anyway).
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    # The real WSGI app closes "old" connections around each request, which would end the test's
    # transaction; Django's own test client turns that off the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield user
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@pytest.mark.slow
def test_api_conforms_to_its_schema_and_never_fails_with_5xx(fuzzing_world):
    """Valid and invalid requests generated from the served schema, for every operation.

    schemathesis' pytest plugin (`schema.parametrize()`) does not run under pytest 9, so the
    operations are driven here through its Python API: a Hypothesis strategy per operation and
    generation mode, each case sent to the WSGI app in-process and its response checked.
    """
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    # A generated query string over MAX_QUERY_STRING_BYTES is refused with a 414 (documented on every operation):
    # as much a rejection of invalid data as a 400.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "414"]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    headers = {"Authorization": f"Token {TOKEN_KEY}"}

    for operation in operations:
        for mode in GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def check(case):
                # DELETE /auth/token/ may have revoked the token in an earlier example.
                Token.objects.get_or_create(key=TOKEN_KEY, defaults={"user": fuzzing_world})
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                check()
            except Unsatisfiable:
                # Nothing to make invalid: the operation takes no parameters and no body.
                assert mode == GenerationMode.NEGATIVE, operation.label
            except Exception as exc:
                raise AssertionError(f"{operation.label} ({mode} data): {exc}") from exc
