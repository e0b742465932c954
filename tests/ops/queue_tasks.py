"""Task functions the two-cluster tests queue (qcluster workers import them: the project root is on PYTHONPATH)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def where_am_i(pause: float) -> dict:
    """Which cluster ran this: its sentinel is the worker's parent."""
    time.sleep(pause)
    return {"sentinel": os.getppid(), "worker": os.getpid()}


def wait_for_gate(log: str, gate: str) -> int:
    """Note this start (the worker's pid, one line per start), then wait until `gate` exists; return the pid."""
    with open(log, "a") as out:
        out.write(f"{os.getpid()}\n")
    deadline = time.monotonic() + 120
    while not Path(gate).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{gate} never appeared")
        time.sleep(0.05)
    return os.getpid()
