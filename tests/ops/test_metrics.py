"""/metrics: who may scrape, and what the scrape says."""

import subprocess
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import REGISTRY

from ops import metrics
from recommendations.metrics import observe_foldin
from recommendations.models import TrainingRun
from tests.ops.conftest import PYTHON, ROOT, report_cluster, subprocess_env

pytestmark = pytest.mark.django_db

TOKEN = "t" * 40


def samples(response) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from a Prometheus text response."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def scrape(client):
    return client.get("/metrics", REMOTE_ADDR="127.0.0.1")


# --- Access ---


def test_metrics_are_refused_to_other_addresses(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 403
    assert b"movierec" not in response.content


def test_metrics_are_served_to_loopback_by_default(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200  # dual-stack socket


def test_allowed_networks_come_from_the_setting(client, settings):
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403


def test_a_bearer_token_opens_metrics_from_anywhere(client, settings):
    settings.METRICS_TOKEN = TOKEN
    far = {"REMOTE_ADDR": "203.0.113.7"}
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **far).status_code == 200
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x", **far).status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Token {TOKEN}", **far).status_code == 403
    assert client.get("/metrics", **far).status_code == 403


def test_no_token_configured_means_no_token_accepted(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def test_behind_a_proxy_the_forwarded_client_address_counts_not_the_proxys(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    via_proxy = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "https"}
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="203.0.113.7", **via_proxy).status_code == 403
    # A client cannot pretend: the proxy appends the real address as the last hop.
    spoofed = "127.0.0.1, 203.0.113.7"
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=spoofed, **via_proxy).status_code == 403
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1", **via_proxy).status_code == 200


# --- Content ---


def test_requests_are_counted_and_timed_by_view_name(client):
    def value(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = value("movierec_http_request_duration_seconds_count", view="healthz", method="GET")
    before_200 = value("movierec_http_responses_total", view="healthz", method="GET", status="200")
    before_404 = value("movierec_http_responses_total", view=metrics.UNRESOLVED_VIEW, method="GET", status="404")
    client.get("/healthz")
    client.get("/healthz")
    client.get("/no-such-page/at-all")
    found = samples(scrape(client))
    key = (("method", "GET"), ("view", "healthz"))
    assert found[("movierec_http_request_duration_seconds_count", key)] == before + 2
    ok = (("method", "GET"), ("status", "200"), ("view", "healthz"))
    assert found[("movierec_http_responses_total", ok)] == before_200 + 2
    unresolved = (("method", "GET"), ("status", "404"), ("view", metrics.UNRESOLVED_VIEW))
    assert found[("movierec_http_responses_total", unresolved)] == before_404 + 1


def test_odd_methods_share_one_label(client):
    client.generic("BREW", "/healthz")
    assert REGISTRY.get_sample_value(
        "movierec_http_responses_total", {"view": "healthz", "method": "other", "status": "405"}
    )


def test_foldin_latency_is_a_histogram():
    before = REGISTRY.get_sample_value("movierec_foldin_duration_seconds_count") or 0.0
    below_2ms = REGISTRY.get_sample_value("movierec_foldin_duration_seconds_bucket", {"le": "0.002"}) or 0.0
    observe_foldin(0.0015)
    observe_foldin(0.3)
    assert REGISTRY.get_sample_value("movierec_foldin_duration_seconds_count") == before + 2
    assert REGISTRY.get_sample_value("movierec_foldin_duration_seconds_bucket", {"le": "0.002"}) == below_2ms + 1


def test_retrain_outcomes_and_stage_durations_come_from_the_training_runs(client):
    now = timezone.now()
    TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        started_at=now - timedelta(hours=30, minutes=2),
        finished_at=now - timedelta(hours=30),
        export_seconds=99,
    )
    latest_ok = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        is_active=True,
        started_at=now - timedelta(hours=3, seconds=80),
        finished_at=now - timedelta(hours=3),
        export_seconds=2.5,
        evaluate_seconds=40,
        fit_seconds=6,
        topn_seconds=5,
        publish_seconds=1,
    )
    TrainingRun.objects.create(
        status=TrainingRun.Status.FAILED,
        started_at=now - timedelta(hours=1, seconds=30),
        finished_at=now - timedelta(hours=1),
        export_seconds=3,
    )
    TrainingRun.objects.create(status=TrainingRun.Status.SKIPPED, finished_at=now)
    TrainingRun.objects.create(status=TrainingRun.Status.RUNNING, started_at=now - timedelta(seconds=90))
    TrainingRun.objects.create(status=TrainingRun.Status.QUEUED)

    found = samples(scrape(client))

    def get(name, **labels):
        return found.get((name, tuple(sorted(labels.items()))))

    assert get("movierec_training_runs_total", status="succeeded") == 2
    assert get("movierec_training_runs_total", status="failed") == 1
    assert get("movierec_training_runs_total", status="skipped") == 1
    assert get("movierec_training_runs_queued") == 1
    assert get("movierec_training_run_in_progress") == 1
    assert 85 <= get("movierec_training_run_in_progress_seconds") <= 150
    # Stage durations of the latest success, and of the latest failure as far as it got.
    assert get("movierec_training_run_stage_seconds", status="succeeded", stage="export") == 2.5
    assert get("movierec_training_run_stage_seconds", status="succeeded", stage="evaluate") == 40
    assert get("movierec_training_run_stage_seconds", status="succeeded", stage="publish") == 1
    assert get("movierec_training_run_stage_seconds", status="failed", stage="export") == 3
    assert get("movierec_training_run_stage_seconds", status="failed", stage="fit") is None
    assert get("movierec_training_run_duration_seconds", status="succeeded") == pytest.approx(80)
    assert get("movierec_training_run_duration_seconds", status="failed") == pytest.approx(30)
    assert get("movierec_training_run_last_finished_timestamp_seconds", status="succeeded") == pytest.approx(
        latest_ok.finished_at.timestamp()
    )
    assert get("movierec_training_run_active") == 1
    assert get("movierec_training_run_active_id") == latest_ok.pk
    assert 3 * 3600 - 60 <= get("movierec_training_run_active_age_seconds") <= 3 * 3600 + 60
    assert get("movierec_metrics_collector_up", collector="training_runs") == 1


