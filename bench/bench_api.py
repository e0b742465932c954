"""GET /api/v1/me/recommendations/ under load: gunicorn on loopback, wrk with 64 connections.

    .venv/bin/python bench/bench_api.py [--duration 30] [--connections 64] [--workers 2] [--threads 4]
                                        [--rate 500] [--no-cache] [--users 64]
                                        [--reference /api/v1/me/ --rounds 3]

Target: at least 1,000 requests/s (paced) with a p99 under 50 ms on a 2-core machine.

Side by side (--reference PATH): the same server, in one run, takes the same load on --path and on a
reference path (the trivial authenticated `/api/v1/me/`: token lookup and a four-field answer), in
--rounds alternating rounds (reference first), and prints both, each round's requests/s ratio
path / reference and the server's CPU per request for each: gunicorn's workers and, separately, the
PostgreSQL backends serving them (pg_stat_activity's connections to the bench database, CPU read from
/proc). Machines of this kind differ by up to 3x, so a speed goal is stated as that ratio (goal:
recommendations >= 90% of the reference's requests/s). --baseline DIR serves another copy of the code
(say main's, `git worktree add /tmp/base main`) next to this one on the same database, and alternates
the rounds between the two: a before/after comparison under the same load.

The database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/movierec_bench) is
prepared once and reused: migrations; the bundled ml-latest-small (`manage.py import_movielens`);
an active training run
(`--spark`: `manage.py retrain`; by default item factors from a few NumPy ALS sweeps over the same
ratings, which is quicker and serves exactly like a Spark run); API tokens for `--users` MovieLens
raters (20 to 2,478 ratings each, median ~55). Then gunicorn serves the project with DEBUG off, a
5 s warm-up fills each worker's caches, and wrk sends GETs rotating through the tokens.

What a request costs: token lookup (with the user's taste version), active run and its new movies;
with a `--spark` run, the user's stored top-N read in that same query (the raters' ratings have not
changed since the run, so every request here takes that path: one round trip in all); otherwise
(the NumPy run stores no top-N, as runs did before taste versions were recorded) either the cached
fold-in result (the steady state of people
re-reading their recommendations: the version changes with every rating, so the result is never
stale) or, with --no-cache, the full fold-in every time (the user's ratings and hidden movies,
fold-in over 9,724 movies); then the movies of the top 20 (a per-process cache) and JSON.
--no-cache turns off the per-request cache only: stored rows still serve.

Two ways to load it: closed loop (default; each of the 64 connections sends its next request as
soon as the last one is answered, so this measures the most the service can do, and latency is
mostly queueing: p99 < 50 ms with 64 connections needs > 1,280 req/s by Little's law), and paced
(--rate 500: requests are sent on a fixed schedule, 500 req/s in all, whatever the latency, as
long as the service keeps up; this asks whether it holds that rate with a p99 under 50 ms. Older
figures came from connections that paused a fixed 95% of their share of the interval after each
answer, which offered less than the rate as soon as the mean latency passed 6.4 ms).

The per-user throttle is raised for the run (API_THROTTLE_USER): this measures the endpoint, not
the limiter. Prints requests/s, latency percentiles, non-2xx responses, and the load average
(the machine may be shared).
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "ml-latest-small"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/movierec_bench"
PATH = "/api/v1/me/recommendations/"
TARGET_RPS = 1000
TARGET_P99_MS = 50.0

sys.path.insert(0, str(ROOT))


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def _ensure_database(database_url: str) -> None:
    import psycopg2

    match = re.match(
        r"postgres(?:ql)?://(?P<user>[^@/:]+)?(?::[^@]*)?@(?P<host>[^:/]+)(?::(?P<port>\d+))?/(?P<db>.+)", database_url
    )
    if not match:
        sys.exit(f"Cannot parse BENCH_DATABASE_URL {database_url!r}")
    conn = psycopg2.connect(
        dbname="postgres", user=match["user"] or "postgres", host=match["host"], port=int(match["port"] or 5432)
    )
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [match["db"]])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{match["db"]}"')
            print(f"created database {match['db']}")
    conn.close()


def _manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


# --- Data: ml-latest-small -------------------------------------------------------------------


def _ensure_catalogue(env: dict) -> None:
    from catalog.models import Movie
    from ratings.models import Rating

    if not (Movie.objects.exists() and Rating.objects.exists()):
        _manage("import_movielens", str(DATA), env=env)


# --- A trained model -------------------------------------------------------------------------


def _numpy_als(rank: int, reg: float, iterations: int, seed: int = 42):
    """Explicit ALS with Spark's λ·n regularisation over all ratings; returns (movie ids, item factors)."""
    from ratings.models import Rating

    rows = np.array(list(Rating.objects.values_list("user_id", "movie_id", "value")), dtype=np.float64)
    users, user_index = np.unique(rows[:, 0].astype(np.int64), return_inverse=True)
    movies, movie_index = np.unique(rows[:, 1].astype(np.int64), return_inverse=True)
    values = rows[:, 2]
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 0.1, (users.size, rank))
    y = rng.normal(0, 0.1, (movies.size, rank))
    by_user = np.argsort(user_index, kind="stable")
    by_movie = np.argsort(movie_index, kind="stable")
    user_bounds = np.searchsorted(user_index[by_user], np.arange(users.size + 1))
    movie_bounds = np.searchsorted(movie_index[by_movie], np.arange(movies.size + 1))

    def solve(target, other, order, bounds, other_index):
        for i in range(target.shape[0]):
            sel = order[bounds[i] : bounds[i + 1]]
            v = other[other_index[sel]]
            a = v.T @ v + reg * sel.size * np.eye(rank)
            target[i] = np.linalg.solve(a, v.T @ values[sel])

    for _ in range(iterations):
        solve(x, y, by_user, user_bounds, movie_index)
        solve(y, x, by_movie, movie_bounds, user_index)
    return movies, y


