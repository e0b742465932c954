"""Prometheus metrics measured by recommendations in the web processes; ops.metrics serves them at /metrics."""

from __future__ import annotations

from prometheus_client import Histogram

FOLDIN_LATENCY = Histogram(
    "movierec_foldin_duration_seconds",
    "Time to fold a user's current ratings into the active run and rescore every movie.",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


def observe_foldin(seconds: float) -> None:
    """Record one fold-in's duration (seconds, wall clock)."""
    FOLDIN_LATENCY.observe(seconds)
