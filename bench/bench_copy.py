"""PostgreSQL COPY throughput for ratings-shaped rows: the figures the README's sizing plan rests on.

    .venv/bin/python bench/bench_copy.py                    # 10M ratings, plain table and 16 hash partitions
    .venv/bin/python bench/bench_copy.py --rows 25000000 --partitions 64

Rows are (user_id bigint, movie_id int, value numeric(2,1), rated_at timestamptz), as in ratings_rating,
encoded in PostgreSQL's binary COPY format with the importer's own encoder (movielens.loader). For each
layout it times: COPY FROM STDIN into an empty unindexed table, building the (user_id, movie_id) index
afterwards, COPY TO STDOUT of the whole table (binary, as the retrain's export reads it; discarded), and one
user's ratings by primary key (median of 200). Partitioned: PARTITION BY HASH (user_id), as the sizing plan
proposes. Works in a scratch database `movierec_bench_copy` on DATABASE_URL's server (created if missing; its
tables are dropped at the end). Print the load average beside every figure: CPU on this machine is shared.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
SCRATCH = "movierec_bench_copy"


def connect(url: str, dbname: str):
    import environ
    import psycopg2

    config = environ.Env.db_url_config(url)
    params = {k: v for k, v in {"host": config["HOST"], "port": config["PORT"], "user": config["USER"]}.items() if v}
    params |= {k: v for k, v in (config.get("OPTIONS") or {}).items() if k in ("host", "port")}
    if config.get("PASSWORD"):
        params["password"] = config["PASSWORD"]
    connection = psycopg2.connect(dbname=dbname, **params)
    connection.autocommit = True
    return connection


def ratings_batches(rows: int, users: int, movies: int, seed: int, batch: int = 1_000_000):
    """Binary COPY chunks of random ratings (header first, trailer last)."""
    from movielens.formats import RatingBatch
    from movielens.loader import _BINARY_HEADER, _BINARY_TRAILER, encode_final_ratings

    rng = np.random.default_rng(seed)
    yield _BINARY_HEADER
    for start in range(0, rows, batch):
        n = min(batch, rows - start)
        ratings = RatingBatch(
            line=np.arange(start, start + n, dtype=np.int64),
            user_id=np.zeros(n, dtype=np.int64),
            movie_id=rng.integers(1, movies + 1, size=n, dtype=np.int32),
            half_stars=rng.integers(1, 11, size=n, dtype=np.int8),
            timestamp=rng.integers(1_000_000_000, 1_700_000_000, size=n, dtype=np.int64),
        )
        yield encode_final_ratings(ratings, rng.integers(1, users + 1, size=n, dtype=np.int64))
    yield _BINARY_TRAILER


class Discard(io.RawIOBase):
    def __init__(self) -> None:
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.bytes += len(data)
        return len(data)


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def timed(label: str, action) -> float:
    before = load()
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.1f} s ({before} → {load()})", flush=True)
    return seconds


def run_layout(connection, name: str, partitions: int, args) -> dict:
    from movielens.loader import copy_from_chunks

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
        columns = (
            "user_id bigint NOT NULL, movie_id integer NOT NULL, value numeric(2,1) NOT NULL, rated_at timestamptz"
        )

        if partitions:
            cursor.execute(f"CREATE TABLE {name} ({columns}) PARTITION BY HASH (user_id)")
            for index in range(partitions):
                cursor.execute(
                    f"CREATE TABLE {name}_p{index} PARTITION OF {name} "
                    f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {index})"
                )
        else:
            cursor.execute(f"CREATE TABLE {name} ({columns})")
        label = f"{partitions} hash partitions" if partitions else "one table"
        print(f"{name} ({label}), {args.rows:,} rows:", flush=True)
        chunks = ratings_batches(args.rows, args.users, args.movies, args.seed)
        sql = f"COPY {name} FROM STDIN (FORMAT binary)"
        copy_in = timed("COPY FROM (binary)", lambda: copy_from_chunks(cursor, sql, chunks))
        # Random pairs repeat now and then, so an index rather than the primary key; the same build work.
        index = timed(
            "index (user_id, movie_id) afterwards",
            lambda: cursor.execute(f"CREATE INDEX {name}_user_movie ON {name} (user_id, movie_id)"),
        )
        cursor.execute(f"ANALYZE {name}")
        sink = Discard()
        copy_out = timed(
            "COPY TO (binary)",
            lambda: cursor.copy_expert(f"COPY (SELECT * FROM {name}) TO STDOUT (FORMAT binary)", sink, size=1 << 20),
        )
        cursor.execute(
            "SELECT sum(pg_total_relation_size(c)) FROM (SELECT %s::regclass AS c UNION ALL "
            "SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = %s::regclass) AS t",
            [name, name],
        )
        size = int(cursor.fetchone()[0])
        rng = np.random.default_rng(1)
        lookups = []
        for user in rng.integers(1, args.users + 1, size=200):
            started = time.perf_counter()
            cursor.execute(f"SELECT movie_id, value FROM {name} WHERE user_id = %s", [int(user)])
            cursor.fetchall()
            lookups.append((time.perf_counter() - started) * 1000)
        one_user = statistics.median(lookups)
        print(f"  one user's ratings: {one_user:.2f} ms median; table + index {size / 2**30:.2f} GiB", flush=True)
        if not args.keep:
            cursor.execute(f"DROP TABLE {name} CASCADE")
    return {
        "copy_in_rows_per_s": args.rows / copy_in,
        "index_s": index,
        "copy_out_rows_per_s": args.rows / copy_out,
        "one_user_ms": one_user,
        "gib": size / 2**30,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--users", type=int, default=162_541)
    parser.add_argument("--movies", type=int, default=59_047)
    parser.add_argument("--partitions", type=int, default=16, help="hash partitions of the second layout (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the tables (to look at them)")
    args = parser.parse_args()

    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()

    server = os.environ.get("DATABASE_URL") or DEFAULT_SERVER
    admin = connect(server, "postgres")
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [SCRATCH])
        if not cursor.fetchone():
            cursor.execute(f"CREATE DATABASE {SCRATCH}")
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    admin.close()
    print(f"PostgreSQL {version}, {os.cpu_count()} cores, {load()}")
    connection = connect(server, SCRATCH)
    results = {"one table": run_layout(connection, "bench_ratings", 0, args)}
    if args.partitions:
        results[f"{args.partitions} partitions"] = run_layout(connection, "bench_ratings_hashed", args.partitions, args)
    connection.close()
    print("\nlayout | COPY in rows/s | index s | COPY out rows/s | one user ms | GiB")
    for layout, r in results.items():
        print(
            f"{layout} | {r['copy_in_rows_per_s'] / 1e6:.2f}M | {r['index_s']:.1f} | "
            f"{r['copy_out_rows_per_s'] / 1e6:.2f}M | {r['one_user_ms']:.2f} | {r['gib']:.2f}"
        )


if __name__ == "__main__":
    main()
