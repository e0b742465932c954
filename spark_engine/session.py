"""The one place that creates SparkSessions.

Nothing here runs at import time: callers build a `SparkConfig` (the pipeline fills it from Django
settings) and call `get_spark`.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession

# Python workers unpickle the functions that `mapInPandas` ships by importing `spark_engine.…`, so they
# need the project root on their path even when the driver was started from another directory.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUICK_JIT_OPTIONS = "-XX:TieredStopAtLevel=1"


@dataclass(frozen=True)
class SparkConfig:
    master: str = "local[*]"
    app_name: str = "movierec"
    driver_memory: str = "4g"
    executor_memory: str = "4g"
    shuffle_partitions: int = 8
    local_dir: str | None = None
    checkpoint_dir: str | None = None
    # Stop the JVM's JIT at its quick first tier (C1). On small data a run is over before the optimising
    # tier pays off: on ml-latest-small the first ALS fit took 3.4 s instead of 11.5 s. Leave it off for
    # millions of ratings, where the optimised code wins.
    quick_jit: bool = False
    extra: tuple[tuple[str, str], ...] = ()


def get_spark(config: SparkConfig | None = None) -> SparkSession:
    """Return the process's SparkSession, creating it from `config` if none is running.

    Memory settings only take effect when this call starts the JVM; on an existing session Spark keeps
    them and applies only the runtime SQL settings. Sets a checkpoint directory when one is configured
    (ALS's `checkpointInterval` is ignored without one). Raises whatever Spark raises when the JVM cannot
    start (for example no Java).
    """
    config = config or SparkConfig()
    if config.master.startswith("local"):
        # Avoids the "hostname resolves to a loopback address" warning and any DNS lookup.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Without this, workers run whatever `python3` is on PATH, which may lack numpy/pandas/pyarrow.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    settings: dict[str, str] = {
        "spark.driver.memory": config.driver_memory,
        "spark.executor.memory": config.executor_memory,
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.executorEnv.PYTHONPATH": str(PROJECT_ROOT),
    }
    if config.local_dir:
        settings["spark.local.dir"] = config.local_dir
    if config.quick_jit:
        settings["spark.driver.extraJavaOptions"] = QUICK_JIT_OPTIONS
        settings["spark.executor.extraJavaOptions"] = QUICK_JIT_OPTIONS
    settings.update(dict(config.extra))

    builder = SparkSession.builder.master(config.master).appName(config.app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if config.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(config.checkpoint_dir)
    return spark


def stop_spark() -> None:
    """Stop the active SparkSession, if any (the JVM stays up; a later `get_spark` makes a new session)."""
    spark = SparkSession.getActiveSession()
    if spark is not None:
        spark.stop()