def test_queue_length_and_clusters_come_from_the_broker(client):
    from django_q.brokers import get_broker

    broker = get_broker()
    broker.enqueue("task one")
    broker.enqueue("task two")
    report_cluster()
    found = samples(scrape(client))
    assert found[("movierec_task_queue_length", ())] == 2
    assert found[("movierec_task_queue_in_progress", ())] == 0
    assert found[("movierec_task_clusters", ())] == 1


def test_a_failing_source_is_reported_and_the_rest_still_served(client, monkeypatch):
    def broken(self):
        raise RuntimeError("database is down")

    monkeypatch.setattr(metrics.TrainingRunCollector, "collect", broken)
    found = samples(scrape(client))
    assert found[("movierec_metrics_collector_up", (("collector", "training_runs"),))] == 0
    assert found[("movierec_metrics_collector_up", (("collector", "task_queue"),))] == 1
    assert ("movierec_task_queue_length", ()) in found


@pytest.mark.slow
def test_multiprocess_mode_adds_up_every_worker(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, what two worker processes observed is in one scrape."""
    env = subprocess_env(
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="movierec_site.test_settings",
    )
    worker = "import django; django.setup()\nfrom ops.metrics import observe_request\n" + (
        "from recommendations.metrics import observe_foldin\n"
        "observe_foldin(0.001); observe_request(view='healthz', method='GET', status=200, seconds=0.01)"
    )
    for _ in range(2):
        subprocess.run([PYTHON, "-c", worker], env=env, cwd=ROOT, check=True, timeout=120)
    scraper = (
        "import django; django.setup()\n"
        "from prometheus_client import generate_latest\n"
        "from ops.metrics import scrape_registry\n"
        "print(generate_latest(scrape_registry()).decode())"
    )
    out = subprocess.run(
        [PYTHON, "-c", scraper], env=env, cwd=ROOT, check=True, timeout=120, capture_output=True, text=True
    ).stdout
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(out)
        for sample in family.samples
    }
    assert found[("movierec_foldin_duration_seconds_count", ())] == 2
    assert found[("movierec_http_responses_total", (("method", "GET"), ("status", "200"), ("view", "healthz")))] == 2
    assert ("movierec_training_runs_total", (("status", "succeeded"),)) in found  # the database is read too
