"""Benchmark top_n_unrated and similar_items at the ML-25M shape (no Django).

Factors either random (162,541 users x 59,047 movies, rank 10 by default, with a Zipf-like rated set of about 25M
(user, movie) pairs) or, with `--ratings-csv`, the list model's own (`fitting.fit_list_model` with the settings'
defaults: implicit ALS rank 32) fitted on a MovieLens ratings.csv, whose pairs are then the rated set. Random
Gaussian factors have nearly equal norms, so the norm-bound pruning (`top_n_unrated(prune=True)`) skips almost
nothing on them; fitted factors are what a retrain ranks with. Inputs are written to Parquet under `--out` (reused
with `--reuse-data`); then each transform runs to a full Parquet write, reporting wall time, CPU seconds of the whole
process tree (driver, JVM, Python workers) and its peak resident memory, sampled every 0.2 s, with the load average.
`--kernels pruned,full` runs both top-N kernels alternately `--repeat` times and checks they wrote the same rows;
a few users are checked against a numpy brute force.

    .venv/bin/python bench/bench_topn.py                      # random factors, full shape
    .venv/bin/python bench/bench_topn.py --users 20000 --ratings 3000000 --compare-als
    .venv/bin/python bench/bench_topn.py --ratings-csv var/bench-data/synthetic-25m/ratings.csv \
        --out var/bench/topn-25m --kernels pruned,full --repeat 2   # fitted factors at ML-25M's shape
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spark_engine.session import SparkConfig, get_spark  # noqa: E402
from spark_engine.stages import read_pairs  # noqa: E402
from spark_engine.topk import similar_items, top_n_unrated  # noqa: E402


class PeakRss:
    """Samples the summed RSS of this process and all its descendants in a background thread, and their CPU
    seconds (user + system, with reaped children's): `cpu` is the growth over the block, per process from its first
    sample (a process that starts inside the block counts from zero; one that ends counts to its last sample)."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, starting: bool = False) -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
                times = proc.cpu_times()
                cpu = times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                continue
            self._first.setdefault(proc.pid, cpu if starting else 0.0)
            self._last[proc.pid] = cpu
        return total

    @property
    def cpu(self) -> float:
        return sum(self._last[pid] - first for pid, first in self._first.items())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._sample(starting=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def write_factors(path: Path, ids: np.ndarray, matrix: np.ndarray) -> None:
    features = pa.FixedSizeListArray.from_arrays(pa.array(matrix.ravel(), pa.float32()), matrix.shape[1])
    table = pa.table({"id": pa.array(ids, pa.int32()), "features": features.cast(pa.list_(pa.float32()))})
    pq.write_table(table, path)


def make_data(out: Path, users: int, items: int, rank: int, ratings: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    user_ids = np.arange(1, users + 1, dtype=np.int64)
    item_ids = np.sort(rng.choice(np.arange(1, items * 3), size=items, replace=False))  # gappy ids like MovieLens
    user_f = rng.normal(0, 0.35, (users, rank)).astype(np.float32)
    item_f = rng.normal(0, 0.35, (items, rank)).astype(np.float32)
    item_f[rng.integers(0, items, 20)] = 0.0  # a few zero vectors, as with implicit ALS

    # Ratings per user: log-normal with a floor of 20 (MovieLens keeps users with >= 20 ratings); movie
    # popularity Zipf-like (exponent 1) in random id order. Duplicate draws are dropped and topped up with
    # fresh draws until `ratings` distinct pairs exist.
    weights = np.clip(rng.lognormal(4.3, 1.1, users), 20, items // 2)
    popularity = 1.0 / np.arange(1, items + 1)
    popularity = rng.permutation(popularity / popularity.sum())
    codes, new_per_draw = np.empty(0, np.int64), 1.0
    while codes.size < ratings:
        draws = 1.1 * (ratings - codes.size) / new_per_draw
        per_user = np.maximum(1, weights * draws / weights.sum()).astype(np.int64)
        user_col = np.repeat(np.arange(users, dtype=np.int64), per_user)
        item_col = rng.choice(items, size=user_col.size, p=popularity)
        before = codes.size
        codes = np.sort(np.concatenate([codes, user_col * items + item_col]))
        codes = codes[np.concatenate([[True], codes[1:] != codes[:-1]])]  # np.unique is very slow in numpy 2.4
        new_per_draw = max(0.05, (codes.size - before) / user_col.size)
    codes = np.sort(rng.choice(codes, size=ratings, replace=False))
    rated_users, rated_items = np.divmod(codes, items)
    rated_users = user_ids[rated_users]

    write_factors(out / "user_factors.parquet", user_ids, user_f)
    write_factors(out / "item_factors.parquet", item_ids, item_f)
    pq.write_table(
        pa.table(
            {"user_id": pa.array(rated_users, pa.int32()), "movie_id": pa.array(item_ids[rated_items], pa.int32())}
        ),
        out / "rated.parquet",
        row_group_size=1 << 20,
    )
    counts = np.bincount(rated_users)
    return {"pairs": int(codes.size), "max_per_user": int(counts.max()), "min_per_user": int(counts[1:].min())}


def brute_force_top_n(out: Path, user_ids: list[int], n: int) -> dict[int, list[int]]:
    users = pq.read_table(out / "user_factors.parquet").to_pandas().set_index("id")
    items = pq.read_table(out / "item_factors.parquet").to_pandas()
    rated = pq.read_table(out / "rated.parquet", filters=[("user_id", "in", user_ids)]).to_pandas()
    item_ids = items["id"].to_numpy()
    matrix = np.stack(items["features"].to_numpy()).astype(np.float32)
    result = {}
    for user in user_ids:
        scores = matrix @ np.asarray(users.loc[user, "features"], np.float32)
        scores[np.isin(item_ids, rated.loc[rated.user_id == user, "movie_id"])] = -np.inf
        order = np.lexsort((item_ids, -scores))[:n]
        result[user] = item_ids[order].tolist()
    return result


def timed(label: str, action) -> float:
    before = os.getloadavg()[0]
    with PeakRss() as rss:
        start = time.perf_counter()
        action()
        seconds = time.perf_counter() - start
    print(
        f"{label}: {seconds:.1f} s, CPU of process tree {rss.cpu:.1f} s, peak RSS {rss.peak / 2**30:.2f} GiB, "
        f"load {before:.1f} -> {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return seconds


def fit_factors(spark, ratings_csv: Path, out: Path) -> dict:
    """The list model's factors fitted on a MovieLens ratings.csv (the settings' defaults), and its pairs as the
    rated set, written like `make_data`'s."""
    from spark_engine.fitting import ListParams, fit_list_model

    ratings = spark.read.csv(str(ratings_csv), header=True, inferSchema=False).selectExpr(
        "cast(userId as int) as user_id", "cast(movieId as int) as movie_id", "cast(rating as float) as rating"
    )
    params = ListParams()
    start = time.perf_counter()
    users, items = fit_list_model(ratings, params)
    users.write.mode("overwrite").parquet(str(out / "user_factors.parquet"))
    items.write.mode("overwrite").parquet(str(out / "item_factors.parquet"))
    ratings.select("user_id", "movie_id").write.mode("overwrite").parquet(str(out / "rated.parquet"))
    return {"rank": params.als.rank, "iterations": params.als.max_iter, "seconds": round(time.perf_counter() - start)}


def driver_kernels(user_factors, item_factors, rated, n: int, k: int, sample: int = 2000, rounds: int = 2) -> None:
    """Both top-N kernels, and both similar-movie kernels, on the driver (one process, no Spark) for a sample of
    users with their rated movies masked, alternating `rounds` times: CPU seconds of each (process time, so other
    jobs' load matters less than for wall time) and the share of the user x movie product the pruned one computes."""
    from spark_engine import topk
    from spark_engine.frames import collect_factors

    user_ids, user_matrix = collect_factors(user_factors, "users")
    item_ids, item_matrix = collect_factors(item_factors, "items")
    rows = np.sort(np.random.default_rng(0).choice(user_ids.size, min(sample, user_ids.size), replace=False))
    users = user_ids[rows]
    pairs = rated.where(rated.user_id.isin(users.tolist())).toArrow()
    start_idx, cols = topk._rated_index_of_arrays(
        pairs.column("user_id").to_numpy().astype(np.int64), pairs.column("movie_id").to_numpy().astype(np.int64),
        users, item_ids,
    )  # fmt: skip
    norms = np.linalg.norm(item_matrix, axis=1, keepdims=True)
    unit = (item_matrix / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    movies = np.arange(min(sample, item_ids.size))
    user_rows = user_matrix[rows]
    kernels = {
        "top-N pruned": (topk._top_n_block_pruned, topk._pruned_block_rows(item_ids.size), rows.size,
                         topk._top_n_payload(users, user_rows, item_ids, item_matrix, start_idx, cols, prune=True), n),
        "top-N full": (topk._top_n_block, topk._block_rows(item_ids.size), rows.size,
                       topk._top_n_payload(users, user_rows, item_ids, item_matrix, start_idx, cols, prune=False), n),
        "similar chunked": (topk._similar_block_chunked, topk._pruned_block_rows(item_ids.size), movies.size,
                            topk._top_n_payload(item_ids, unit, item_ids, unit, np.arange(item_ids.size + 1),
                                                np.arange(item_ids.size), prune=True), k),
        "similar whole rows": (topk._similar_block, topk._block_rows(item_ids.size), movies.size,
                               (item_ids, unit, np.ascontiguousarray(unit.T)), k),
    }  # fmt: skip
    seconds: dict[str, list[float]] = {name: [] for name in kernels}
    scored = [0]
    for _ in range(rounds):
        for name, (block, block_rows, count, payload, top) in kernels.items():
            extra = {"scored": scored} if name == "top-N pruned" else {}
            started = time.process_time()
            for lo in range(0, count, block_rows):
                block(payload, lo, min(lo + block_rows, count), top, **extra)
            seconds[name].append(time.process_time() - started)
    share = scored[0] / rounds / (rows.size * item_ids.size)
    print(
        f"driver, {rows.size} sampled users (rated movies masked) / {movies.size} movies, CPU s per round, load "
        f"{os.getloadavg()[0]:.1f}: "
        + ", ".join(f"{name} {' '.join(f'{s:.2f}' for s in v)}" for name, v in seconds.items())
        + f"; the pruned top-N computed {share:.1%} of the user x movie scores",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=162_541)
    parser.add_argument("--items", type=int, default=59_047)
    parser.add_argument("--rank", type=int, default=10)
    parser.add_argument("--ratings", type=int, default=25_000_000, help="target (user, movie) pairs before dedup")
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--master", default="local[*]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "topn")
    parser.add_argument("--reuse-data", action="store_true", help="skip generation if the files exist")
    parser.add_argument("--skip-similar", action="store_true")
    parser.add_argument("--ratings-csv", type=Path, help="fit the list model on this MovieLens ratings.csv")
    parser.add_argument("--kernels", default="pruned", help="top-N kernels to time, comma-separated: pruned, full")
    parser.add_argument("--repeat", type=int, default=1, help="times to run each kernel, alternating")
    parser.add_argument(
        "--rated-arrow",
        action="store_true",
        help="read the rated pairs with pyarrow on the driver (as the retrain does: stages.read_pairs), not Spark",
    )
    parser.add_argument(
        "--expected", type=Path, help="a top-N result of an earlier run (another commit's) to count differing rows"
    )
    parser.add_argument("--expected-similar", type=Path, help="likewise for the similar movies")
    parser.add_argument(
        "--compare-als", action="store_true", help="also fit ALS on the rated set and time recommendForAllUsers(n)"
    )
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    fresh = not (args.reuse_data and (args.out / "rated.parquet").exists())
    if fresh and args.ratings_csv is None:
        start = time.perf_counter()
        info = make_data(args.out, args.users, args.items, args.rank, args.ratings, seed=0)
        print(f"generated {info} in {time.perf_counter() - start:.1f} s", flush=True)

    start = time.perf_counter()
    checkpoints = str(args.out / "checkpoints")
    spark = get_spark(
        SparkConfig(
            master=args.master, driver_memory=args.driver_memory, app_name="bench-topn", checkpoint_dir=checkpoints
        )
    )
    print(f"session: {time.perf_counter() - start:.1f} s, parallelism {spark.sparkContext.defaultParallelism}")
    if fresh and args.ratings_csv is not None:
        print(f"fitted the list model on {args.ratings_csv}: {fit_factors(spark, args.ratings_csv, args.out)}")
    user_factors = spark.read.parquet(str(args.out / "user_factors.parquet"))
    item_factors = spark.read.parquet(str(args.out / "item_factors.parquet"))
    rated = spark.read.parquet(str(args.out / "rated.parquet"))
    shape = (user_factors.count(), item_factors.count(), len(item_factors.first().features))
    print(f"users, movies, rank: {shape}; rated pairs: {rated.count():,}", flush=True)
    driver_kernels(user_factors, item_factors, rated, args.n, args.k)

    kernels = args.kernels.split(",")
    similar_path = args.out / "result_similar"
    shutil.rmtree(similar_path, ignore_errors=True)
    for _ in range(args.repeat):
        for kernel in kernels:
            top_path = args.out / f"result_topn_{kernel}"
            shutil.rmtree(top_path, ignore_errors=True)
            timed(
                f"top_n_unrated(n={args.n}, {kernel}{', rated pairs by pyarrow' if args.rated_arrow else ''})",
                lambda path=top_path, kernel=kernel: top_n_unrated(
                    user_factors,
                    item_factors,
                    read_pairs([args.out / "rated.parquet"]) if args.rated_arrow else rated,
                    args.n,
                    prune=kernel == "pruned",
                ).write.parquet(str(path)),
            )
    tops = {kernel: spark.read.parquet(str(args.out / f"result_topn_{kernel}")) for kernel in kernels}
    top = tops[kernels[0]]
    print(f"  rows written: {top.count():,}")
    if len(kernels) > 1:
        left, right = (tops[k].select("user_id", "rank", "movie_id") for k in kernels[:2])
        print(f"  (user, rank, movie) rows of {kernels[0]} not in {kernels[1]}: {left.exceptAll(right).count():,}")
    if args.expected is not None:
        left = top.select("user_id", "rank", "movie_id")
        right = spark.read.parquet(str(args.expected)).select("user_id", "rank", "movie_id")
        print(
            f"  (user, rank, movie) rows not in {args.expected}: {left.exceptAll(right).count():,}, "
            f"the other way: {right.exceptAll(left).count():,}"
        )
    users = [row.id for row in user_factors.select("id").orderBy("id").collect()]
    sample = sorted({users[0], users[1], users[len(users) // 2], users[-1]})
    expected = brute_force_top_n(args.out, sample, args.n)
    got = {user: [r.movie_id for r in top.where(f"user_id = {user}").orderBy("rank").collect()] for user in sample}
    print(f"  matches numpy brute force for users {sample}: {got == expected}")

    if not args.skip_similar:
        timed(
            f"similar_items(k={args.k})",
            lambda: similar_items(item_factors, args.k).write.parquet(str(similar_path)),
        )
        similar = spark.read.parquet(str(similar_path))
        print(f"  rows written: {similar.count():,}")
        if args.expected_similar is not None:
            left = similar.select("movie_id", "rank", "similar_id")
            right = spark.read.parquet(str(args.expected_similar)).select("movie_id", "rank", "similar_id")
            print(
                f"  (movie, rank, similar) rows not in {args.expected_similar}: {left.exceptAll(right).count():,}, "
                f"the other way: {right.exceptAll(left).count():,}"
            )

    if args.compare_als:
        from pyspark.ml.recommendation import ALS

        ratings = rated.selectExpr("user_id", "movie_id", "cast(4.0 as float) as rating")
        model = ALS(rank=args.rank, maxIter=2, userCol="user_id", itemCol="movie_id", ratingCol="rating", seed=0).fit(
            ratings
        )
        model.userFactors.cache().count()
        model.itemFactors.cache().count()
        timed(
            f"ALSModel.recommendForAllUsers({args.n}) (does not exclude rated movies)",
            lambda: model.recommendForAllUsers(args.n).write.mode("overwrite").parquet(str(args.out / "result_rfau")),
        )
        timed(
            f"top_n_unrated(n={args.n}) on the same model",
            lambda: (
                top_n_unrated(model.userFactors, model.itemFactors, rated, args.n)
                .write.mode("overwrite")
                .parquet(str(args.out / "result_topn_als"))
            ),
        )
    spark.stop()


if __name__ == "__main__":
    main()
