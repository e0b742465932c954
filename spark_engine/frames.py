"""Small helpers shared by the pure transforms (no Django, no files)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from pyspark import InheritableThread
from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def require_columns(df: DataFrame, name: str, columns: Iterable[str]) -> None:
    """Raise ValueError naming `name` and the missing columns unless `df` has every one of `columns`."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; has {df.columns}")


def collect_factors(factors: DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A factor table (id, features array<float>) on the driver: (ids sorted ascending as int64, float32 matrix
    with one row per id); rows with null features are left out. Runs one Spark job (Arrow). Raises ValueError on
    feature vectors of different lengths or duplicate ids."""
    table = factors.where(F.col("features").isNotNull()).select("id", "features").toArrow()
    if table.num_rows == 0:
        return np.empty(0, np.int64), np.empty((0, 0), np.float32)
    ids = table.column("id").to_numpy().astype(np.int64)
    features = table.column("features").combine_chunks()
    lengths = features.value_lengths().to_numpy()
    if lengths.min() != lengths.max():
        raise ValueError(f"{name} has feature vectors of lengths {lengths.min()} to {lengths.max()}")
    values = features.flatten().to_numpy(zero_copy_only=False).astype(np.float32)
    matrix = values.reshape(ids.size, int(lengths[0]))
    order = np.argsort(ids, kind="stable")
    ids, matrix = ids[order], matrix[order]
    if np.any(ids[1:] == ids[:-1]):
        raise ValueError(f"{name} has duplicate ids")
    return ids, matrix


class ThreadResult:
    """What `in_thread` hands back: `result()` waits for the thread and returns its value or raises its error."""

    def __init__(self, thread, outcome: dict) -> None:
        self._thread, self._outcome = thread, outcome

    def join(self) -> None:
        self._thread.join()

    def result(self):
        self._thread.join()
        if "error" in self._outcome:
            raise self._outcome["error"]
        return self._outcome["value"]


def in_thread(function: Callable, *args) -> ThreadResult:
    """Run `function(*args)` in a new thread that submits its Spark jobs with this thread's local properties (PySpark's
    InheritableThread: in pinned-thread mode each Python thread has a JVM thread of its own). Spark's scheduler runs
    the jobs of several threads side by side, which on small data fills the cores one thread's short jobs leave
    idle."""
    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # handed to the caller by result()
            outcome["error"] = error

    thread = InheritableThread(target=target, name=f"spark-{getattr(function, '__name__', 'job')}", daemon=True)
    thread.start()
    return ThreadResult(thread, outcome)
