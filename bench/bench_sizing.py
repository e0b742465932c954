"""The README's sizing plan, measured where one machine can: a retrain on data shaped like the real ML-32M.

    .venv/bin/python bench/bench_sizing.py                  # 32,000,204 ratings, 200,948 users, 87,585 movies
    .venv/bin/python bench/bench_sizing.py --rank 16        # anything else goes to manage.py retrain

The synthetic generator (Zipf-like popularity and activity, as for the 25M benchmark) loads the shape of
GroupLens' ML-32M into its own database `movierec_bench_32m` on DATABASE_URL's server (127.0.0.1:5432 unless
BENCH_DATABASE_SERVER is set) once; then `manage.py retrain` is timed from command start to published run,
with the peak memory of its whole process tree, exactly as bench_retrain.py times the 25M retrain. It also
prints the ratings table's size on disk. Needs ~10 GB of free memory and ~10 GB of disk.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_retrain import ROOT, SERVER, ensure_database, manage, movie_count, timed, wait_for_memory  # noqa: E402

ML_32M = {"ratings": 32_000_204, "users": 200_948, "movies": 87_585}
NAME = "movierec_bench_32m"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--driver-memory", default="10g", help="SPARK_DRIVER_MEMORY for the retrain (default 10g)")
    parser.add_argument("--min-available-gib", type=float, default=10.0, help="wait for this much free memory")
    args, retrain_args = parser.parse_known_args()

    ensure_database(NAME)
    env = {
        **os.environ,
        "DATABASE_URL": f"{SERVER}/{NAME}",
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 60,
        "SECURE_SSL_REDIRECT": "0",
        "TRAINING_RUNS_DIR": os.environ.get("TRAINING_RUNS_DIR", str(ROOT / "var" / "bench-runs" / NAME)),
        "SPARK_DRIVER_MEMORY": args.driver_memory,
    }
    manage("migrate", "-v0", env=env)
    if movie_count(env) == 0:
        print(f"loading the ML-32M shape into {NAME} ...", flush=True)
        start = time.perf_counter()
        shape = [f"--{key}={value}" for key, value in ML_32M.items()]
        manage("generate_movielens_synthetic", "--into-db", "--no-progress", *shape, env=env)
        print(f"  loaded in {time.perf_counter() - start:.1f}s (load {os.getloadavg()[0]:.1f})", flush=True)
    sizes = manage(
        "shell",
        "-c",
        "from django.db import connection\n"
        "c = connection.cursor()\n"
        "c.execute(\"SELECT count(*), pg_relation_size('ratings_rating'), pg_indexes_size('ratings_rating') "
        'FROM ratings_rating")\n'
        "print(*c.fetchone())",
        env=env,
    )
    count, heap, indexes = map(int, sizes.stdout.split()[-3:])
    print(f"ratings_rating: {count:,} rows, {heap / 2**30:.2f} GiB of rows + {indexes / 2**30:.2f} GiB of indexes")

    wait_for_memory(args.min_available_gib)
    print(f"retrain (load {os.getloadavg()[0]:.1f})", flush=True)
    timing = timed([sys.executable, str(ROOT / "manage.py"), "retrain", *retrain_args], env)
    print(
        f"==> ML-32M shape: {timing.seconds:.1f}s end to end, peak memory {timing.peak / 2**30:.2f} GiB "
        f"(load average now {os.getloadavg()[0]:.1f})",
        flush=True,
    )


if __name__ == "__main__":
    main()
