"""Recommendation quality, every model side by side on one random 60/20/20 split of a MovieLens ratings.csv.

    .venv/bin/python bench/bench_quality.py                    # data/ml-latest-small, seed 0
    .venv/bin/python bench/bench_quality.py --quick            # skip the grids, run the chosen settings only
    .venv/bin/python bench/bench_quality.py --surprise-python /tmp/surprise-venv/bin/python

Reads ratings.csv directly (no database), splits it once (`metrics.split_three`, seed --seed) and then:

1. Predicted ratings. Parameters are chosen on validation (models fitted on the 60% train part); the chosen model
   is refitted on train+validation and judged on test. Rows: the tutorial (plain ALS, ranks 4/8/12, 10 iterations,
   regParam 0.1), plain ALS with the retrain defaults, a tuned plain ALS, biases only, biased ALS (grid over bias
   regularisation, then rank x regParam), and, when Surprise can be imported by --surprise-python (a separate
   throwaway venv: Surprise is never a dependency of the project), Surprise's BaselineOnly, SVD and SVD++ on the
   very same split.
2. Lists (top-10 unrated, held-out ratings >= 4 relevant, users seen in training): validation NDCG@10 (fitted on
   train) to choose, then precision/recall/NDCG/MAP@10 and catalogue coverage on test (fitted on
   train+validation), for popularity, the lists the site served before the two-model retrain (explicit ALS's own
   top-10), the tutorial's (explicit ALS among movies with >= 25 ratings), biased ALS's own top-10 and
   implicit-feedback ALS variants. fitting.PROPOSED is what a retrain publishes with the default settings.

Spark runs in local[2]; expect 5-10 minutes on 2 busy cores (SVD++ adds a few minutes).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "data" / "ml-latest-small" / "ratings.csv"
DEFAULT_SURPRISE_PYTHON = "/tmp/surprise-venv/bin/python"


# --------------------------------------------------------------------------------------------------
# Surprise, in whatever interpreter has it (runs without pyspark or Django)


def surprise_worker(folder: Path) -> None:
    """Fit Surprise models on the split CSVs in `folder`; print one JSON object of results (or {"skipped": why})."""
    try:
        from surprise import SVD, BaselineOnly, Dataset, Reader, SVDpp, accuracy
    except ImportError as exc:
        print(json.dumps({"skipped": f"import surprise failed: {exc}"}))
        return

    def trainset(*names: str):
        merged = folder / ("+".join(names) + ".merged.csv")
        with merged.open("w") as out:
            for name in names:
                out.write((folder / f"{name}.csv").read_text())
        reader = Reader(line_format="user item rating", sep=",", rating_scale=(0.5, 5.0))
        return Dataset.load_from_file(str(merged), reader).build_full_trainset()

    def pairs(name: str):
        with (folder / f"{name}.csv").open() as f:
            return [(u, i, float(r)) for u, i, r in csv.reader(f)]

    validation, test = pairs("validation"), pairs("test")
    train, full = trainset("train"), trainset("train", "validation")
    makers = {
        "BaselineOnly": lambda: BaselineOnly(verbose=False),
        "SVD": lambda: SVD(random_state=0),
        "SVD++": lambda: SVDpp(random_state=0, cache_ratings=True),
    }
    results = {}
    for name, make in makers.items():
        algo = make()
        algo.fit(train)
        validation_rmse = accuracy.rmse(algo.test(validation), verbose=False)
        test_rmse = accuracy.rmse(algo.test(test), verbose=False)
        algo = make()
        started = time.perf_counter()
        algo.fit(full)
        seconds = time.perf_counter() - started
        results[name] = {
            "validation_rmse": validation_rmse,
            "test_rmse": test_rmse,
            "test_rmse_refit": accuracy.rmse(algo.test(test), verbose=False),
            "seconds": seconds,
        }
        print(f"  surprise {name}: {results[name]}", file=sys.stderr, flush=True)
    print(json.dumps(results))


def run_surprise(python: str, folder: Path) -> dict:
    if not python or not Path(python).exists():
        return {"skipped": f"no interpreter at {python!r}"}
    proc = subprocess.run(
        [python, __file__, "--surprise-worker", str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        return {"skipped": f"surprise worker failed with exit code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# Spark side


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=Path, default=DEFAULT_DATA, help="MovieLens ratings.csv")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="No grids: only the chosen settings.")
    parser.add_argument("--surprise-python", default=DEFAULT_SURPRISE_PYTHON, help="'' skips Surprise.")
    parser.add_argument("--surprise-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.surprise_worker:
        surprise_worker(args.surprise_worker)
        return
    sys.path.insert(0, str(ROOT))
    Bench(args).run()


def log(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.k = args.k
        self.rating_rows: list[tuple] = []
        self.list_rows: list[tuple] = []

    def run(self) -> None:
        import pandas as pd

        from spark_engine import metrics
        from spark_engine.session import SparkConfig, get_spark

        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="bench-quality-") as tmp:
            spark = get_spark(
                SparkConfig(
                    master="local[2]",
                    app_name="bench-quality",
                    driver_memory="4g",
                    shuffle_partitions=4,
                    checkpoint_dir=str(Path(tmp) / "checkpoints"),
                )
            )
            log(f"Spark up in {time.perf_counter() - started:.1f}s")
            pdf = pd.read_csv(self.args.ratings, usecols=["userId", "movieId", "rating"])
            pdf.columns = ["user_id", "movie_id", "rating"]
            ratings = spark.createDataFrame(
                pdf.astype({"user_id": "int32", "movie_id": "int32", "rating": "float32"}),
                "user_id int, movie_id int, rating float",
            )
            self.train, self.validation, self.test = (p.cache() for p in metrics.split_three(ratings, self.args.seed))
            self.full = self.train.unionByName(self.validation).cache()
            counts = [self.train.count(), self.validation.count(), self.test.count()]
            self.known_validation = self._known(self.validation, self.train)
            self.known_test = self._known(self.test, self.full)
            print(
                f"{len(pdf):,} ratings from {self.args.ratings}; split seed {self.args.seed}: "
                f"{counts[0]:,} train / {counts[1]:,} validation / {counts[2]:,} test"
            )

            surprise = {"skipped": "--surprise-python ''"}
            if self.args.surprise_python:
                for name, part in (("train", self.train), ("validation", self.validation), ("test", self.test)):
                    part.toPandas().to_csv(Path(tmp) / f"{name}.csv", header=False, index=False)

            self.ratings_section()
            self.lists_section()
            if self.args.surprise_python:
                # After Spark's work, not alongside it: two cores, and fit times should be comparable.
                log("Surprise (BaselineOnly, SVD, SVD++) ...")
                surprise = run_surprise(self.args.surprise_python, Path(tmp))
            for name, entry in surprise.items():
                if name == "skipped":
                    print(f"Surprise skipped: {entry}")
                    continue
                self.rating_rows.append(
                    (
                        f"Surprise {name} (defaults)",
                        entry["validation_rmse"],
                        entry["test_rmse"],
                        entry["test_rmse_refit"],
                        entry["seconds"],
                    )
                )
            self.print_tables()
        print(f"total {time.perf_counter() - started:.0f}s")

    def _known(self, part, train):
        known = part.join(train.select("user_id").distinct(), "user_id", "left_semi").cache()
        known.count()
        return known

    # ---------------------------------------------------------------------------------------------

    def ratings_section(self) -> None:
        from spark_engine import fitting, metrics
        from spark_engine.fitting import ALSParams, fit_als
        from spark_engine.metrics import rmse

        seed, blocks = self.args.seed, 2

        def plain(label: str, params: ALSParams) -> tuple:
            model = fit_als(self.train, params)
            validation_rmse, test_rmse = rmse(model, self.validation), rmse(model, self.test)
            started = time.perf_counter()
            refit = fit_als(self.full, params)
            seconds = time.perf_counter() - started
            row = (label, validation_rmse, test_rmse, rmse(refit, self.test), seconds)
            log(f"{label}: {row[1:]}")
            return row

        def biased(label: str, params: ALSParams | None, reg_user: float, reg_item: float, refit: bool = True):
            model = fitting.fit_biased_als(self.train, params, reg_user=reg_user, reg_item=reg_item)
            validation_rmse = metrics.rmse_of(model, self.validation)
            test_rmse = metrics.rmse_of(model, self.test)
            refit_rmse = seconds = float("nan")
            if refit:
                started = time.perf_counter()
                final = fitting.fit_biased_als(self.full, params, reg_user=reg_user, reg_item=reg_item)
                seconds = time.perf_counter() - started
                refit_rmse = metrics.rmse_of(final, self.test)
            row = (label, validation_rmse, test_rmse, refit_rmse, seconds)
            log(f"{label}: {row[1:]}")
            return row

        tutorial = [
            plain(
                f"tutorial ALS rank {rank}, reg 0.1", ALSParams(rank=rank, reg_param=0.1, seed=seed, num_blocks=blocks)
            )
            for rank in metrics.TUTORIAL_RANKS
        ]
        best = min(tutorial, key=lambda row: row[1])
        self.tutorial_rank = int(best[0].split("rank ")[1].split(",")[0])
        self.rating_rows += [row[:2] + (float("nan"),) * 3 for row in tutorial]
        self.rating_rows.append((f"tutorial best on validation (rank {self.tutorial_rank})", *best[1:]))
        self.rating_rows.append(
            plain("plain ALS, retrain defaults (rank 10, reg 0.1)", ALSParams(seed=seed, num_blocks=blocks))
        )
        self.rating_rows.append(
            plain(
                "plain ALS tuned (rank 16, reg 0.15)", ALSParams(rank=16, reg_param=0.15, seed=seed, num_blocks=blocks)
            )
        )

        proposed = fitting.PROPOSED
        reg_user, reg_item = proposed.reg_user, proposed.reg_item
        if not self.args.quick:
            grid = [
                biased(f"biases only, reg {u:g}/{i:g}", None, u, i, refit=False) for u in (3, 5, 10) for i in (3, 5, 10)
            ]
            best = min(grid, key=lambda row: row[1])
            reg_user, reg_item = (float(x) for x in best[0].split("reg ")[1].split("/"))
        self.rating_rows.append(biased(f"biases only, reg {reg_user:g}/{reg_item:g}", None, reg_user, reg_item))

        params = fitting.with_run_options(proposed, seed=seed, num_blocks=blocks).ratings
        if not self.args.quick:
            grid = []
            for rank in (10, 20, 50):
                for reg in (0.1, 0.15, 0.2):
                    candidate = ALSParams(rank=rank, reg_param=reg, seed=seed, num_blocks=blocks)
                    row = biased(f"biased ALS rank {rank}, reg {reg:g}", candidate, reg_user, reg_item, refit=False)
                    grid.append((row, candidate))
            _, params = min(grid, key=lambda pair: pair[0][1])
        self.rating_rows.append(
            biased(
                f"biased ALS rank {params.rank}, reg {params.reg_param:g}, biases {reg_user:g}/{reg_item:g}",
                params,
                reg_user,
                reg_item,
            )
        )
        if (params.rank, params.reg_param) != (proposed.ratings.rank, proposed.ratings.reg_param):
            self.rating_rows.append(
                biased(
                    f"biased ALS, PROPOSED (rank {proposed.ratings.rank}, reg {proposed.ratings.reg_param:g})",
                    fitting.with_run_options(proposed, seed=seed, num_blocks=blocks).ratings,
                    proposed.reg_user,
                    proposed.reg_item,
                )
            )

    # ---------------------------------------------------------------------------------------------

    def lists_section(self) -> None:
        from spark_engine import fitting, metrics
        from spark_engine.fitting import ALSParams, fit_als
        from spark_engine.metrics import popularity_top_n
        from spark_engine.topk import top_n_unrated

        seed, blocks, k = self.args.seed, 2, self.k

        def judge(label: str, recommend) -> None:
            """`recommend(train)` -> recommended DataFrame; validation (fitted on train) and test (train+val)."""
            validation = metrics.list_metrics(recommend(self.train), self.train, self.known_validation, k)
            started = time.perf_counter()
            test = metrics.list_metrics(recommend(self.full), self.full, self.known_test, k)
            seconds = time.perf_counter() - started
            self.list_rows.append((label, validation, test, seconds))
            log(f"{label}: validation NDCG {validation[f'ndcg_at_{k}']:.4f}, test {test}")

        def explicit(params: ALSParams, min_ratings: int = 0):
            def recommend(train):
                model = fit_als(train, params)
                items = model.itemFactors
                if min_ratings:
                    items = metrics.restrict_items(items, train, min_ratings)
                return top_n_unrated(model.userFactors, items, train, k)

            return recommend

        def biased(config: fitting.QualityConfig):
            def recommend(train):
                model = fitting.fit_biased_als(
                    train, config.ratings, reg_user=config.reg_user, reg_item=config.reg_item
                )
                return top_n_unrated(*fitting.biased_factors(model), train, k)

            return recommend

        def implicit(params: fitting.ListParams):
            def recommend(train):
                return top_n_unrated(*fitting.fit_list_model(train, params), train, k)

            return recommend

        judge("popularity", lambda train: popularity_top_n(train, k))
        judge(
            "explicit ALS top-10 (rank 10, reg 0.1; served before the two-model retrain)",
            explicit(ALSParams(seed=seed, num_blocks=blocks)),
        )
        tutorial = ALSParams(rank=self.tutorial_rank, reg_param=0.1, seed=seed, num_blocks=blocks)
        judge(f"tutorial: explicit ALS rank {self.tutorial_rank}, >= 25 ratings", explicit(tutorial, 25))
        proposed = fitting.with_run_options(fitting.PROPOSED, seed=seed, num_blocks=blocks)
        judge(f"biased ALS own top-10 (rank {proposed.ratings.rank})", biased(proposed))

        def variant(rank, reg, alpha, confidence, weight=0.0):
            return fitting.ListParams(
                als=ALSParams(rank=rank, reg_param=reg, implicit_prefs=True, alpha=alpha, seed=seed, num_blocks=blocks),
                confidence=confidence,
                popularity_weight=weight,
            )

        variants = [proposed.lists]
        if not self.args.quick:
            variants += [
                variant(32, 0.1, 1.0, "binary"),
                variant(32, 0.1, 1.0, "rating"),
                variant(32, 0.1, 10.0, "rating"),
                variant(32, 0.1, 2.0, "centered"),
                variant(64, 0.5, 2.0, "centered"),
                variant(32, 0.3, 2.0, "centered", 0.05),
            ]
        for params in variants:
            label = (
                f"implicit ALS {params.confidence}, rank {params.als.rank}, reg {params.als.reg_param:g}, "
                f"alpha {params.als.alpha:g}"
            )
            if params.popularity_weight:
                label += f", + {params.popularity_weight:g} log(count)"
            if params == proposed.lists:
                label += " [PROPOSED = served]"
            judge(label, implicit(params))

    # ---------------------------------------------------------------------------------------------

    def print_tables(self) -> None:
        k = self.k
        width = max(len(row[0]) for row in self.rating_rows + self.list_rows) + 2
        print()
        print(f"{'Predicted ratings: RMSE':<{width}}{'valid.':>8}{'test':>8}{'refit':>8}{'fit s':>7}")
        print(f"{'(valid./test: fitted on 60% train; refit: on train+validation)':<{width}}")
        for label, validation, test, refit, seconds in self.rating_rows:
            print(f"{label:<{width}}{_n(validation):>8}{_n(test):>8}{_n(refit):>8}{_n(seconds, 1):>7}")

        popularity = next(row[2][f"ndcg_at_{k}"] for row in self.list_rows if row[0] == "popularity")
        print()
        print(
            f"{f'Lists: top-{k}':<{width}}{'v.NDCG':>8}{f'P@{k}':>8}{f'R@{k}':>8}{f'NDCG@{k}':>8}{f'MAP@{k}':>8}"
            f"{'cover.':>8}{'x pop':>7}{'s':>6}"
        )
        print(f"{'(v.NDCG: fitted on train, on validation; the rest: on train+validation, on test)':<{width}}")
        for label, validation, test, seconds in self.list_rows:
            print(
                f"{label:<{width}}{_n(validation[f'ndcg_at_{k}']):>8}{_n(test[f'precision_at_{k}']):>8}"
                f"{_n(test[f'recall_at_{k}']):>8}{_n(test[f'ndcg_at_{k}']):>8}{_n(test[f'map_at_{k}']):>8}"
                f"{_n(test[f'coverage_at_{k}']):>8}{_n(test[f'ndcg_at_{k}'] / popularity, 2):>7}{_n(seconds, 1):>6}"
            )
        implicit = [row for row in self.list_rows if row[0].startswith("implicit")]
        chosen = max(implicit, key=lambda row: row[1][f"ndcg_at_{k}"])
        print(
            f"\nchosen on validation: {chosen[0]}: test NDCG@{k} {chosen[2][f'ndcg_at_{k}']:.4f} = "
            f"{chosen[2][f'ndcg_at_{k}'] / popularity:.2f} x popularity ({popularity:.4f})"
        )


def _n(value: float, digits: int = 4) -> str:
    return "" if value != value else f"{value:.{digits}f}"  # NaN: blank


if __name__ == "__main__":
    main()
