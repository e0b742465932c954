"""Stars-model levers toward test RMSE <= 0.845, each chosen on validation and reported on test.

    .venv/bin/python bench/bench_rmse_levers.py                     # every set
    .venv/bin/python bench/bench_rmse_levers.py --sets full time --ranks 16 24 32

Data sets as bench/bench_autoreg.py derives them from ml-latest-small's ratings.csv (full, sample30, heavy100,
whole_stars, all on the random 60/20/20 split, seed 0), plus `time`: every rating on the time-aware split (each
user's latest 20% in test, `metrics.split_three_by_time`).

Per set, as a retrain would choose (fitted on train, judged on validation), then refitted on train+validation and
judged once on test:
  base      rank 16, 10 iterations, regParam searched from 0.15 (`reg_search.search_reg_param`), list blend w, c
  rank R    the same with rank R (regParam searched again from the rank-16 choice)
  iter 20   rank 16, the chosen regParam, 20 iterations
  biases    base with weights on b_u and b_i fitted next to w, c (prediction mu + a b_u + b b_i + u.v + w list + c)
Validation RMSEs are of the blended model (what a retrain would publish); the rule that keeps a lever is
`reg_search.better_beyond_noise` on the validation pairs against base.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

SETS = ("full", "time", "sample30", "heavy100", "whole_stars")


def load(spark, data: Path):
    from pyspark.sql import functions as F

    frame = spark.read.option("header", True).csv(str(data / "ratings.csv"))
    return frame.select(
        F.col("userId").cast("int").alias("user_id"),
        F.col("movieId").cast("int").alias("movie_id"),
        F.col("rating").cast("float").alias("rating"),
        F.col("timestamp").cast("long").alias("ts"),
    ).cache()


def parts(ratings, name: str):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_autoreg import derive

    from spark_engine import metrics

    if name == "time":
        return [p.drop("ts") for p in metrics.split_three_by_time(ratings)]
    return metrics.split_three(derive(ratings.drop("ts"), name), 0)


class Terms:
    """Per pair: rating, mu, b_u, b_i, u.v, list score (0 where a side is missing), on the driver."""

    def __init__(self, pairs, stars, list_users, list_items):
        from pyspark.sql import functions as F

        from spark_engine.blend import list_scores
        from spark_engine.frames import collect_factors
        from spark_engine.reg_search import _lookup, _rows

        table = pairs.select("user_id", "movie_id", F.col("rating").cast("double")).toArrow()
        self.users = table.column(0).to_numpy().astype(np.int64)
        self.movies = table.column(1).to_numpy().astype(np.int64)
        self.ratings = table.column(2).to_numpy()
        self.mu = stars.global_mean
        biases = []
        for frame, ids in ((stars.user_bias, self.users), (stars.item_bias, self.movies)):
            t = frame.toArrow()
            biases.append(
                _lookup(
                    t.column(0).to_numpy().astype(np.int64), t.column(1).to_numpy().astype(np.float64), ids, missing=0.0
                )
            )
        self.bu, self.bi = biases
        uid, um = collect_factors(stars.als.userFactors, "u")
        iid, im = collect_factors(stars.als.itemFactors, "i")
        ur, uf = _rows(uid, self.users)
        ir, if_ = _rows(iid, self.movies)
        both = uf & if_
        self.uv = np.zeros(self.ratings.size)
        self.uv[both] = np.einsum("ij,ij->i", um[ur[both]].astype(np.float64), im[ir[both]].astype(np.float64))
        self.ls = list_scores(list_users, list_items, self.users, self.movies)

    def predict(self, w=0.0, c=0.0, a=1.0, b=1.0):
        return np.clip(self.mu + a * self.bu + b * self.bi + self.uv + w * self.ls + c, 0.5, 5.0)

    def sq(self, **weights):
        return (self.predict(**weights) - self.ratings) ** 2


def rmse(sq) -> float:
    return math.sqrt(float(np.mean(sq)))


def fit_blend(terms: Terms, biases: bool) -> dict:
    residual = terms.ratings - (terms.mu + terms.bu + terms.bi + terms.uv)
    columns = [terms.ls, np.ones_like(terms.ls)]
    if biases:
        columns += [terms.bu, terms.bi]
    coef, *_ = np.linalg.lstsq(np.column_stack(columns), residual, rcond=None)
    out = {"w": float(coef[0]), "c": float(coef[1])}
    if biases:
        out["a"], out["b"] = 1.0 + float(coef[2]), 1.0 + float(coef[3])
    return out


def run_set(spark, ratings, name: str, config, ranks, iterations) -> None:
    from spark_engine import fitting, reg_search

    train, validation, test = (p.cache() for p in parts(ratings, name))
    full = train.unionByName(validation).cache()
    counts = (train.count(), validation.count(), test.count())
    lists_train = fitting.fit_list_model(train, config.lists)
    lists_full = fitting.fit_list_model(full, config.lists)

    def fit(cfg, data):
        return fitting.fit_biased_als(
            data, cfg.ratings, reg_user=cfg.reg_user, reg_item=cfg.reg_item, biases_on_driver=True
        )

    results = {}

    def judge(label, cfg, model_train, biases=False, seconds=0.0):
        v = Terms(validation, model_train, *lists_train)
        blend = fit_blend(v, biases)
        started = time.perf_counter()
        final = fit(cfg, full)
        refit_s = time.perf_counter() - started
        t = Terms(test, final, *lists_full)
        results[label] = {
            "v_sq": v.sq(**blend),
            "v_alone": rmse(v.sq()),
            "v": rmse(v.sq(**blend)),
            "t_alone": rmse(t.sq()),
            "t": rmse(t.sq(**blend)),
            "blend": blend,
            "reg": cfg.ratings.reg_param,
            "refit_s": refit_s,
            "seconds": seconds,
        }
        return results[label]

    started = time.perf_counter()
    choice, model = reg_search.search_reg_param(train, validation, config, start=0.15, biases_on_driver=True)
    base_cfg = replace(config, ratings=replace(config.ratings, reg_param=choice.chosen))
    base = judge("base r16", base_cfg, model, seconds=time.perf_counter() - started)
    judge("base+biases", base_cfg, model, biases=True)
    for rank in ranks:
        if rank == 16:
            continue
        cfg = replace(config, ratings=replace(config.ratings, rank=rank))
        started = time.perf_counter()
        ch, m = reg_search.search_reg_param(train, validation, cfg, start=choice.chosen, biases_on_driver=True)
        cfg = replace(cfg, ratings=replace(cfg.ratings, reg_param=ch.chosen))
        judge(f"rank {rank}", cfg, m, seconds=time.perf_counter() - started)
        judge(f"rank {rank}+biases", cfg, m, biases=True)
    for iters in iterations:
        cfg = replace(base_cfg, ratings=replace(base_cfg.ratings, max_iter=iters))
        started = time.perf_counter()
        m = fit(cfg, train)
        judge(f"iter {iters}", cfg, m, seconds=time.perf_counter() - started)
        judge(f"iter {iters}+biases", cfg, m, biases=True)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== {name}: train/validation/test {counts}, load {load}", flush=True)
    for label, r in results.items():
        beyond = reg_search.better_beyond_noise(r["v_sq"], base["v_sq"]) if label != "base r16" else ""
        blend = " ".join(f"{k} {v:.3f}" for k, v in r["blend"].items())
        print(
            f"  {label:<18} reg {r['reg']:.3g}  val {r['v_alone']:.4f} -> {r['v']:.4f}  test {r['t_alone']:.4f} -> "
            f"{r['t']:.4f} (vs base {r['t'] - base['t']:+.4f})  beyond noise on val: {beyond}  [{blend}]  "
            f"fit {r['seconds']:.1f}s refit {r['refit_s']:.1f}s",
            flush=True,
        )
    for p in (train, validation, test, full):
        p.unpersist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/main/data/ml-latest-small"))
    parser.add_argument("--sets", nargs="*", choices=SETS, default=list(SETS))
    parser.add_argument("--ranks", nargs="*", type=int, default=[24, 32])
    parser.add_argument("--iterations", nargs="*", type=int, default=[20])
    args = parser.parse_args()

    from spark_engine import fitting
    from spark_engine.session import SparkConfig, get_spark

    spark = get_spark(SparkConfig(master="local[2]", app_name="bench-rmse-levers", quick_jit=True))
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir("/tmp/bench-rmse-levers-checkpoints")
    config = fitting.with_run_options(fitting.PROPOSED, seed=42, num_blocks=2)
    ratings = load(spark, args.data)
    for name in args.sets:
        run_set(spark, ratings, name, config, args.ranks, args.iterations)


if __name__ == "__main__":
    main()