def _ensure_active_run(env: dict, use_spark: bool) -> None:
    from django.utils import timezone

    from recommendations import services
    from recommendations.models import ItemFactor, TrainingRun
    from recommendations.selectors import training_run_active

    if training_run_active() is not None:
        return
    if use_spark:
        _manage("retrain", "--no-evaluate", env=env)
        return
    started = time.perf_counter()
    rank, reg = 10, 0.1
    movie_ids, factors = _numpy_als(rank=rank, reg=reg, iterations=5)
    run = services.training_run_create(
        trigger=TrainingRun.Trigger.COMMAND,
        parameters={"rank": rank, "reg_param": reg, "implicit_prefs": False, "alpha": 1.0, "source": "bench numpy ALS"},
        status=TrainingRun.Status.RUNNING,
    )
    ItemFactor.objects.bulk_create(
        [
            ItemFactor(run=run, movie_id=int(m), factors=[float(f) for f in row])
            for m, row in zip(movie_ids, factors, strict=True)
        ],
        batch_size=2000,
    )
    services.training_run_update(
        run=run,
        status=TrainingRun.Status.SUCCEEDED,
        movies_count=len(movie_ids),
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )
    services.training_run_activate(run=run)
    print(f"run {run.pk}: numpy ALS item factors for {len(movie_ids):,} movies in {time.perf_counter() - started:.1f}s")


def prepare_database(database_url: str, *, spark: bool = False) -> None:
    """Create, migrate and load the bench database (once), set Django up on it in this process, and make
    sure a run is active (`spark`: a real retrain; otherwise NumPy ALS)."""
    env = {**os.environ, "DATABASE_URL": database_url, "DEBUG": "1"}
    _ensure_database(database_url)
    _manage("migrate", "--verbosity", "0", env=env)
    _setup_django(database_url)
    _ensure_catalogue(env)
    _ensure_active_run(env, spark)


def _tokens(count: int) -> list[str]:
    """Tokens of `count` MovieLens raters picked at random (seeded), so requests vary in ratings per user."""
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    raters = list(User.objects.filter(movielens_id__isnull=False).order_by("movielens_id").values_list("pk", flat=True))
    picked = np.random.default_rng(7).choice(raters, size=min(count, len(raters)), replace=False)
    return [Token.objects.get_or_create(user_id=int(pk))[0].key for pk in picked]


