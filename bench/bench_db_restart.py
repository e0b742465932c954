"""Restart PostgreSQL while requests flow: they must fail fast with 503 and recover on their own.

    .venv/bin/python bench/bench_db_restart.py [--clients 8] [--before 10] [--after 20]

Serves the project with gunicorn (DEBUG off, 2 workers x 4 threads, persistent connections) on the
API benchmark's database, runs `--clients` threads that GET /api/v1/me/recommendations/ (rotating
tokens) as fast as they can, and after `--before` seconds restarts this machine's PostgreSQL cluster
(`pg_ctlcluster <version> main restart`: every database on the server goes down briefly, so run it
on a machine of your own). Asserts that during the outage every failed request is a 503 (JSON error
shape, Retry-After) answered within DATABASE_CONNECT_TIMEOUT plus a margin, never a 500 or a hang,
and that within `--recover-within` seconds of the server being back every request succeeds again
(no worker left holding a dead connection). Prints a per-second timeline of status codes.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import (  # noqa: E402
    DEFAULT_DB,
    PATH,
    _free_port,
    _tokens,
    _wait_until_up,
    prepare_database,
    serve_environment,
    start_gunicorn,
)

SLOW_FAILURE_SECONDS = 10.0  # connect_timeout (5 s by default) plus a margin


def _cluster() -> list[str]:
    versions = sorted(p.name for p in Path("/etc/postgresql").iterdir()) if Path("/etc/postgresql").exists() else []
    if not versions:
        sys.exit("No PostgreSQL cluster under /etc/postgresql: this bench restarts the machine's own server.")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def _get(url: str, token: str) -> tuple[int, float, str]:
    started = time.perf_counter()
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status, time.perf_counter() - started, ""
    except urllib.error.HTTPError as exc:
        body = exc.read()
        code = ""
        try:
            code = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            pass
        if exc.code == 503 and exc.headers.get("Retry-After") is None:
            code += " (no Retry-After)"
        return exc.code, time.perf_counter() - started, code
    except Exception as exc:  # connection refused/reset: the web server itself failed
        return -1, time.perf_counter() - started, type(exc).__name__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--before", type=float, default=10.0, help="Seconds of traffic before the restart.")
    parser.add_argument("--after", type=float, default=20.0, help="Seconds of traffic after the server is back.")
    parser.add_argument("--recover-within", type=float, default=10.0)
    args = parser.parse_args()

    import os

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    prepare_database(database_url)
    tokens = _tokens(args.clients * 4)
    from django.db import connection

    connection.close()

    port = _free_port()
    server = start_gunicorn(port, serve_environment(database_url))
    url = f"http://127.0.0.1:{port}{PATH}"
    events: list[tuple[float, int, float, str]] = []
    lock = threading.Lock()
    stop = threading.Event()
    t0 = 0.0

    def client(index: int) -> None:
        i = index
        while not stop.is_set():
            status, seconds, detail = _get(url, tokens[i % len(tokens)])
            with lock:
                events.append((time.perf_counter() - t0, status, seconds, detail))
            i += args.clients

    try:
        _wait_until_up(url, tokens[0])
        t0 = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        time.sleep(args.before)
        down_at = time.perf_counter() - t0
        print(f"{down_at:6.1f}s  restarting PostgreSQL ...", flush=True)
        subprocess.run([*_cluster(), "restart"], check=True, capture_output=True)
        up_at = time.perf_counter() - t0
        print(f"{up_at:6.1f}s  PostgreSQL is back", flush=True)
        time.sleep(args.after)
        stop.set()
        for thread in threads:
            thread.join(timeout=40)
    finally:
        server.terminate()
        server.wait(timeout=30)

    timeline = collections.defaultdict(collections.Counter)
    for at, status, _, _ in events:
        timeline[int(at)][status] += 1
    print("\nsecond  status counts")
    for second in sorted(timeline):
        print(f"{second:6d}  " + "  ".join(f"{s}: {n}" for s, n in sorted(timeline[second].items())))

    failures = [e for e in events if e[1] != 200]
    wrong = [e for e in failures if e[1] != 503 or e[3] != "service_unavailable"]
    slow = [e for e in failures if e[2] > SLOW_FAILURE_SECONDS]
    late = [e for e in failures if e[0] > up_at + args.recover_within]
    last_failure = max((e[0] for e in failures), default=None)
    print(
        f"\n{len(events):,} requests; {len(failures):,} failed during the outage "
        f"({down_at:.1f}s to {up_at:.1f}s, server back after {up_at - down_at:.1f}s); "
        f"slowest failure {max((e[2] for e in failures), default=0):.2f}s; "
        + (f"last failure {last_failure - up_at:+.1f}s after the server was back" if failures else "no failures")
    )
    problems = []
    if wrong:
        problems.append(f"{len(wrong)} failures were not a 503 in the API error shape, e.g. {wrong[:3]}")
    if slow:
        problems.append(f"{len(slow)} failures took over {SLOW_FAILURE_SECONDS:.0f}s")
    if late:
        problems.append(f"{len(late)} failures more than {args.recover_within:.0f}s after the server was back")
    if not any(e[1] == 200 and e[0] > up_at for e in events):
        problems.append("no successful request after the restart")
    if problems:
        print("FAILED:\n- " + "\n- ".join(problems))
        raise SystemExit(1)
    print("OK: failures were fast 503s and the service recovered on its own")


if __name__ == "__main__":
    main()
