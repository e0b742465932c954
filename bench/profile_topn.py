"""Where the seconds of the retrain's top-N + stars + similar stage go, step by step, on bench_topn's data.

Runs the steps of `stages.write_results` one at a time on `bench_topn.py --out DIR`'s Parquet (the list model's
factors and the rated pairs; the stars scorer is random rows of the stars model's shape, rank 16 + 2 bias columns,
which costs what the real one costs), each timed in wall and CPU seconds of the process tree (driver, JVM, Python
workers), and inside the Python workers: unpickling the broadcast payload, the kernel, and the time spent outside
the block generator (Arrow to the JVM, the JVM's write). Numbers only: nothing here checks results.

    .venv/bin/python bench/profile_topn.py --out var/bench/topn-25m
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_topn import PeakRss  # noqa: E402

from spark_engine import topk  # noqa: E402
from spark_engine.frames import collect_factors  # noqa: E402
from spark_engine.schemas import RATED_RECOMMENDATIONS_SCHEMA, SIMILAR_SCHEMA  # noqa: E402
from spark_engine.session import SparkConfig, get_spark  # noqa: E402


def step(label: str, action):
    before = os.getloadavg()[0]
    with PeakRss() as rss:
        start = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - start
    print(
        f"{label}: {seconds:.2f} s, CPU {rss.cpu:.2f} s, peak RSS {rss.peak / 2**30:.2f} GiB, load {before:.1f}",
        flush=True,
    )
    return result


def timed_worker(tasks, shared, k, block_rows, rows, block, log_dir):
    """`topk._blocks_worker` with process-time counters, appended to a JSON line per task in `log_dir`."""
    counters = {"unpickle": 0.0, "kernel": 0.0, "outside": 0.0, "blocks": 0}
    counters["env"] = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    started = time.process_time()
    payload = shared.value
    counters["unpickle"] = time.process_time() - started
    for task in tasks:
        for number in task.column(0).to_numpy():
            lo = int(number) * block_rows
            t0 = time.process_time()
            batch = block(payload, lo, min(lo + block_rows, rows), k)
            t1 = time.process_time()
            counters["kernel"] += t1 - t0
            counters["blocks"] += 1
            yield batch
            counters["outside"] += time.process_time() - t1
    with open(os.path.join(log_dir, f"{os.getpid()}-{time.time_ns()}.json"), "w") as out:
        json.dump(counters, out)


def worker_summary(log_dir: Path) -> str:
    rows = [json.loads(Path(p).read_text()) for p in glob.glob(str(log_dir / "*.json"))]
    total = {key: sum(r[key] for r in rows) for key in ("unpickle", "kernel", "outside", "blocks")}
    return (
        f"  workers ({len(rows)} tasks, process CPU): unpickle {total['unpickle']:.2f} s,"
        f" kernel {total['kernel']:.2f} s,"
        f" outside the kernel while its batches are taken {total['outside']:.2f} s, {total['blocks']} blocks;"
        f" BLAS env {rows[0]['env'] if rows else None}"
    )


def run_blocks(spark, payload, block, schema, rows, columns, k, block_rows, log_dir: Path, sink, path: Path):
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    blocks = -(-rows // block_rows)
    partitions = max(1, min(blocks, 2 * spark.sparkContext.defaultParallelism))
    shared = spark.sparkContext.broadcast(payload)
    tasks = spark.range(0, blocks, numPartitions=partitions)
    worker = functools.partial(
        timed_worker, shared=shared, k=k, block_rows=block_rows, rows=rows, block=block, log_dir=str(log_dir)
    )
    frame = tasks.mapInArrow(worker, schema)
    shutil.rmtree(path, ignore_errors=True)
    sink(frame, path)
    shared.unpersist(blocking=True)
    print(worker_summary(log_dir), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "topn-25m")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--stars-rank", type=int, default=16)
    parser.add_argument("--skip-similar", action="store_true")
    args = parser.parse_args()

    spark = get_spark(SparkConfig(master="local[*]", driver_memory="4g", app_name="profile-topn"))
    user_factors = spark.read.parquet(str(args.out / "user_factors.parquet")).cache()
    item_factors = spark.read.parquet(str(args.out / "item_factors.parquet")).cache()
    rated = spark.read.parquet(str(args.out / "rated.parquet"))
    user_factors.count(), item_factors.count(), rated.count()

    user_table = step("collect list user factors", lambda: collect_factors(user_factors, "users"))
    item_table = step("collect list item factors", lambda: collect_factors(item_factors, "items"))
    (user_ids, user_matrix), (item_ids, item_matrix) = user_table, item_table
    arrow = step(
        "rated pairs to the driver (Spark toArrow)",
        lambda: rated.select("user_id", "movie_id").toArrow(),
    )
    print(f"  {arrow.num_rows:,} pairs, {arrow.nbytes / 2**20:.0f} MiB")
    del arrow
    rated_start, rated_cols = step(
        "rated index (topk._rated_index: toArrow + codes + sort)",
        lambda: topk._rated_index(rated, user_ids, item_ids),
    )
    rng = np.random.default_rng(0)
    width = args.stars_rank + 2
    scorer = topk.PairScorer(
        user_ids=user_ids,
        user_matrix=rng.normal(0, 0.3, (user_ids.size, width)),
        item_ids=item_ids,
        item_matrix=rng.normal(0, 0.3, (item_ids.size, width)),
        default_user=np.zeros(width),
        default_item=np.zeros(width),
        low=0.5,
        high=5.0,
    )
    payload = step(
        "top-N payload",
        lambda: (
            *topk._top_n_payload(user_ids, user_matrix, item_ids, item_matrix, rated_start, rated_cols, prune=True),
            *scorer.aligned_to(user_ids, item_ids),
            scorer.low,
            scorer.high,
        ),
    )
    import pickle

    size = step("pickle the payload", lambda: len(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)))
    print(f"  {size / 2**20:.0f} MiB pickled")
    block_rows = topk._pruned_block_rows(item_ids.size)
    run = __import__("pyspark.sql.functions", fromlist=["lit"]).lit(1)

    def csv(frame, path):
        frame.select(run, "user_id", "movie_id", "rank", "prediction").write.option("header", False).csv(str(path))

    def noop(frame, path):
        frame.write.format("noop").mode("overwrite").save()

    logs = args.out / "profile-logs"
    for sink_name, sink in (("noop", noop), ("CSV", csv), ("noop", noop), ("CSV", csv)):
        step(
            f"top-N + stars, broadcast + mapInArrow -> {sink_name}",
            lambda sink=sink: run_blocks(
                spark, payload, topk._top_n_block_pruned, RATED_RECOMMENDATIONS_SCHEMA, user_ids.size,
                item_ids.size, args.n, block_rows, logs, sink, args.out / "profile-recs",
            ),
        )  # fmt: skip

    if not args.skip_similar:
        norms = np.linalg.norm(item_matrix, axis=1, keepdims=True)
        unit = (item_matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
        similar_payload = topk._top_n_payload(
            item_ids, unit, item_ids, unit, np.arange(item_ids.size + 1), np.arange(item_ids.size), prune=True
        )

        def similar_csv(frame, path):
            frame.select(run, "movie_id", "similar_id", "rank", "score").write.option("header", False).csv(str(path))

        for sink_name, sink in (("noop", noop), ("CSV", similar_csv)):
            step(
                f"similar, broadcast + mapInArrow -> {sink_name}",
                lambda sink=sink: run_blocks(
                    spark, similar_payload, topk._similar_block_chunked, SIMILAR_SCHEMA, item_ids.size,
                    item_ids.size, args.k, block_rows, logs, sink, args.out / "profile-similar",
                ),
            )  # fmt: skip
    spark.stop()


if __name__ == "__main__":
    main()