# --- Serving and loading ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(url: str, token: str, timeout: float = 60) -> dict:
    import json

    deadline = time.monotonic() + timeout
    while True:
        try:
            request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.loads(response.read())
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


WRK_SCRIPT = """
local tokens = {%(tokens)s}
local i = 0
-- Paced: this wrk thread sends a request every `interval` ms (its share of --rate), on a schedule
-- kept with a monotonic clock (LuaJIT's ffi), so the rate offered does not fall as latency grows.
-- A connection asks for the next free slot when its answer is in; when the server falls behind,
-- slots in the past are dropped (no catch-up burst) and the load becomes a closed loop.
local interval = %(interval_ms)f
if interval > 0 then
  local ffi = require("ffi")
  ffi.cdef[[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local now_ts = ffi.new("bench_timespec")
  local function now_ms()
    ffi.C.clock_gettime(1, now_ts)  -- CLOCK_MONOTONIC
    return tonumber(now_ts.tv_sec) * 1000 + tonumber(now_ts.tv_nsec) / 1e6
  end
  local next_slot = nil
  delay = function()
    local now = now_ms()
    next_slot = next_slot and math.max(next_slot + interval, now) or now
    return next_slot - now
  end
end
request = function()
  i = i + 1
  return wrk.format("GET", "%(path)s", {["Authorization"] = "Token " .. tokens[(i %% #tokens) + 1],
                                        ["Accept"] = "application/json"})
end
"""


