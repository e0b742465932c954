"""Structured logs: a request id on every line of a request, a run id on every line of a retrain."""

import json
import logging
import subprocess
import threading

import pytest
from django.conf import settings
from django.test import Client
from django.utils.module_loading import import_string

from movierec_site.logging import ContextFilter, current_log_context, log_context, request_id_from_header
from tests.ops.conftest import PYTHON, ROOT, subprocess_env


class Capture(logging.Handler):
    """Collects records as the site's console handler sees them (with the context filter)."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.addFilter(ContextFilter())

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def captured():
    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler.records
    root.removeHandler(handler)


def formatter(name: str) -> logging.Formatter:
    """A formatter exactly as settings.LOGGING configures it."""
    config = dict(settings.LOGGING["formatters"][name])
    factory = config.pop("()", None)
    if factory:
        return import_string(factory)(**config)
    return logging.Formatter(config["format"])


def record_in_context(message: str = "hello", **fields) -> logging.LogRecord:
    handler = Capture()
    logger = logging.getLogger("tests.ops.record")
    logger.addHandler(handler)
    try:
        with log_context(**fields):
            logger.warning(message)
    finally:
        logger.removeHandler(handler)
    return handler.records[0]


@pytest.mark.urls("tests.ops.logging_urls")
def test_every_line_of_a_request_carries_its_request_id(client, captured):
    response = client.get("/log-twice")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    lines = [r for r in captured if r.getMessage() in ("first line", "second line")]
    assert len(lines) == 2
    assert {r.request_id for r in lines} == {request_id}
    assert all(r.context == f" [request_id={request_id}]" for r in lines)
    # Django's own status line for a 404 is written after the middleware returned: it has the id too.
    missing = client.get("/nothing-here")
    (not_found,) = [r for r in captured if r.name == "django.request"]
    assert not_found.request_id == missing["X-Request-ID"]
    # Outside any request there is no id.
    logging.getLogger("tests.ops").warning("after")
    assert not hasattr(captured[-1], "request_id") and captured[-1].context == ""


@pytest.mark.urls("tests.ops.logging_urls")
def test_a_sane_incoming_request_id_is_kept_and_anything_else_replaced(client, captured):
    kept = client.get("/log-twice", HTTP_X_REQUEST_ID="lb-7f3a.42:9")
    assert kept["X-Request-ID"] == "lb-7f3a.42:9"
    assert captured[0].request_id == "lb-7f3a.42:9"
    for bad in ["has spaces", "x" * 200, 'quote"s', "-leading-dash", ""]:
        response = client.get("/log-twice", HTTP_X_REQUEST_ID=bad)
        assert response["X-Request-ID"] != bad and len(response["X-Request-ID"]) == 32


@pytest.mark.urls("tests.ops.logging_urls")
def test_concurrent_requests_keep_their_own_ids(captured):
    responses = {}

    def call(who):
        responses[who] = Client().get("/log-concurrently", {"who": who}, HTTP_X_REQUEST_ID=f"id-{who}")

    threads = [threading.Thread(target=call, args=(who,)) for who in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert {who: r.status_code for who, r in responses.items()} == {"a": 200, "b": 200}
    lines = {r.getMessage(): r.request_id for r in captured if r.getMessage().startswith("line of")}
    assert lines == {"line of a": "id-a", "line of b": "id-b"}


def test_log_context_nests_and_restores_even_on_errors():
    assert current_log_context() == {}
    with log_context(run_id=12):
        with pytest.raises(RuntimeError), log_context(stage="fit"):
            assert current_log_context() == {"run_id": 12, "stage": "fit"}
            raise RuntimeError("stage failed")
        assert current_log_context() == {"run_id": 12}
    assert current_log_context() == {}


def test_every_line_of_a_retrain_carries_the_run_id():
    record = record_in_context("retrain export: 100 ratings", run_id=41)
    assert record.run_id == 41 and record.context == " [run_id=41]"


def test_a_loggers_own_extra_wins_over_the_context():
    handler = Capture()
    logger = logging.getLogger("tests.ops.extra")
    logger.addHandler(handler)
    try:
        with log_context(run_id=1):
            logger.warning("x", extra={"run_id": 2})
    finally:
        logger.removeHandler(handler)
    assert handler.records[0].run_id == 2


def test_json_lines_have_the_fields_and_ids():
    record = record_in_context("retrain fit: done", run_id=7, request_id="abc")
    line = json.loads(formatter("json").format(record))
    assert line["message"] == "retrain fit: done"
    assert line["level"] == "WARNING" and line["logger"] == "tests.ops.record"
    assert line["run_id"] == 7 and line["request_id"] == "abc"
    assert line["time"].endswith("+00:00")
    assert "context" not in line


def test_json_lines_carry_tracebacks_and_leave_out_the_request_object(rf):
    logger = logging.getLogger("tests.ops.json")
    handler = Capture()
    logger.addHandler(handler)
    try:
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            logger.exception("boom", extra={"request": rf.get("/x"), "status_code": 500})
    finally:
        logger.removeHandler(handler)
    line = json.loads(formatter("json").format(handler.records[0]))
    assert "ZeroDivisionError" in line["exc_info"]
    assert line["status_code"] == 500 and "request" not in line


def test_text_lines_show_the_ids_after_the_logger_name():
    record = record_in_context("hello", request_id="abc")
    assert formatter("text").format(record).endswith("WARNING tests.ops.record [request_id=abc] hello")


def test_request_ids_from_headers():
    assert request_id_from_header("0f8c-AA_b.1:2") == "0f8c-AA_b.1:2"
    assert request_id_from_header(None) != request_id_from_header(None)
    assert request_id_from_header("a\nb") != "a\nb"


def test_spark_python_loggers_are_kept_at_warning():
    for name in ("py4j", "py4j.clientserver", "pyspark"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING


def test_development_logs_are_text():
    # The test settings start with DEBUG=1 (pytest-django turns DEBUG off afterwards).
    assert settings.LOG_FORMAT == "text"
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "text"


@pytest.mark.slow
def test_production_logs_are_json_lines():
    env = subprocess_env(DEBUG="0", SECRET_KEY="k" * 64, ALLOWED_HOSTS="movies.example.com")
    code = (
        "import logging\n"
        "from movierec_site.logging import log_context\n"
        "with log_context(run_id=42):\n"
        "    logging.getLogger('spark_engine.pipeline').warning('retrain %s: %s', 'export', 'done')\n"
    )
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "shell", "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    # Every line is JSON; other libraries may log too (at exit, say), so find ours by its message.
    lines = [json.loads(text) for text in result.stderr.strip().splitlines()]
    ours = [line for line in lines if line.get("message") == "retrain export: done"]
    assert len(ours) == 1, result.stderr
    line = ours[0]
    assert line["run_id"] == 42
    assert line["logger"] == "spark_engine.pipeline" and line["level"] == "WARNING"


def test_serve_writes_gunicorn_access_log_unless_turned_off(settings):
    from ops.management.commands.serve import gunicorn_command

    settings.WEB_ACCESS_LOG = True
    command = gunicorn_command("127.0.0.1:8000")
    assert command[command.index("--access-logfile") + 1] == "-"
    settings.WEB_ACCESS_LOG = False
    assert "--access-logfile" not in gunicorn_command("127.0.0.1:8000")
