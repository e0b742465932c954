"""Server CPU per API request, measured in process: the WSGI application called directly, no network, no wrk.

    .venv/bin/python bench/bench_api_cpu.py [--paths /api/v1/me/ /api/v1/me/recommendations/]
                                            [--batches 40] [--users 64] [--baseline DIR] [--rounds 2]

On a shared 2-core machine requests/s under load say more about the neighbours than about the code
(bench_api.py at load 20-30 swung 0.25x-2.45x between identical rounds). The CPU time of the thread
that handles a request moves much less. This calls the project's WSGI application (production
settings, DEBUG off, throttles raised) with GETs rotating through the API tokens of --users raters,
in batches of one request per user that alternate between the paths, and reports each path's CPU
per request (the thread's user + system time; the 20th percentile and the median of the batches,
the low percentile being the least disturbed by other processes) and the ratio of the paths.
Database round trips are included on this side (psycopg2's work), PostgreSQL's own CPU is not.

--baseline DIR measures another copy of the code (e.g. `git worktree add /tmp/base main`) the same
way, in --rounds alternating runs of a child process per copy, for before/after figures.

The database is bench_api.py's (BENCH_DATABASE_URL, prepared the same way).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _measure(tree: Path, database_url: str, paths: list[str], batches: int, users: int) -> dict:
    """In this process: the code in `tree`, CPU ms per request of each path by batch."""
    sys.path.insert(0, str(tree))
    os.chdir(tree)
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="movierec_site.settings",
        DEBUG="0",
        SECRET_KEY="bench-" + "x" * 60,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="0",
        API_THROTTLE_USER="10000000/minute",
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
        OPENBLAS_NUM_THREADS="1",
    )
    import warnings

    warnings.simplefilter("ignore")  # whitenoise: no collected static files here
    from django.core.wsgi import get_wsgi_application

    app = get_wsgi_application()
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    raters = User.objects.filter(movielens_id__isnull=False).order_by("movielens_id")
    keys = [Token.objects.get_or_create(user_id=pk)[0].key for pk in raters.values_list("pk", flat=True)[:users]]

    def call(path: str, key: str) -> None:
        environ = {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Token {key}",
            "HTTP_ACCEPT": "application/json", "wsgi.input": io.BytesIO(), "wsgi.url_scheme": "http",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.errors": sys.stderr,
        }  # fmt: skip
        status = []
        body = app(environ, lambda s, headers, exc_info=None: status.append(s))
        b"".join(body)
        body.close()
        if not status[0].startswith("200"):
            raise SystemExit(f"GET {path}: {status[0]}")

    for path in paths:  # warm-up: every cache of the process filled
        for key in keys:
            call(path, key)
    per_batch: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(batches):
        for path in paths:
            started = time.thread_time()
            for key in keys:
                call(path, key)
            per_batch[path].append((time.thread_time() - started) / len(keys) * 1000)
    return per_batch


def _p20(values: list[float]) -> float:
    return sorted(values)[len(values) // 5]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", nargs="+", default=["/api/v1/me/", "/api/v1/me/recommendations/"])
    parser.add_argument("--batches", type=int, default=40, help="Batches per path (one request per user each).")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--baseline", metavar="DIR", help="Also measure the code in DIR, in alternating runs.")
    parser.add_argument("--rounds", type=int, default=2, help="With --baseline: alternating runs of each copy.")
    parser.add_argument("--child", metavar="TREE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/movierec_bench")

    if args.child:
        print(json.dumps(_measure(Path(args.child), database_url, args.paths, args.batches, args.users)))
        return

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_api import prepare_database

    prepare_database(database_url)
    # As bench_api.py: a freshly loaded database has no planner statistics (autovacuum may be off or not there yet),
    # and then the recommendations' token query scans the whole catalogue for new movies (1.3 ms instead of 0.14).
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    trees = {"this": ROOT, **({"baseline": Path(args.baseline).resolve()} if args.baseline else {})}
    results: dict[str, dict[str, list[float]]] = {label: {path: [] for path in args.paths} for label in trees}
    loads = []
    for _ in range(args.rounds if args.baseline else 1):
        for label, tree in trees.items():
            command = [sys.executable, __file__, "--child", str(tree), "--batches", str(args.batches),
                       "--users", str(args.users), "--paths", *args.paths]  # fmt: skip
            loads.append(os.getloadavg()[0])
            out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=tree).stdout
            for path, values in json.loads(out.strip().splitlines()[-1]).items():
                results[label][path].extend(values)
    print(
        f"\nCPU ms per request in process, {args.users} users, {os.cpu_count()} CPUs, "
        f"load {min(loads):.1f}-{max(loads):.1f}"
    )
    for label in trees:
        for path in args.paths:
            values = results[label][path]
            print(f"  {path:32s} [{label}]  p20 {_p20(values):.3f}  median {statistics.median(values):.3f}")
        if len(args.paths) > 1:
            first, last = args.paths[0], args.paths[-1]
            ratio = _p20(results[label][first]) / _p20(results[label][last])
            print(
                f"  CPU {first} / {last} [{label}]: {ratio:.0%} (p20s; the share of {first}'s requests/s {last} gets)"
            )
    if args.baseline:
        for path in args.paths:
            change = _p20(results["this"][path]) / _p20(results["baseline"][path])
            print(f"  {path}: this / baseline CPU {change:.2f}x (p20s)")


if __name__ == "__main__":
    main()