def _to_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def serve_environment(database_url: str, *, secret_key: str | None = None) -> dict[str, str]:
    """Environment for gunicorn in the benchmarks: production settings on loopback, throttles raised."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": secret_key or secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "600",
        "API_THROTTLE_USER": "10000000/minute",
        # One BLAS thread per worker: the workers are the parallelism; BLAS threads would fight them.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def start_gunicorn(
    port: int, env: dict, *, workers: int = 2, threads: int = 4, root: Path = ROOT, access_log: bool = False
) -> subprocess.Popen:
    """gunicorn serving the project (the code in `root`) on 127.0.0.1:`port` in a session of its own (stop it
    with os.killpg).

    As `manage.py serve` runs it: ops.gunicorn_conf, and Prometheus' multiprocess mode (each worker
    writes its metrics to files), in a folder of its own unless PROMETHEUS_MULTIPROC_DIR is given.
    """
    command = [sys.executable, "-m", "gunicorn", "movierec_site.wsgi:application", "--bind", f"127.0.0.1:{port}",
               "--config", "python:ops.gunicorn_conf", "--workers", str(workers), "--log-level", "warning"]  # fmt: skip
    if threads > 1:
        command += ["--worker-class", "gthread", "--threads", str(threads)]
    if access_log:  # as `serve` writes it (WEB_ACCESS_LOG), to stdout; here into /dev/null
        command += ["--access-logfile", "-"]
    if not env.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = tempfile.mkdtemp(prefix="movierec-bench-prometheus-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        env = {**env, "PROMETHEUS_MULTIPROC_DIR": folder}
    return subprocess.Popen(
        command, env=env, cwd=root, start_new_session=True, stdout=subprocess.DEVNULL if access_log else None
    )


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by the live children of `pid` (gunicorn's workers) and `pid`.

    On a shared machine requests/s and latency move with whatever else runs; the server's CPU per
    request moves much less, so it is the figure to compare changes by.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid, *map(int, subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split())]
    total = 0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / ticks


def _proc_cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backend_cpu() -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend connected to this database, but this process's own.

    The server's side of a request's queries: on a 2-core machine PostgreSQL shares the cores with
    gunicorn, so a round trip saved counts as much as Python saved. Needs the server on this machine
    (its backends' /proc entries); empty otherwise.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [row[0] for row in cursor.fetchall()]
    return {pid: cpu for pid in pids if (cpu := _proc_cpu_seconds(pid)) is not None}


def database_cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds the backends used between two database_backend_cpu() snapshots (new backends: all of theirs)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def _wrk(url: str, script: Path, connections: int, duration: int, threads: int) -> dict:
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(script),
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = {"raw": out, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    for pct in ("50", "75", "90", "99"):
        result[f"p{pct}"] = _to_ms(re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["non_2xx"] = int(non_2xx.group(1)) if non_2xx else 0
    errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = errors.group(1) if errors else ""
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=30, help="Seconds of load (after a 5 s warm-up).")
    parser.add_argument("--connections", type=int, default=64)
    # Threads overlap each request's six database round trips; measured here 1.5-2x the
    # throughput of three sync workers at the same CPU.
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="Threads per gunicorn worker (>1: gthread workers).")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--users", type=int, default=64, help="Distinct users (tokens) the requests rotate through.")
    parser.add_argument("--path", default=PATH, help="Path and query to GET, e.g. '/api/v1/me/recommendations/?n=50'.")
    parser.add_argument("--spark", action="store_true", help="Train the run with `manage.py retrain` (Spark).")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="Serve with Django's dummy cache: no per-request cache, so every request that is not served from the "
        "stored top-N (a --spark run) folds in (the cost of a cache miss).",
    )
    parser.add_argument(
        "--rate",
        type=int,
        default=0,
        help="Send this many requests/s in all, on a schedule (0: as fast as they go). With 64 "
        "connections in a closed loop a p99 under 50 ms needs over 1,280 requests/s (Little's law); "
        "--rate 1000 asks whether the service holds 1,000 requests/s with a p99 under 50 ms.",
    )
    parser.add_argument(
        "--reference",
        metavar="PATH",
        help="Also load this path (e.g. /api/v1/me/) on the same server, alternating with --path, and print the "
        "requests/s ratio path / reference and both CPU costs per request.",
    )
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="Also serve the code in DIR (e.g. `git worktree add /tmp/base main`) on the same database and alternate "
        "rounds between the two servers: before and after under the same load.",
    )
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="Serve with gunicorn's access log, as `serve` does by default (WEB_ACCESS_LOG), written to /dev/null.",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="With --reference or --baseline: alternating rounds of each path."
    )
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install -y wrk).")
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    prepare_database(database_url, spark=args.spark)
    tokens = _tokens(args.users)
    # Fresh bulk loads leave the planner without statistics; autovacuum would get there, eventually.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")

    paths = [args.reference, args.path] if args.reference else [args.path]
    rounds = args.rounds if args.reference or args.baseline else 1
    serve_env = serve_environment(database_url)
    if args.no_cache:
        serve_env["CACHE_URL"] = "dummycache://"
    # The code measured, and with --baseline the code compared with, each on a server of its own; only the one
    # under load works (the other's workers and database connections sit idle), so CPU figures stay apart.
    trees = {"this": ROOT, **({"baseline": Path(args.baseline).resolve()} if args.baseline else {})}
    ports = {label: _free_port() for label in trees}
    servers = {
        label: start_gunicorn(
            ports[label], serve_env, workers=args.workers, threads=args.threads, root=root, access_log=args.access_log
        )
        for label, root in trees.items()
    }
    runs = [(label, path) for label in trees for path in paths]
    results: dict[tuple[str, str], list[dict]] = {run: [] for run in runs}
    try:
        for label in trees:
            first = _wait_until_up(f"http://127.0.0.1:{ports[label]}{args.path}", tokens[0])
            if not first.get("personal") and args.path.startswith(PATH):
                print("warning: the first response is not personal (no active run or no usable rating?)")
        with tempfile.TemporaryDirectory() as tmp:
            tokens_lua = ", ".join(f'"{t}"' for t in tokens)
            # Paced: each wrk thread offers its share of the rate on a fixed schedule.
            interval_ms = args.wrk_threads * 1000 / args.rate if args.rate else 0
            scripts = {}
            for number, path in enumerate(paths):
                path_lua = path.replace('"', '\\"')
                warm_up = Path(tmp) / f"warm-up-{number}.lua"
                warm_up.write_text(WRK_SCRIPT % {"tokens": tokens_lua, "path": path_lua, "interval_ms": 0})
                script = Path(tmp) / f"load-{number}.lua"
                script.write_text(WRK_SCRIPT % {"tokens": tokens_lua, "path": path_lua, "interval_ms": interval_ms})
                scripts[path] = script
                for label in trees:  # warm-up: every worker loads its caches
                    _wrk(f"http://127.0.0.1:{ports[label]}{path}", warm_up, args.connections, 5, args.wrk_threads)
            for _ in range(rounds):
                for label, path in runs:
                    server = servers[label]
                    load_before = os.getloadavg()
                    cpu_before = process_tree_cpu_seconds(server.pid)
                    database_before = database_backend_cpu()
                    result = _wrk(f"http://127.0.0.1:{ports[label]}{path}", scripts[path], args.connections,
                                  args.duration, args.wrk_threads)  # fmt: skip
                    requests = max(result["requests"], 1)
                    result["cpu_ms"] = (process_tree_cpu_seconds(server.pid) - cpu_before) / requests * 1000
                    result["db_cpu_ms"] = database_cpu_used(database_before, database_backend_cpu()) / requests * 1000
                    result["load"] = (load_before[0], os.getloadavg()[0])
                    results[label, path].append(result)
    finally:
        for server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers.values():
            server.wait(timeout=30)

    print(
        f"\ngunicorn {args.workers} worker(s) x {args.threads} thread(s), wrk {args.connections} connections x "
        f"{args.duration}s, {len(tokens)} users, {os.cpu_count()} CPUs, "
        + (f"paced to ~{args.rate} req/s" if args.rate else "closed loop (as fast as possible)")
        + (", no per-request cache" if args.no_cache else "")
        + (f", {rounds} alternating rounds" if rounds > 1 else "")
        + (f"; baseline: the code in {trees['baseline']}" if args.baseline else "")
    )
    for label, path in runs:
        print(f"\nGET {path}" + (f"  [{label}]" if args.baseline else ""))
        for result in results[label, path]:
            print(
                f"  requests/s {result['rps']:8.1f} ({result['requests']:,}, non-2xx {result['non_2xx']})  "
                f"latency ms p50 {result['p50']:.1f} p90 {result['p90']:.1f} p99 {result['p99']:.1f}  "
                f"CPU ms/request gunicorn {result['cpu_ms']:.2f} + PostgreSQL {result['db_cpu_ms']:.2f}  "
                f"load {result['load'][0]:.2f} / {result['load'][1]:.2f}"
                + (f"  socket errors: {result['socket_errors']}" if result["socket_errors"] else "")
            )
    print()
    for label in trees:
        tag = f" [{label}]" if args.baseline else ""
        if args.reference:
            ratios = [
                mine["rps"] / reference["rps"]
                for mine, reference in zip(results[label, args.path], results[label, args.reference], strict=True)
            ]
            print(
                f"requests/s {args.path} / {args.reference}{tag}: "
                + ", ".join(f"{ratio:.0%}" for ratio in ratios)
                + f" (median {float(np.median(ratios)):.0%}; goal >= 90%)"
            )
        for path in paths:
            cpu = [r["cpu_ms"] for r in results[label, path]]
            database = [r["db_cpu_ms"] for r in results[label, path]]
            rps = [r["rps"] for r in results[label, path]]
            p99 = [r["p99"] for r in results[label, path]]
            print(
                f"median {path}{tag}: {float(np.median(rps)):.1f} req/s, p99 {float(np.median(p99)):.1f} ms, "
                f"CPU ms/request gunicorn {float(np.median(cpu)):.2f} + PostgreSQL {float(np.median(database)):.2f}"
            )
    if args.baseline:
        for path in paths:
            change = [
                mine["rps"] / base["rps"]
                for mine, base in zip(results["this", path], results["baseline", path], strict=True)
            ]
            print(
                f"requests/s {path}, this / baseline: "
                + ", ".join(f"{ratio:.2f}x" for ratio in change)
                + f" (median {float(np.median(change)):.2f}x)"
            )
    result = results["this", args.path][-1]
    ok = result["rps"] >= TARGET_RPS and result["p99"] < TARGET_P99_MS and result["non_2xx"] == 0
    print(
        f"target for {args.path} (>= {TARGET_RPS} req/s, p99 < {TARGET_P99_MS:.0f} ms, no errors; last round): "
        f"{'met' if ok else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
