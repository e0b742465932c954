"""python manage.py tune [--lists] [--ranks ...] [--reg-params ...] [--alphas ...] [--max-iters ...] [--save]

Cross-validated grid search on every rating in the database, on Spark; prints a table, best first.
- Default: the stars model (biased ALS, as the retrain fits it), scored by RMSE over rank x regParam x maxIter.
- --lists: the list model (implicit ALS on rating - centre), scored by NDCG@10 over rank x regParam x alpha x maxIter.
With --save the winner becomes the retrain's default for that model (stored in the database, shown in the admin
under "tuned ALS parameters"; delete it there to return to the settings).
"""

from __future__ import annotations

import math

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from recommendations.models import EvaluationReport
from recommendations.services import evaluation_report_create, tuned_list_parameters_save, tuned_parameters_save
from spark_engine.experiments import list_tuning_run, tuning_run

# Grids searched when none is given: the stars model, then the list model.
STARS_GRID = {"ranks": "8,12,16,20", "reg_params": "0.05,0.1,0.15,0.2", "max_iters": "10"}
LISTS_GRID = {"ranks": "16,32,64", "reg_params": "0.1,0.3,1", "alphas": "1,2,5", "max_iters": "10"}


def _numbers(text: str, kind, name: str) -> tuple:
    try:
        values = tuple(kind(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise CommandError(f"--{name} must be a comma-separated list of numbers, got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise CommandError(f"--{name} needs at least one non-negative number, got {text!r}")
    return values


class Command(BaseCommand):
    help = (
        "Cross-validate the stars model (RMSE) or, with --lists, the list model (NDCG@10) on Spark; --save stores the "
        "winner as the retrain default."
    )

    def add_arguments(self, parser):
        parser.add_argument("--lists", action="store_true", help="Tune the list model (implicit ALS) instead.")
        parser.add_argument("--ranks", help=f"default {STARS_GRID['ranks']} ({LISTS_GRID['ranks']} with --lists)")
        parser.add_argument(
            "--reg-params",
            dest="reg_params",
            help=f"default {STARS_GRID['reg_params']} ({LISTS_GRID['reg_params']} with --lists)",
        )
        parser.add_argument("--alphas", help=f"--lists only; default {LISTS_GRID['alphas']}")
        parser.add_argument("--max-iters", dest="max_iters", help="default 10")
        parser.add_argument("--folds", type=int, default=3)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--save", action="store_true", help="Store the winner as the retrain's defaults.")
        parser.add_argument("--no-progress", action="store_true", dest="no_progress")

    def handle(self, *args, lists, folds, seed, save, no_progress, **options):
        defaults = LISTS_GRID if lists else STARS_GRID
        if options["alphas"] is not None and not lists:
            raise CommandError("--alphas applies to the list model: add --lists")
        grid = {name: options[name] if options[name] is not None else default for name, default in defaults.items()}
        ranks = _numbers(grid["ranks"], int, "ranks")
        reg_params = _numbers(grid["reg_params"], float, "reg-params")
        max_iters = _numbers(grid["max_iters"], int, "max-iters")
        alphas = _numbers(grid["alphas"], float, "alphas") if lists else (None,)
        if min(ranks) < 1 or min(max_iters) < 1:
            raise CommandError("ranks and max-iters must be at least 1")
        if lists and min(alphas) <= 0:
            raise CommandError("--alphas must be positive")
        if folds < 2:
            raise CommandError("--folds must be at least 2")
        fits = len(ranks) * len(reg_params) * len(max_iters) * len(alphas) * folds
        progress = tqdm(total=fits, unit="fit", disable=no_progress, file=self.stderr._out, desc="tune")

        def on_fit(params, fold, score):
            als = getattr(params, "als", params)
            progress.set_postfix_str(f"rank {als.rank} reg {als.reg_param:g} fold {fold + 1}: {score:.4f}")
            progress.update()

        common = {
            "ranks": ranks,
            "reg_params": reg_params,
            "max_iters": max_iters,
            "folds": folds,
            "seed": seed,
            "on_fit": on_fit,
            "notify": lambda message: progress.write(message, file=self.stderr._out),
        }
        try:
            result = list_tuning_run(alphas=alphas, **common) if lists else tuning_run(**common)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            progress.close()
        summary = self._report_lists(result, save) if lists else self._report_stars(result, save)
        self.stdout.write(summary)

    def _report_stars(self, result, save) -> str:
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
                folds=result["folds"],
            )
            summary += " (saved as the retrain defaults)"
        return summary

    def _report_lists(self, result, save) -> str:
        self.stdout.write(
            f"{'rank':>5} {'regParam':>9} {'alpha':>6} {'maxIter':>8} {'NDCG@10':>8} {'popular':>8}   per fold"
        )
        for row in result["results"]:
            folds_text = " ".join(f"{v:.4f}" for v in row["fold_ndcg"])
            self.stdout.write(
                f"{row['rank']:>5} {row['reg_param']:>9g} {row['alpha']:>6g} {row['max_iter']:>8} "
                f"{row['ndcg']:>8.4f} {row['popularity_ndcg']:>8.4f}   {folds_text}"
            )
        best = result["best"]
        if not math.isfinite(best["ndcg"]):
            raise CommandError("No parameter set could be scored (too few ratings per fold?).")
        summary = (
            f"best lists: rank {best['rank']} regParam {best['reg_param']:g} alpha {best['alpha']:g} "
            f"maxIter {best['max_iter']} CV NDCG@10 {best['ndcg']:.4f} (popularity {best['popularity_ndcg']:.4f})"
        )
        evaluation_report_create(
            kind=EvaluationReport.Kind.TUNE,
            ratings_count=result["ratings"],
            results=result,
            ndcg_at_10=best["ndcg"],
            popularity_ndcg_at_10=best["popularity_ndcg"],
            summary=summary + (" (saved)" if save else ""),
        )
        if save:
            tuned_list_parameters_save(
                rank=best["rank"],
                max_iter=best["max_iter"],
                reg_param=best["reg_param"],
                alpha=best["alpha"],
                cv_ndcg=best["ndcg"],
                results=result["results"],
                ratings_count=result["ratings"],
                folds=result["folds"],
            )
            summary += " (saved as the retrain defaults)"
        return summary
