"""Prometheus metrics (prometheus-client), served at /metrics by ops.views.metrics.

Two kinds:

- Measured in the web processes: request latency and responses by view (ops.middleware.
  RequestMetricsMiddleware) and fold-in latency (recommendations.metrics, where it is measured;
  every metric a process defines is in its default registry, which a scrape forwards).
- Read at scrape time: retrain outcomes and stage durations from the TrainingRun rows, and the
  django-q2 queue, by collectors that query the database and the broker when Prometheus asks.
  The Spark process pushes nothing, and a retrain on another machine is still seen.

Several gunicorn workers: each worker has its own counters, so a scrape would see only the one
that answered. With PROMETHEUS_MULTIPROC_DIR set in the environment *before the workers start*
(an empty, writable folder, emptied at every start; see ops/gunicorn_conf.py), prometheus-client
keeps every worker's values in files there and a scrape adds them up (its multiprocess mode).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector

from accounts.backends import client_ip_address
from recommendations.models import TrainingRun
from recommendations.retrain import RETRAIN_STAGES

logger = logging.getLogger(__name__)

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNRESOLVED_VIEW = "<unresolved>"  # answered before or without URL resolution (404, redirects, lockouts)

REQUEST_LATENCY = Histogram(
    "movierec_http_request_duration_seconds",
    "Time from the first middleware receiving a request to the response, by view and method.",
    ["view", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RESPONSES = Counter(
    "movierec_http_responses",
    "Responses by view, method and status code.",
    ["view", "method", "status"],
)


# (view, method, status) -> (latency child, responses child): prometheus-client's labels() checks and locks on every
# call (~4 µs per request, most of this function); the children are the same objects every time. Bounded by the
# views, methods and statuses there are.
_request_children: dict[tuple[str, str, int], tuple] = {}


def observe_request(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method if method in HTTP_METHODS else "other"  # no label per made-up method
    children = _request_children.get((view, method, status))
    if children is None:
        children = _request_children[view, method, status] = (
            REQUEST_LATENCY.labels(view=view, method=method),
            RESPONSES.labels(view=view, method=method, status=str(status)),
        )
    children[0].observe(seconds)
    children[1].inc()


# --- Read at scrape time ---


class TrainingRunCollector(Collector):
    """Retrain outcomes and stage durations, from the TrainingRun table (five small queries)."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        Status = TrainingRun.Status
        finished = (Status.SUCCEEDED, Status.FAILED, Status.SKIPPED)
        counts = dict(TrainingRun.objects.values_list("status").annotate(n=Count("id")).order_by())

        total = CounterMetricFamily(
            "movierec_training_runs",
            "Training runs that ended, by outcome (skipped: another retrain was running).",
            labels=["status"],
        )
        for status in finished:
            total.add_metric([status], counts.get(status, 0))
        yield total
        queued = counts.get(Status.QUEUED, 0)
        yield _gauge("movierec_training_runs_queued", "Training runs waiting for a worker.", queued)

        running = TrainingRun.objects.filter(status=Status.RUNNING, started_at__isnull=False).order_by("-started_at")
        running = running.only("started_at").first()
        yield _gauge("movierec_training_run_in_progress", "1 while a retrain runs.", 1 if running else 0)
        if running:
            yield _gauge(
                "movierec_training_run_in_progress_seconds",
                "How long the running retrain has been running.",
                (now - running.started_at).total_seconds(),
            )

        stage_seconds = GaugeMetricFamily(
            "movierec_training_run_stage_seconds",
            "Stage durations of the latest run that succeeded and of the latest that failed "
            "(a failed run has the stages it finished).",
            labels=["status", "stage"],
        )
        duration = GaugeMetricFamily(
            "movierec_training_run_duration_seconds",
            "Start-to-end time of the latest run that succeeded, and of the latest that failed.",
            labels=["status"],
        )
        last_finished = GaugeMetricFamily(
            "movierec_training_run_last_finished_timestamp_seconds",
            "When the latest run that succeeded, and the latest that failed, ended (Unix time).",
            labels=["status"],
        )
        for status in (Status.SUCCEEDED, Status.FAILED):
            run = TrainingRun.objects.filter(status=status, finished_at__isnull=False).order_by("-finished_at").first()
            if run is None:
                continue
            for stage in RETRAIN_STAGES:
                seconds = getattr(run, stage.field)
                if seconds is not None:
                    stage_seconds.add_metric([status, stage.name], seconds)
            if run.duration_seconds is not None:
                duration.add_metric([status], run.duration_seconds)
            last_finished.add_metric([status], run.finished_at.timestamp())
        yield stage_seconds
        yield duration
        yield last_finished

        active = TrainingRun.objects.filter(is_active=True).only("id", "finished_at", "created_at").first()
        yield _gauge("movierec_training_run_active", "1 while a run serves recommendations.", int(bool(active)))
        if active:
            yield _gauge("movierec_training_run_active_id", "Id of the serving training run.", active.pk)
            yield _gauge(
                "movierec_training_run_active_age_seconds",
                "Seconds since the serving run finished training.",
                (now - (active.finished_at or active.created_at)).total_seconds(),
            )


class TaskQueueCollector(Collector):
    """django-q2: tasks waiting in the broker, tasks handed to a worker, live clusters."""

    def collect(self) -> Iterator[Metric]:
        from django_q.brokers import get_broker
        from django_q.status import Stat

        broker = get_broker()
        yield _gauge("movierec_task_queue_length", "django-q2 tasks waiting for a worker.", broker.queue_size() or 0)
        in_progress = broker.lock_size()
        if in_progress is not None:  # the ORM broker knows; Redis does not
            yield _gauge("movierec_task_queue_in_progress", "django-q2 tasks taken by a worker.", in_progress)
        yield _gauge(
            "movierec_task_clusters",
            "django-q2 clusters (qcluster processes) that reported in the last few seconds.",
            len(Stat.get_all(broker=broker)),
        )


class _Guarded(Collector):
    """Runs a collector that reads the database or the broker; if that fails (database down) the
    scrape still answers, with `movierec_metrics_collector_up{collector=...} 0` and a log line."""

    def __init__(self, collectors: dict[str, Collector]):
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "movierec_metrics_collector_up", "1 if the collector could read its source.", labels=["collector"]
        )
        for name, collector in self.collectors.items():
            try:
                metrics = list(collector.collect())
            except Exception:
                logger.exception("metrics collector %s failed", name)
                up.add_metric([name], 0)
            else:
                up.add_metric([name], 1)
                yield from metrics
        yield up


class _Forward(Collector):
    """Exposes another registry's metrics (the process's default one) in the scrape registry."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def scrape_registry() -> CollectorRegistry:
    """A registry for one scrape: this process's metrics (or every worker's, in multiprocess mode)
    plus the collectors that read the database and the broker now."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(_Guarded({"training_runs": TrainingRunCollector(), "task_queue": TaskQueueCollector()}))
    return registry


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


# --- Who may scrape ---


def metrics_access_allowed(request: HttpRequest) -> bool:
    """True for a request with `Authorization: Bearer <METRICS_TOKEN>` (when a token is set), or from
    an address in METRICS_ALLOWED_IPS (addresses or networks).

    Behind a TLS proxy every request arrives from the proxy's address, often loopback, so the
    client address is the hop the proxy appended to X-Forwarded-For (as for log-in limits).
    """
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(client_ip_address(request) or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:  # ::ffff:127.0.0.1 from a dual-stack socket
        address = address.ipv4_mapped
    return any(address in network for network in allowed_networks())


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.METRICS_ALLOWED_IPS]
