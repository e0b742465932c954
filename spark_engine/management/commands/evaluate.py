"""python manage.py evaluate [--seed N] [--ranks 4,8,12] [--k 10] [--compare-proposed]

The tutorial's protocol on the ratings in the database, next to the current retrain defaults (the stars and list
models a retrain would publish: settings ALS_* and LIST_ALS_*, then parameters saved by `tune --save`):
random 60/20/20 split, validation RMSE per rank, test RMSE of the best, and list metrics for the top-k the site would
serve, for the tutorial's approach and for popularity. The last line, for scripts, reads
`test RMSE <x> NDCG@<k> <y> popularity NDCG@<k> <z>` for the current defaults (x: the defaults refitted on
train+validation; y, z: lists judged on the test split).
"""

from __future__ import annotations

import math
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommendations.models import EvaluationReport
from recommendations.services import evaluation_report_create
from spark_engine.experiments import evaluation_run


class Command(BaseCommand):
    help = (
        "Evaluate recommendation quality on the ratings in the database: the tutorial's protocol (random 60/20/20 "
        "split, ALS ranks 4/8/12) next to the current defaults, for predicted ratings (RMSE) and lists "
        "(precision/recall/NDCG/MAP@k, coverage). Records the figures for the staff page."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=0, help="Seed of the random split and of ALS (default 0).")
        parser.add_argument(
            "--ranks", default="4,8,12", help="Comma-separated ALS ranks of the tutorial's search (default 4,8,12)."
        )
        parser.add_argument("--k", type=int, default=10, help="List length for the ranking metrics (default 10).")
        parser.add_argument(
            "--compare-proposed",
            action="store_true",
            help="Also evaluate the proposed configuration (biased ALS for stars, implicit ALS for lists).",
        )

    def handle(self, *args, seed: int, ranks: str, k: int, compare_proposed: bool, **options):
        try:
            rank_list = tuple(int(part) for part in ranks.split(",") if part.strip())
        except ValueError:
            raise CommandError(f"--ranks must be comma-separated integers, got {ranks!r}")
        if not rank_list or min(rank_list) < 1:
            raise CommandError("--ranks needs at least one positive rank")
        if k < 1:
            raise CommandError("--k must be positive")

        def on_step(message: str) -> None:
            sys.stderr.write(f"[evaluate] {message}\n")
            sys.stderr.flush()

        try:
            result = evaluation_run(seed=seed, ranks=rank_list, k=k, compare_proposed=compare_proposed, on_step=on_step)
        except ValueError as exc:
            raise CommandError(str(exc))
        lines = format_report(result, k)
        for line in lines:
            self.stdout.write(line)
        defaults = result["configs"]["defaults"]
        evaluation_report_create(
            kind=EvaluationReport.Kind.EVALUATE,
            ratings_count=result["ratings"],
            results=result,
            rmse=defaults["test_rmse_refit"],
            ndcg_at_10=defaults["lists"].get("ndcg_at_10"),
            popularity_ndcg_at_10=result["popularity"].get("ndcg_at_10"),
            summary=lines[-1],
        )


def format_report(result: dict[str, Any], k: int) -> list[str]:
    """The printed table; the last line is the scripts' summary for the defaults."""
    split, tutorial, configs = result["split"], result["tutorial"], result["configs"]
    lines = [
        f"{result['ratings']:,} ratings; random split (seed {split['seed']}): {split['train']:,} train, "
        f"{split['validation']:,} validation, {split['test']:,} test",
        "",
        f"{'Predicted ratings (RMSE)':<60}{'validation':>12}{'test':>10}{'test, refit':>13}",
    ]
    for rank, error in tutorial["validation_rmse"].items():
        lines.append(f"{f'tutorial rank {rank}':<60}{_num(error):>12}")
    best = f"tutorial best (rank {tutorial['best_rank']})"
    lines.append(f"{best:<60}{'':>12}{_num(tutorial['test_rmse']):>10}{_num(tutorial['test_rmse_refit']):>13}")
    for name, entry in configs.items():
        lines.append(
            f"{_config_label(name, entry):<60}{_num(entry['validation_rmse']):>12}{_num(entry['test_rmse']):>10}"
            f"{_num(entry['test_rmse_refit']):>13}"
        )
    lines += [
        "",
        f"{f'Lists (top-{k}, judged on test)':<60}{f'P@{k}':>8}{f'R@{k}':>8}{f'NDCG@{k}':>9}{f'MAP@{k}':>8}"
        f"{'coverage':>10}",
    ]
    rows = [(f"tutorial (rank {tutorial['best_rank']}, >= 25 ratings)", tutorial["lists"])]
    rows += [(_config_label(name, entry), entry["lists"]) for name, entry in configs.items()]
    rows.append(("popularity", result["popularity"]))
    for label, metrics in rows:
        lines.append(
            f"{label:<60}{_num(metrics[f'precision_at_{k}']):>8}{_num(metrics[f'recall_at_{k}']):>8}"
            f"{_num(metrics[f'ndcg_at_{k}']):>9}{_num(metrics[f'map_at_{k}']):>8}{_num(metrics[f'coverage_at_{k}']):>10}"
        )
    defaults = configs["defaults"]
    lines += [
        "",
        f"test RMSE {_num(defaults['test_rmse_refit'])} NDCG@{k} {_num(defaults['lists'][f'ndcg_at_{k}'])} "
        f"popularity NDCG@{k} {_num(result['popularity'][f'ndcg_at_{k}'])}",
    ]
    return lines


def _config_label(name: str, entry: dict[str, Any]) -> str:
    config = entry["config"]
    ratings = config["ratings"]
    label = f"{name} ({'biased ' if config['biased'] else ''}rank {ratings['rank']}, reg {ratings['reg_param']:g}"
    if config["lists"]:
        lists = config["lists"]["als"]
        label += f"; lists implicit rank {lists['rank']}"
    return label + ")"


def _num(value: float) -> str:
    return "nan" if value is None or math.isnan(value) else f"{value:.4f}"
