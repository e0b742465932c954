"""Does the retrain's own regParam choice adapt to the data, and what does it cost?

    .venv/bin/python bench/bench_autoreg.py                       # every derived set, then the timing
    .venv/bin/python bench/bench_autoreg.py --sets full whole_stars --no-timing
    .venv/bin/python bench/bench_autoreg.py --data /work/main/data/ml-latest-small --repeat 3

Data sets, all derived from ml-latest-small's ratings.csv on disk (nothing is downloaded):
  full         every rating
  sample30     every rating of a 30% user sample (seeded hash of the user id, `metrics.sample_users`)
  heavy100     users with at least 100 ratings only
  whole_stars  every rating rounded to whole stars (half up, 0.5 -> 1), as ML-100K and ML-1M have them

Per set, on the tutorial's random 60/20/20 split (seed 0): the stars model with today's fixed defaults
(`fitting.PROPOSED`, regParam 0.15) refitted on train+validation, against the retrain's search
(`reg_search.search_reg_param` from 0.15 on train, judged on validation) with its choice refitted the same way;
both judged once on test; then the chosen model with the list score blended in as a retrain does
(`blend.choose_stars_blend` on validation, applied to both models refitted on train+validation), judged on test.
Then (timing) the retrain's evaluate stage on the full set as a retrain runs it
(`metrics.evaluate_holdout_config`, 80/20, both models), with and without the search, alternating, `--repeat`
times: the difference is what the search adds to a retrain; and a second search warm-started from the first's
choice (what the next retrain does). Prints the load average with every figure: run it as the only heavy job.
`--budget` also runs each set's search with the budget of large data applied (`reg_search.CANDIDATE_MAX_RATINGS`:
candidates with half the ALS iterations, the choice refitted with all of them) and prints its choice next to the
unbudgeted one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

SETS = ("full", "sample30", "heavy100", "whole_stars")


def load(spark, data: Path):
    from pyspark.sql import functions as F

    frame = spark.read.option("header", True).csv(str(data / "ratings.csv"))
    return frame.select(
        F.col("userId").cast("int").alias("user_id"),
        F.col("movieId").cast("int").alias("movie_id"),
        F.col("rating").cast("float").alias("rating"),
    ).cache()


def derive(ratings, name: str):
    from pyspark.sql import functions as F

    from spark_engine import metrics

    if name == "full":
        return ratings
    if name == "sample30":
        return metrics.sample_users(ratings, 0.3, seed=0)
    if name == "heavy100":
        heavy = ratings.groupBy("user_id").count().where(F.col("count") >= 100).select("user_id")
        return ratings.join(heavy, "user_id", "left_semi")
    if name == "whole_stars":
        return ratings.withColumn("rating", F.greatest(F.round("rating"), F.lit(1.0)).cast("float"))
    raise ValueError(name)


def load_average() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def compare(spark, ratings, name: str, config, start: float, budget: bool = False) -> dict:
    from spark_engine import fitting, metrics, reg_search
    from spark_engine.blend import choose_stars_blend

    data = derive(ratings, name).cache()
    users = data.select("user_id").distinct().count()
    rows = data.count()
    train, validation, test = (part.cache() for part in metrics.split_three(data, 0))
    full_train = train.unionByName(validation).cache()
    fixed = fitting.fit_biased_als(full_train, config.ratings, reg_user=config.reg_user, reg_item=config.reg_item)
    fixed_rmse = metrics.rmse_of(fixed, test)
    started = time.perf_counter()
    choice, searched = reg_search.search_reg_param(train, validation, config, start=start)
    search_seconds = time.perf_counter() - started
    budgeted = ""
    if budget:
        train_count = train.count()
        started = time.perf_counter()
        bc, _ = reg_search.search_reg_param(
            train,
            validation,
            config,
            start=start,
            train_count=train_count,
            candidate_max_ratings=1,
        )
        budgeted = (
            f" | budgeted ({bc.candidate_iterations} iterations per candidate): chosen {bc.chosen:.3g}, "
            f"{len(bc.trials)} fits + refit, {time.perf_counter() - started:.1f} s, trials "
            + " ".join(f"{reg:.3g}:{rmse:.4f}" for reg, rmse, _ in bc.trials)
        )
    chosen = replace(config.ratings, reg_param=choice.chosen)
    refit = fitting.fit_biased_als(full_train, chosen, reg_user=config.reg_user, reg_item=config.reg_item)
    auto_rmse = metrics.rmse_of(refit, test)
    # The list score's blend into the stars, as a retrain chooses it: both models fitted on train, judged on
    # validation; applied to both refitted on train+validation, judged on test.
    started = time.perf_counter()
    blend = choose_stars_blend(searched, *fitting.fit_list_model(train, config.lists), validation)
    blended = fitting.blend_stars_model(
        refit, *fitting.fit_list_model(full_train, config.lists), list_weight=blend.list_weight, offset=blend.offset
    )
    blend_rmse = metrics.rmse_of(blended, test)
    blend_seconds = time.perf_counter() - started
    for part in (data, train, validation, test, full_train):
        part.unpersist()
    return {
        "set": name,
        "ratings": rows,
        "users": users,
        "chosen": choice.chosen,
        "fits": len(choice.trials),
        "trials": " ".join(f"{reg:.3g}:{rmse:.4f}" for reg, rmse, _ in choice.trials),
        "search_seconds": search_seconds,
        "fixed_rmse": fixed_rmse,
        "auto_rmse": auto_rmse,
        "blend": blend,
        "blend_rmse": blend_rmse,
        "blend_seconds": blend_seconds,
        "load": load_average(),
        "budgeted": budgeted,
    }


def timing(spark, ratings, config, start: float, repeat: int) -> None:
    from spark_engine import metrics, reg_search

    print(f"\nevaluate stage (80/20 holdout, both models) on the full set, {repeat} pair(s), alternating:")
    for i in range(repeat):
        row = {}
        for mode in ("fixed", "search"):
            started = time.perf_counter()
            result = metrics.evaluate_holdout_config(
                ratings, config, 0.2, seed=42, biases_on_driver=True, reg_start=start if mode == "search" else None
            )
            row[mode] = (time.perf_counter() - started, result)
        (fixed_s, fixed), (search_s, searched) = row["fixed"], row["search"]
        choice = searched["reg_search"]
        print(
            f"  pair {i + 1}: fixed {fixed_s:.1f}s (RMSE {fixed['rmse']:.4f}), with search {search_s:.1f}s "
            f"(regParam {choice['chosen']:.3g}, {choice['fits']} fits, holdout RMSE {searched['rmse']:.4f}): "
            f"+{search_s - fixed_s:.1f}s ({load_average()})"
        )
    # The next retrain starts where this one ended.
    train, test = (part.cache() for part in metrics.split_holdout(ratings, 0.2, 42))
    started = time.perf_counter()
    warm, _ = reg_search.search_reg_param(train, test, config, start=choice["chosen"], biases_on_driver=True)
    print(
        f"  warm-started from {choice['chosen']:.3g}: {len(warm.trials)} fits, chose {warm.chosen:.3g}, "
        f"{time.perf_counter() - started:.1f}s ({load_average()})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/main/data/ml-latest-small"))
    parser.add_argument("--sets", nargs="*", choices=SETS, default=list(SETS), help="None: the timing only.")
    parser.add_argument("--start", type=float, default=None, help="Where the search starts (default: 0.15).")
    parser.add_argument("--repeat", type=int, default=2, help="Timing pairs (default 2).")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--budget", action="store_true", help="Also search with the large-data budget (see above).")
    args = parser.parse_args()

    from spark_engine import fitting
    from spark_engine.session import SparkConfig, get_spark

    spark = get_spark(SparkConfig(master="local[2]", app_name="bench-autoreg", quick_jit=True))
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir("/tmp/bench-autoreg-checkpoints")
    config = fitting.with_run_options(fitting.PROPOSED, seed=42, num_blocks=2)
    start = args.start if args.start is not None else config.ratings.reg_param
    ratings = load(spark, args.data)

    print(
        f"{'set':<12} {'ratings':>8} {'users':>6} {'chosen':>7} {'fits':>4} {'search s':>8} "
        f"{'fixed RMSE':>10} {'auto RMSE':>9}  trials (regParam:validation RMSE)"
    )
    for name in args.sets:
        row = compare(spark, ratings, name, config, start, args.budget)
        print(
            f"{row['set']:<12} {row['ratings']:>8,} {row['users']:>6,} {row['chosen']:>7.3g} {row['fits']:>4} "
            f"{row['search_seconds']:>8.1f} {row['fixed_rmse']:>10.4f} {row['auto_rmse']:>9.4f}  {row['trials']} "
            f"({row['load']}){row['budgeted']}",
            flush=True,
        )
        blend = row["blend"]
        print(
            f"{'':<12} list-score blend: weight {blend.list_weight:.3f}, offset {blend.offset:.3f}"
            f"{'' if blend.kept else ' (not kept)'}, validation RMSE {blend.rmse_before:.4f} -> {blend.rmse:.4f}; "
            f"test RMSE chosen + blend {row['blend_rmse']:.4f} ({row['blend_seconds']:.1f}s with two list fits)",
            flush=True,
        )
    if not args.no_timing:
        timing(spark, ratings, config, start, args.repeat)


if __name__ == "__main__":
    main()
