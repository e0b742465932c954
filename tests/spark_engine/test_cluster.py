"""The retrain against a real standalone Spark cluster (master + worker on loopback), started
from the pyspark package's own launcher, publishes the same result as local mode."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyspark
import pytest

from recommendations.models import Recommendation, TrainingRun
from spark_engine.pipeline import retrain
from tests.spark_engine.test_pipeline import _options, _seed_ratings

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def standalone_cluster(tmp_path):
    port, ui_port, worker_ui_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(tmp_path),
        "PYSPARK_PYTHON": sys.executable,
    }
    logs = [open(tmp_path / name, "w") for name in ("master.log", "worker.log")]
    master = subprocess.Popen(
        [
            str(SPARK_CLASS),
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui_port),
        ],
        env=env,
        stdout=logs[0],
        stderr=subprocess.STDOUT,
    )
    _wait_for_port(port)
    url = f"spark://127.0.0.1:{port}"
    worker = subprocess.Popen(
        [
            str(SPARK_CLASS),
            "org.apache.spark.deploy.worker.Worker",
            url,
            "--host",
            "127.0.0.1",
            "--cores",
            "2",
            "--memory",
            "2g",
            "--webui-port",
            str(worker_ui_port),
            "--work-dir",
            str(tmp_path / "work"),
        ],
        env=env,
        stdout=logs[1],
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while "Successfully registered with master" not in (tmp_path / "worker.log").read_text():
            assert worker.poll() is None and time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.5)
        yield url
    finally:
        for proc in (worker, master):
            proc.terminate()
        for proc in (worker, master):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def test_retrain_on_a_standalone_cluster_matches_local_mode(spark, standalone_cluster, manage_env):
    _seed_ratings()
    local_run = retrain(options=_options(evaluate=False))
    assert local_run.status == TrainingRun.Status.SUCCEEDED, local_run.error

    env = {
        **manage_env,
        "SPARK_MASTER": standalone_cluster,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_EXECUTOR_MEMORY": "1g",
        # Score on the executors: local mode above scored this small data on the driver, so the
        # comparison also checks that both paths publish the same rows.
        "TOPN_DRIVER_MAX_CELLS": "0",
    }
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "manage.py"),
            "retrain",
            "--rank",
            "3",
            "--max-iter",
            "5",
            "--list-rank",
            "4",
            "--list-max-iter",
            "5",
            "--top-n",
            "6",
            "--similar-k",
            "3",
            "--no-evaluate",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    cluster_run = TrainingRun.objects.get(is_active=True)
    assert cluster_run.pk != local_run.pk
    assert cluster_run.spark_master == standalone_cluster

    def published(run):
        return {(r.user_id, r.rank): (r.movie_id, r.score) for r in Recommendation.objects.filter(run=run)}

    local, cluster = published(local_run), published(cluster_run)
    assert local.keys() == cluster.keys()
    for key, (movie, score) in local.items():
        assert cluster[key][0] == movie, key
        assert cluster[key][1] == pytest.approx(score, abs=1e-4)
