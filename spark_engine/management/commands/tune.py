"""python manage.py tune [--ranks 8,12,16] [--reg-params 0.05,0.1,0.15] [--max-iters 10] [--folds 3] [--save]

Cross-validated grid search of explicit ALS on every rating in the database: prints a table, best first;
with --save the winner becomes the retrain's default rank, regParam and maxIter (stored in the database,
shown in the admin under "tuned ALS parameters"; delete it there to return to the ALS_* settings).
"""

from __future__ import annotations

import math

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommendations.models import EvaluationReport
from recommendations.services import evaluation_report_create, tuned_parameters_save
from spark_engine.evaluation import tuning_run


def _numbers(text: str, kind, name: str) -> tuple:
    try:
        values = tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CommandError(f"--{name} must be a comma-separated list of numbers, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise CommandError(f"--{name} needs at least one non-negative number, got {text!r}")
    return values


class Command(BaseCommand):
    help = "Cross-validate ALS rank/regParam/maxIter on Spark; --save stores the winner as the retrain default."

    def add_arguments(self, parser):
        parser.add_argument("--ranks", default="8,12,16,20")
        parser.add_argument("--reg-params", default="0.05,0.1,0.15,0.2", dest="reg_params")
        parser.add_argument("--max-iters", default="10", dest="max_iters")
        parser.add_argument("--folds", type=int, default=3)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--save", action="store_true", help="Store the winner as the retrain's defaults.")
        parser.add_argument("--no-progress", action="store_true", dest="no_progress")

    def handle(self, *args, ranks, reg_params, max_iters, folds, seed, save, no_progress, **options):
        ranks = _numbers(ranks, int, "ranks")
        reg_params = _numbers(reg_params, float, "reg-params")
        max_iters = _numbers(max_iters, int, "max-iters")
        if min(ranks) < 1 or min(max_iters) < 1:
            raise CommandError("ranks and max-iters must be at least 1")
        if folds < 2:
            raise CommandError("--folds must be at least 2")
        fits = len(ranks) * len(reg_params) * len(max_iters) * folds
        progress = tqdm(total=fits, unit="fit", disable=no_progress, file=self.stderr._out, desc="tune")

        def on_fit(params, fold, error):
            progress.set_postfix_str(f"rank {params.rank} reg {params.reg_param:g} fold {fold + 1}: {error:.4f}")
            progress.update()

        try:
            result = tuning_run(
                ranks=ranks,
                reg_params=reg_params,
                max_iters=max_iters,
                folds=folds,
                seed=seed,
                on_fit=on_fit,
                notify=lambda message: progress.write(message, file=self.stderr._out),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()

        self.stdout.write(f"{'rank':>5} {'regParam':>9} {'maxIter':>8} {'CV RMSE':>9}   per fold")
        for row in result["results"]:
            folds_text = " ".join(f"{v:.4f}" for v in row["fold_rmse"])
            self.stdout.write(
                f"{row['rank']:>5} {row['reg_param']:>9g} {row['max_iter']:>8} {row['rmse']:>9.4f}   {folds_text}"
            )
        best = result["best"]
        if not math.isfinite(best["rmse"]):
            raise CommandError("No parameter set could be scored (too few ratings per fold?).")
        summary = (
            f"best: rank {best['rank']} regParam {best['reg_param']:g} maxIter {best['max_iter']} "
            f"CV RMSE {best['rmse']:.4f}"
        )
        evaluation_report_create(
            kind=EvaluationReport.Kind.TUNE,
            ratings_count=result["ratings"],
            results=result,
            rmse=best["rmse"],
            summary=summary + (" (saved)" if save else ""),
        )
        if save:
            tuned_parameters_save(
                rank=best["rank"],
                max_iter=best["max_iter"],
                reg_param=best["reg_param"],
                cv_rmse=best["rmse"],
                results=result["results"],
                ratings_count=result["ratings"],
                folds=folds,
            )
            summary += " (saved as the retrain defaults)"
        self.stdout.write(summary)
