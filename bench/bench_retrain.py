"""End-to-end retrain benchmark: `manage.py retrain` from command start to published run.

    .venv/bin/python bench/bench_retrain.py small            # ml-latest-small (target: < 30 s)
    .venv/bin/python bench/bench_retrain.py synthetic-25m    # 25M ratings, 162K users, 59K movies
                                                             # (target: < 10 min, < 12 GB peak)

Each dataset lives in its own database on DATABASE_URL's server (default 127.0.0.1:5432), created
and loaded on first use and reused afterwards. Peak memory is the largest summed RSS of the
command's whole process tree (Python driver, JVM, Python workers), sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
SERVER = os.environ.get("BENCH_DATABASE_SERVER", "postgres://postgres@127.0.0.1:5432")


def manage(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT, check=check, capture_output=True, text=True
    )


def ensure_database(name: str) -> None:
    subprocess.run(["psql", f"{SERVER}/postgres", "-qc", f"CREATE DATABASE {name}"], capture_output=True)


def movie_count(env: dict) -> int:
    out = manage("shell", "-c", "from catalog.models import Movie; print(Movie.objects.count())", env=env)
    return int(out.stdout.strip().splitlines()[-1])


def timed_retrain(env: dict, extra: list[str]) -> tuple[float, int, str]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "retrain", *extra],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                procs = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    for line in proc.stdout:
        if line.startswith("[") or "published" in line or "failed" in line:
            print(f"  {time.perf_counter() - start:7.1f}s  {line.rstrip()}", flush=True)
        lines.append(line)
    proc.wait()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        print("".join(lines[-40:]))
        raise SystemExit(f"retrain failed with exit code {proc.returncode}")
    return elapsed, peak, "".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["small", "synthetic-25m"])
    parser.add_argument("--repeat", type=int, default=1)
    args, retrain_args = parser.parse_known_args()  # anything else goes to manage.py retrain

    name = {"small": "movierec_bench_small", "synthetic-25m": "movierec_bench_25m"}[args.dataset]
    ensure_database(name)
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{name}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 60,
        "SECURE_SSL_REDIRECT": "0",
        # Run folders are named by run id: keep each benchmark database's apart from the site's.
        "TRAINING_RUNS_DIR": os.environ.get("TRAINING_RUNS_DIR", str(ROOT / "var" / "bench-runs" / name)),
    }
    if args.dataset == "synthetic-25m":
        env.setdefault("SPARK_DRIVER_MEMORY", "10g")
    manage("migrate", "-v0", env=env)
    if movie_count(env) == 0:
        print(f"loading {args.dataset} into {name} ...", flush=True)
        start = time.perf_counter()
        if args.dataset == "small":
            manage("import_movielens", str(ROOT / "data" / "ml-latest-small"), "--no-progress", env=env)
        else:
            manage("generate_movielens_synthetic", "--into-db", env=env)
        print(f"  loaded in {time.perf_counter() - start:.1f}s", flush=True)

    for attempt in range(args.repeat):
        print(f"retrain {args.dataset} (run {attempt + 1}/{args.repeat})", flush=True)
        elapsed, peak, _ = timed_retrain(env, retrain_args)
        print(
            f"==> {args.dataset}: {elapsed:.1f}s end to end, peak memory {peak / 2**30:.2f} GiB "
            f"(load average now {os.getloadavg()[0]:.1f})",
            flush=True,
        )


if __name__ == "__main__":
    main()
