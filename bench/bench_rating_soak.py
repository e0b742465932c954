"""Ratings are never lost: concurrent API rating writes during a retrain, then the database is checked.

    .venv/bin/python bench/bench_rating_soak.py [--duration 60] [--clients 8] [--movies 40] [retrain options…]

Prepares the database as bench_api.py does (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/movierec_bench_load, shared with bench_load_during_retrain.py:
ml-latest-small and an active run), serves it with gunicorn (DEBUG=0, 2 workers x 4 threads) and gives
each of --clients threads its own user (soak-1 … soak-N) and API token.

Each client, for at least --duration seconds and until `manage.py retrain` (started 2 s in, on the same
database; --no-evaluate unless --evaluate is given) has published, picks one of --movies popular movies and
at random creates or updates it (POST /api/v1/me/ratings/), sets it (PUT /api/v1/me/ratings/<id>/) or
removes it (DELETE /api/v1/me/ratings/<id>/). It keeps the state it was told: a 2xx means the write
happened; a 404 on DELETE means there was nothing to delete.

Asserts (exit status 1 when one fails): every response is one the API documents for the request (no 5xx,
no 429, no transport error or timeout, whose outcome a client could not know); 201 vs 200 and 204 vs 404
agree with what the client expects; the retrain succeeded; and at the end the soak users' Rating rows in
the database are exactly the clients' expected (movie, value) pairs. Prints operation counts, write rate
and the load average.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import (  # noqa: E402
    ROOT,
    _free_port,
    _wait_until_up,
    prepare_database,
    serve_environment,
    start_gunicorn,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/movierec_bench_load"
VALUES = [x / 2 for x in range(1, 11)]


class Client(threading.Thread):
    def __init__(self, base: str, token: str, user_id: int, movies: list[int], expected: dict, stop, seed: int):
        super().__init__(daemon=True)
        self.base, self.token, self.user_id, self.movies = base, token, user_id, movies
        self.expected: dict[int, float] = dict(expected)
        self.stop, self.rng = stop, random.Random(seed)
        self.counts: collections.Counter = collections.Counter()
        self.problems: list[str] = []

    def _call(self, method: str, path: str, body: dict | None = None) -> int | None:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={
                "Authorization": f"Token {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            exc.read()
            return exc.code
        except Exception as exc:  # the outcome is unknown to the client
            self.problems.append(f"{method} {path}: {exc!r}")
            return None

    def run(self) -> None:
        while not self.stop.is_set():
            movie = self.rng.choice(self.movies)
            value = self.rng.choice(VALUES)
            had = movie in self.expected
            op = self.rng.choices(["post", "put", "delete"], weights=[4, 3, 3])[0]
            if op == "post":
                status = self._call("POST", "/api/v1/me/ratings/", {"movie": movie, "value": value})
                ok, want = status in (200, 201), 200 if had else 201
            elif op == "put":
                status = self._call("PUT", f"/api/v1/me/ratings/{movie}/", {"value": value})
                ok, want = status in (200, 201), 200 if had else 201
            else:
                status = self._call("DELETE", f"/api/v1/me/ratings/{movie}/")
                ok, want = status == 204, 204 if had else 404
            self.counts[f"{op} {status}"] += 1
            if status is None:
                continue
            if status != want:
                self.problems.append(f"{op} movie {movie}: got {status}, expected {want} (had rating: {had})")
            if ok and op == "delete":
                self.expected.pop(movie, None)
            elif ok:
                self.expected[movie] = value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="Seconds of writes (at least; until published).")
    parser.add_argument("--max-duration", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--movies", type=int, default=40, help="Movies each client rates (the most rated ones).")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args, retrain_args = parser.parse_known_args()
    if "--evaluate" in retrain_args:
        retrain_args.remove("--evaluate")
    elif "--no-evaluate" not in retrain_args:
        retrain_args.append("--no-evaluate")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB)
    db_name = database_url.rsplit("/", 1)[1]
    prepare_database(database_url)

    from django.db import connection
    from django.db.models import Count
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from ratings.models import Rating
    from recommendations.models import TrainingRun
    from recommendations.selectors import training_run_active

    movies = list(
        Rating.objects.values("movie_id")
        .annotate(n=Count("id"))
        .order_by("-n", "movie_id")
        .values_list("movie_id", flat=True)[: args.movies]
    )
    users = [
        User.objects.get_or_create(username=f"soak-{i}", defaults={"password": "!"})[0] for i in range(args.clients)
    ]
    tokens = [Token.objects.get_or_create(user=user)[0].key for user in users]

    def db_state() -> dict[int, dict[int, float]]:
        state: dict[int, dict[int, float]] = {user.pk: {} for user in users}
        for user_id, movie_id, value in Rating.objects.filter(user__in=users).values_list(
            "user_id", "movie_id", "value"
        ):
            state[user_id][movie_id] = float(value)
        return state

    start_state = db_state()
    old_run = training_run_active().pk
    connection.close()

    serve_env = serve_environment(database_url)
    retrain_env = {
        **serve_env,
        "LOG_LEVEL": "INFO",
        "TRAINING_RUNS_DIR": os.environ.get("TRAINING_RUNS_DIR", str(ROOT / "var" / "bench-runs" / db_name)),
    }
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        retrain_env.pop(name)  # the retrain's numpy may use every core
    port = _free_port()
    server = start_gunicorn(port, serve_env, workers=args.workers, threads=args.threads)
    retrain_proc = None
    failures: list[str] = []
    published_at = None
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base + "/api/v1/me/recommendations/", tokens[0])
        stop = threading.Event()
        clients = [
            Client(base, token, user.pk, movies, start_state[user.pk], stop, seed=i)
            for i, (user, token) in enumerate(zip(users, tokens, strict=True))
        ]
        loads = [os.getloadavg()]
        started = time.monotonic()
        for client in clients:
            client.start()
        time.sleep(2)
        print(f"{args.clients} clients writing; `manage.py retrain {' '.join(retrain_args)}` ...", flush=True)
        retrain_proc = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "retrain", *retrain_args],
            env=retrain_env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        retrain_lines: list[str] = []

        def read():
            nonlocal published_at
            for line in retrain_proc.stdout:
                retrain_lines.append(line.rstrip())
                if line.startswith("[") or "published" in line:
                    print(f"  retrain {time.monotonic() - started:6.1f}s  {line.rstrip()}", flush=True)
                if "published" in line:
                    published_at = time.monotonic()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while True:
            time.sleep(0.5)
            loads.append(os.getloadavg())
            elapsed = time.monotonic() - started
            if elapsed >= args.max_duration:
                failures.append("the retrain had not finished by --max-duration")
                break
            if elapsed >= args.duration and retrain_proc.poll() is not None:
                break
        stop.set()
        for client in clients:
            client.join(timeout=60)
        elapsed = time.monotonic() - started
        if retrain_proc.poll() is None:
            retrain_proc.wait(timeout=600)
        reader.join(timeout=5)
    finally:
        if retrain_proc is not None and retrain_proc.poll() is None:
            os.killpg(retrain_proc.pid, signal.SIGTERM)
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    new_run = TrainingRun.objects.filter(is_active=True).values_list("pk", flat=True).first()
    if retrain_proc.returncode != 0 or new_run == old_run:
        failures.append(f"the retrain did not publish (exit {retrain_proc.returncode}, active run {new_run})")
        print("\n".join(retrain_lines[-30:]))
    if published_at is None or published_at > started + elapsed:
        failures.append("the retrain did not publish while the clients were writing")

    totals: collections.Counter = collections.Counter()
    for client in clients:
        totals.update(client.counts)
        for problem in client.problems[:5]:
            failures.append(f"soak-{clients.index(client)}: {problem}")
        if len(client.problems) > 5:
            failures.append(f"soak-{clients.index(client)}: … {len(client.problems) - 5} more")
    bad = {k: v for k, v in totals.items() if k.split()[1] not in ("200", "201", "204", "404")}
    if bad:
        failures.append(f"unexpected statuses: {bad}")

    final = db_state()
    mismatches = 0
    for client in clients:
        stored = final[client.user_id]
        if stored != client.expected:
            diff = {
                m: (client.expected.get(m), stored.get(m))
                for m in set(stored) | set(client.expected)
                if client.expected.get(m) != stored.get(m)
            }
            mismatches += len(diff)
            failures.append(f"user {client.user_id}: {len(diff)} (movie: (expected, stored)) differ: {diff}")

    writes = sum(totals.values())
    print(
        f"\n{args.clients} clients x {elapsed:.0f}s on {os.cpu_count()} CPUs, gunicorn {args.workers}x{args.threads}; "
        f"runs {old_run} -> {new_run}"
    )
    print(
        f"requests {writes:,} ({writes / elapsed:.0f}/s): " + ", ".join(f"{k}: {v}" for k, v in sorted(totals.items()))
    )
    print(
        f"ratings of the soak users: {sum(map(len, start_state.values()))} at the start, "
        f"{sum(map(len, final.values()))} at the end; expected by the clients "
        f"{sum(len(c.expected) for c in clients)}; mismatches {mismatches}"
    )
    print(f"load average 1-min mean {sum(x[0] for x in loads) / len(loads):.2f}, peak {max(x[0] for x in loads):.2f}")
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nOK: the database holds exactly what the clients were told succeeded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
