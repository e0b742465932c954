"""python manage.py evaluate [--seed N] [--ranks 4,8,12] [--k 10] [--compare-proposed]
python manage.py evaluate --cold-start [--seed N] [--holdout-users 0.15]
python manage.py evaluate --cold-items [--seed N] [--holdout-movies 0.1] [--prior-ratings 2] [--validate]
python manage.py evaluate --flavours [--seed 42] [--k 10] [--validation 0.2] [--mmr-lambda L] [--calibration-lambda L]
                                    [--min-ratings N] [--only hidden_gems] [--gem-head-share 0.5]

With --cold-start: new users' onboarding replayed with each strategy (spark_engine.experiments.cold_start_run).
With --cold-items: new movies (spark_engine.item_cold_start): a random share of the movies is held out with all its
ratings; they are ranked by their content (the content map), after 1, 3 and 10 ratings (item fold-in) and fully
trained, against random and genre popularity, with two rows that check the protocol (the fold-in from every received
rating, the ranking by the count of ratings received) and, among all unseen movies, each row's top-10 share of
held-out movies; stored as an EvaluationReport of kind "cold_items". `--validate` runs
the tuning grid on validation movies instead (nothing stored). Its last line reads
`cold items NDCG@<k> content <a> genre popularity <b> 3 ratings <c> fully trained <d>`.
With --flavours: the trade-off table of the list flavours on the test split, their parameters chosen on a validation
split carved out of the training part (spark_engine.experiments.flavour_evaluation_run), stored as an EvaluationReport
of kind "flavours"; its last line names each list's NDCG@k. `--only` measures some flavours (with popularity and top
picks for reference) to iterate on them quickly, and stores nothing. Otherwise:

The tutorial's protocol on the ratings in the database, next to the current retrain defaults (the stars and list
models a retrain would publish: settings ALS_* and LIST_ALS_*, then parameters saved by `tune --save`):
random 60/20/20 split, validation RMSE per rank, test RMSE of the best, and list metrics for the top-k the site would
serve, for the tutorial's approach and for popularity. The last line, for scripts, reads
`test RMSE <x> NDCG@<k> <y> popularity NDCG@<k> <z>` for the current defaults (x: the defaults refitted on
train+validation; y, z: lists judged on the test split).

`--cold-start` measures new users instead (spark_engine.cold_start): held-out users go through a simulated
onboarding with each strategy, and the lists and stars after their ten ratings are judged on the rest of their
ratings. Its last line reads `cold start <best strategy> NDCG@<k> <y> popularity NDCG@<k> <z>`.
"""

from __future__ import annotations

import math
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommendations import flavours
from recommendations.models import EvaluationReport
from recommendations.services import evaluation_report_create
from spark_engine.experiments import cold_items_run, cold_start_run, evaluation_run, flavour_evaluation_run
from spark_engine.item_cold_start import ALL_RECEIVED, RECEIVED_COUNT


class Command(BaseCommand):
    help = (
        "Evaluate recommendation quality on the ratings in the database: the tutorial's protocol (random 60/20/20 "
        "split, ALS ranks 4/8/12) next to the current defaults, for predicted ratings (RMSE) and lists "
        "(precision/recall/NDCG/MAP@k, coverage). Records the figures for the staff page."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--seed",
            type=int,
            default=None,
            help="Seed of the random split and of ALS (default 0; 42 with --flavours, as the retrain's holdout).",
        )
        parser.add_argument(
            "--ranks", default="4,8,12", help="Comma-separated ALS ranks of the tutorial's search (default 4,8,12)."
        )
        parser.add_argument("--k", type=int, default=10, help="List length for the ranking metrics (default 10).")
        parser.add_argument(
            "--compare-proposed",
            action="store_true",
            help="Also evaluate the proposed configuration (biased ALS for stars, implicit ALS for lists).",
        )
        parser.add_argument(
            "--time-aware",
            action="store_true",
            help="Also run the protocol split by time: each user's latest 20%% of ratings held out for test, the 20%% "
            "before them for validation (the future a live service faces); both protocols' RMSE and NDCG@k side by "
            "side.",
        )
        parser.add_argument(
            "--cold-start",
            action="store_true",
            help="Measure new users instead: hold out a share of the users, fit without them, replay the "
            "onboarding with each strategy and judge the lists (NDCG@k) and stars (RMSE) after ten ratings.",
        )
        parser.add_argument(
            "--holdout-users",
            type=float,
            default=0.15,
            help="With --cold-start: share of the users held out of training (default 0.15).",
        )

        items = parser.add_argument_group("--cold-items: new movies, from their content to fully trained")
        items.add_argument(
            "--cold-items",
            action="store_true",
            help="Measure new movies instead: hold out a random share of the movies with all their ratings, rank "
            "them by the content map, after 1, 3 and 10 ratings (item fold-in) and fully trained (NDCG@k, recall@k "
            "against random and genre popularity); recorded for the staff page.",
        )
        items.add_argument(
            "--holdout-movies", type=float, default=0.1, help="Share of the movies held out (default 0.1)."
        )
        items.add_argument(
            "--prior-ratings",
            type=float,
            default=2.0,
            help="How many ratings the content prior weighs like in the item fold-in (default 2, as "
            "ITEM_FOLDIN_PRIOR_RATINGS).",
        )
        items.add_argument(
            "--validate",
            action="store_true",
            help="Tune instead: the features and the prior's weight on validation movies (the reported split's "
            "movies left out altogether); prints the grid, stores nothing.",
        )

        flavour = parser.add_argument_group("--flavours: the trade-off table of the list flavours")
        flavour.add_argument(
            "--flavours",
            action="store_true",
            help="Instead of the protocol: every list flavour (top picks, something different, hidden gems, your "
            "genre mix) and popularity on the retrain's 80/20 holdout split (seed 42 unless --seed), with NDCG@k and "
            "the beyond-accuracy metrics; recorded for the staff page.",
        )
        flavour.add_argument(
            "--validation",
            type=float,
            default=0.2,
            help="Share of the training part held out to choose each flavour's parameters (default 0.2; 0: no "
            "search, the values in recommendations/flavours.py).",
        )
        flavour.add_argument(
            "--mmr-lambda", type=float, default=None, help="λ of something different (MMR), instead of searching it."
        )
        flavour.add_argument(
            "--calibration-lambda",
            type=float,
            default=None,
            help="λ of your genre mix (calibration), instead of searching it.",
        )
        flavour.add_argument(
            "--min-ratings", type=int, default=0, help="The page's minimum-ratings filter (default 0: none)."
        )
        flavour.add_argument(
            "--only",
            default=None,
            help="Comma-separated flavours to search and measure alone (e.g. hidden_gems), with popularity and top "
            "picks for reference; quicker, and nothing is stored (the staff page keeps the last full table).",
        )
        flavour.add_argument(
            "--gem-head-share",
            type=float,
            default=None,
            help="Hidden gems lie below the movie at which the trusted movies' ratings, most-rated first, reach this "
            "share of their total (default 0.5: the median by rating mass); given, not searched.",
        )

    def handle(
        self,
        *args,
        seed: int | None,
        ranks: str,
        k: int,
        compare_proposed: bool,
        time_aware: bool = False,
        cold_start: bool = False,
        holdout_users: float = 0.15,
        **options,
    ):
        if options.get("flavours"):
            return self._flavours(seed=seed, k=k, **options)
        if options.get("cold_items"):
            return self._cold_items(seed=0 if seed is None else seed, k=k, **options)
        seed = 0 if seed is None else seed
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

        if cold_start:
            return self._cold_start(seed=seed, k=k, fraction=holdout_users, on_step=on_step)
        try:
            result = evaluation_run(
                seed=seed,
                ranks=rank_list,
                k=k,
                compare_proposed=compare_proposed,
                time_aware=time_aware,
                on_step=on_step,
            )
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

    def _cold_start(self, *, seed: int, k: int, fraction: float, on_step) -> None:
        if not 0.0 < fraction < 1.0:
            raise CommandError("--holdout-users must be between 0 and 1")
        try:
            result = cold_start_run(seed=seed, fraction=fraction, k=k, on_step=on_step)
        except ValueError as exc:
            raise CommandError(str(exc))
        lines = format_cold_start_report(result, k)
        for line in lines:
            self.stdout.write(line)
        best = result["best"]
        entry = result["strategies"][best]
        evaluation_report_create(
            kind=EvaluationReport.Kind.COLD_START,
            ratings_count=result["ratings"],
            results=result,
            rmse=entry["rmse"],
            ndcg_at_10=entry.get("ndcg_at_10"),
            popularity_ndcg_at_10=result["popularity"].get("ndcg_at_10"),
            summary=lines[-1],
        )

    def _cold_items(self, *, seed: int, k: int, holdout_movies: float, prior_ratings: float, validate: bool, **_):
        if k < 1:
            raise CommandError("--k must be positive")
        if not 0.0 < holdout_movies < 0.5:
            raise CommandError("--holdout-movies must be between 0 and 0.5")
        if prior_ratings < 0:
            raise CommandError("--prior-ratings must be 0 or more")

        def on_step(message: str) -> None:
            sys.stderr.write(f"[evaluate --cold-items] {message}\n")
            sys.stderr.flush()

        try:
            result = cold_items_run(
                seed=seed, fraction=holdout_movies, k=k, prior_ratings=prior_ratings, validate=validate, on_step=on_step
            )
        except ValueError as exc:
            raise CommandError(str(exc))
        if validate:
            for line in format_cold_items_validation(result, k):
                self.stdout.write(line)
            return
        lines = format_cold_items_report(result, k)
        for line in lines:
            self.stdout.write(line)
        table = result["heldout"]
        evaluation_report_create(
            kind=EvaluationReport.Kind.COLD_ITEMS,
            ratings_count=result["ratings"],
            results=result,
            ndcg_at_10=table["content (0 ratings)"].get(f"ndcg_at_{k}"),
            popularity_ndcg_at_10=table["genre popularity"].get(f"ndcg_at_{k}"),
            summary=lines[-1],
        )

    def _flavours(
        self,
        *,
        seed: int | None,
        k: int,
        mmr_lambda: float | None,
        calibration_lambda: float | None,
        validation: float,
        only: str | None = None,
        gem_head_share: float | None = None,
        **options,
    ):
        if k < 1:
            raise CommandError("--k must be positive")
        fixed = {
            name: value
            for name, value in (("mmr_lambda", mmr_lambda), ("calibration_lambda", calibration_lambda))
            if value is not None
        }
        if not all(0.0 <= value <= 1.0 for value in fixed.values()):
            raise CommandError("the lambdas must be between 0 and 1")
        if not 0.0 <= validation < 1.0:
            raise CommandError("--validation must be at least 0 and below 1")
        if gem_head_share is not None:
            if not 0.0 < gem_head_share <= 1.0:
                raise CommandError("--gem-head-share must be above 0 and at most 1")
            fixed["gem_head_share"] = gem_head_share
        wanted = None
        if only is not None:
            wanted = tuple(name.strip() for name in only.split(",") if name.strip())
            unknown = [name for name in wanted if name not in flavours.FLAVOURS]
            if unknown or not wanted:
                raise CommandError(f"--only takes flavours among {', '.join(flavours.FLAVOURS)}, got {only!r}")
            wanted = tuple(dict.fromkeys((flavours.TOP_PICKS, *wanted)))

        def on_step(message: str) -> None:
            sys.stderr.write(f"[evaluate --flavours] {message}\n")
            sys.stderr.flush()

        try:
            result = flavour_evaluation_run(
                **({} if seed is None else {"seed": seed}),
                validation_fraction=validation,
                k=k,
                min_ratings=max(options["min_ratings"], 0),
                fixed=fixed,
                only=wanted,
                notify=on_step,
            )
        except ValueError as exc:
            raise CommandError(str(exc))
        lines = format_flavours_report(result, k)
        for line in lines:
            self.stdout.write(line)
        if wanted is not None:
            self.stdout.write("(--only: not stored; the staff page keeps the last full table)")
            return
        table = result["rows"]
        evaluation_report_create(
            kind=EvaluationReport.Kind.FLAVOURS,
            ratings_count=result["split"]["ratings"],
            results=result,
            ndcg_at_10=table[flavours.TOP_PICKS].get("ndcg_at_10"),
            popularity_ndcg_at_10=table["popularity"].get("ndcg_at_10"),
            summary=lines[-1][:300],
        )


def format_cold_items_report(result: dict[str, Any], k: int) -> list[str]:
    """The new-movie table: each row's recall and NDCG at k among the held-out movies, its NDCG as a multiple of
    genre popularity's and as a share of fully trained, and among all unseen movies; the last line for scripts."""
    heldout, unseen = result["heldout"], result["all_unseen"]
    genre = heldout["genre popularity"][f"ndcg_at_{k}"]
    full = heldout["fully trained"][f"ndcg_at_{k}"]
    fit = result["map"]
    lines = [
        f"{result['ratings']:,} ratings; {result['heldout_movies']:,} held-out movies "
        f"({result['holdout_fraction']:.0%}, seed {result['seed']}), each with half its raters as the ratings it "
        "receives, half to test; "
        f"{result['users']:,} users with a test rating >= 4 ({result['relevant_pairs']:,} pairs)",
        f"content map: {fit.get('movies_learned')} movies, {fit.get('features')} features, ridge {fit.get('ridge')},"
        f" held-out R² {fit.get('list_r2')}; item fold-in prior weighs like {result['prior_ratings']:g} ratings",
        "",
        f"{'':<29}{'among held-out movies':^42}{'among all unseen':^34}",
        f"{'ranked by':<29}{f'recall@{k}':>10}{f'NDCG@{k}':>10}{'x genre pop':>12}{'/ trained':>10}"
        f"{f'recall@{k}':>10}{f'NDCG@{k}':>10}{f'top-{k} share':>14}",
    ]
    for name, entry in heldout.items():
        ndcg = entry[f"ndcg_at_{k}"]
        other = unseen.get(name) or (unseen.get("popularity") if name == "genre popularity" else None) or {}
        lines.append(
            f"{name:<29}{_num(entry[f'recall_at_{k}']):>10}{_num(ndcg):>10}"
            f"{_ratio(ndcg, genre):>12}{_ratio(ndcg, full):>10}"
            f"{_num(other.get(f'recall_at_{k}')):>10}{_num(other.get(f'ndcg_at_{k}')):>10}"
            f"{_num(other.get('exposure')):>14}"
        )
    three = heldout.get("content + 3 ratings", {}).get(f"ndcg_at_{k}")
    stars = result.get("stars") or {}
    if stars:
        lines += ["", f"stars model, RMSE on the held-out movies' {stars['pairs']:,} test ratings:"]
        lines += [f"  {name:<26}{_num(value)}" for name, value in stars.items() if name != "pairs"]
    lines += [
        "(among all unseen, the genre popularity row is popularity: training counts, a held-out movie its genres';",
        f" top-{k} share: of the top-{k} slots, the share held by held-out movies. Only they can be relevant there, so"
        " NDCG rises with any boost: read it beside the share, against fully trained's)",
        f"('{ALL_RECEIVED}': every received rating, no prior: the retrain's item step on the base fit's users; it"
        f" should match fully trained. '{RECEIVED_COUNT}': the movies ranked by how many ratings they went on to"
        " receive, known only afterwards: the part of fully trained's quality that is popularity)",
        "",
        f"cold items NDCG@{k} content {_num(heldout['content (0 ratings)'][f'ndcg_at_{k}'])} genre popularity "
        f"{_num(genre)} 3 ratings {_num(three)} fully trained {_num(full)}",
    ]
    return lines


def format_cold_items_validation(result: dict[str, Any], k: int) -> list[str]:
    lines = [
        f"validation: {result['heldout_movies']:,} movies other than the reported split's (seed {result['seed']})",
        f"{'variant':<22}{'prior':>7}{'R²':>8}{f'content NDCG@{k}':>18}{'x genre pop':>12}{'3 ratings':>11}"
        f"{'/ trained':>10}",
    ]
    for row in result["variants"]:
        lines.append(
            f"{row['variant']:<22}{row['prior_ratings']:>7g}{_num(row['list_r2']):>8}{_num(row['content']):>18}"
            f"{_ratio(row['content'], row['genre_popularity']):>12}{_num(row['three']):>11}"
            f"{_ratio(row['three'], row['fully_trained']):>10}"
        )
    return lines


def _ratio(value: float | None, reference: float | None) -> str:
    if value is None or reference is None or not reference or math.isnan(value) or math.isnan(reference):
        return "–"
    return f"{value / reference:.2f}"


def format_cold_start_report(result: dict[str, Any], k: int) -> list[str]:
    """The cold-start table (one row per onboarding strategy); sets result["best"] (highest NDCG@k).
    The last line is the scripts' summary."""
    strategies = result["strategies"]
    best = max(strategies, key=lambda name: _or_minus_inf(strategies[name][f"ndcg_at_{k}"]))
    result["best"] = best
    lines = [
        f"{result['ratings']:,} ratings; {result['users']:,} held-out users ({result['holdout_fraction']:.0%}, seed "
        f"{result['seed']}), models fitted on the other {result['train_users']:,} "
        f"({result['train_ratings']:,} ratings)",
        "onboarding: pages of 10, each user rates those they rated in truth, until 10 ratings or 60 shown",
        "",
        f"{'strategy':<18}{'ratings':>8}{'shown':>7}{'got 10':>8}{f'NDCG@{k}':>9}{'x popularity':>13}"
        f"{f'P@{k}':>7}{'RMSE':>8}",
    ]
    for name, entry in strategies.items():
        lines.append(
            f"{name:<18}{entry['ratings_given']:>8.1f}{entry['shown']:>7.1f}{entry['reached_target']:>8.0%}"
            f"{_num(entry[f'ndcg_at_{k}']):>9}{entry['ndcg_vs_popularity']:>13.2f}"
            f"{_num(entry[f'precision_at_{k}']):>7}{_num(entry['rmse']):>8}"
        )
    popularity = result["popularity"]
    lines.append(
        f"{'popularity':<18}{'':>8}{'':>7}{'':>8}{_num(popularity[f'ndcg_at_{k}']):>9}{1:>13.2f}"
        f"{_num(popularity[f'precision_at_{k}']):>7}{_num(result['rmse_no_ratings']):>8}  (stars: no ratings)"
    )
    entry = strategies[best]
    lines += [
        "",
        f"cold start {best} NDCG@{k} {_num(entry[f'ndcg_at_{k}'])} popularity NDCG@{k} "
        f"{_num(popularity[f'ndcg_at_{k}'])} RMSE {_num(entry['rmse'])}",
    ]
    return lines


def _or_minus_inf(value: float | None) -> float:
    return -math.inf if value is None or math.isnan(value) else value


def format_flavours_report(result: dict[str, Any], k: int) -> list[str]:
    """The printed trade-off table (the test split), after what the validation split chose; the last line is the
    scripts' summary."""
    split, parameters = result["split"], result["parameters"]
    headings, rows = flavours.trade_off_rows(result, k)
    widths = [22] + [max(len(h), 7) + 2 for h in headings[1:]]
    lines = [
        f"{split['ratings']:,} ratings; random holdout (seed {split['seed']}, {split['holdout_fraction']:.0%} "
        "held out); "
        f"MMR λ {parameters['mmr_lambda']:g} novelty {parameters['mmr_novelty']:g} pool "
        f"{parameters['different_pool']}, hidden gems discount {parameters['gem_discount']:g} neighbour weight "
        f"{parameters['gem_neighbour_weight']:g} head share {parameters['gem_head_share']:g}, calibration λ "
        f"{parameters['calibration_lambda']:g}, min ratings {parameters['min_ratings']}",
    ]
    validation = result.get("validation")
    if validation:
        lines.append(
            f"chosen on a validation split ({validation['split']['holdout_fraction']:.0%} of the training part, "
            f"seed {validation['split']['seed']}): most coverage (genre mix: least miscalibration) with NDCG@{k} ≥ "
            f"{flavours.NDCG_GOAL:g} × popularity there, else the highest NDCG@{k}"
        )
        for flavour, entry in validation["search"].items():
            trials = entry["trials"]
            chosen = next(t for t in trials if t["setting"] == entry["chosen"])
            popularity = entry[f"popularity_ndcg_at_{k}"]
            ratio = chosen[f"ndcg_at_{k}"] / popularity if popularity else math.nan
            setting = ", ".join(f"{name} {value:g}" for name, value in entry["chosen"].items())
            lines.append(
                f"  {flavours.LABELS[flavour]}: {setting} of {len(trials)} (validation NDCG@{k} "
                f"{_num(chosen[f'ndcg_at_{k}'])} = {ratio:.2f} × popularity, coverage "
                f"{_num(chosen[f'coverage_at_{k}'])}{'' if entry['meets_ndcg_goal'] else '; none met the NDCG goal'})"
            )
    else:
        lines.append("no validation split: the parameters as given")
    lines += [
        "",
        "".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(headings, widths, strict=True))),
    ]
    for cells in rows:
        lines.append(
            "".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        )
    table = result["rows"]
    lines += [
        "",
        " ".join(f"{name} NDCG@{k} {_num(metrics.get(f'ndcg_at_{k}'))}" for name, metrics in table.items()),
    ]
    return lines


def format_report(result: dict[str, Any], k: int) -> list[str]:
    """The printed table; the last line is the scripts' summary for the defaults."""
    split, tutorial, configs = result["split"], result["tutorial"], result["configs"]
    protocol = "split by time within each user" if split.get("protocol") == "time" else "random split"
    lines = [
        f"{result['ratings']:,} ratings; {protocol} (seed {split['seed']}): {split['train']:,} train, "
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
        blend = entry.get("stars_blend")
        if blend is not None:
            label = (
                f"  of which the list-score blend (weight {blend['list_weight']:.3g}, offset {blend['offset']:.3g})"
                if blend["kept"]
                else "  list-score blend not kept (no gain beyond noise on validation)"
            )
            lines.append(f"{label:<60}{_num(blend['rmse']):>12}")
            lines.append(
                f"{'  the stars model alone':<60}{_num(blend['rmse_before']):>12}{'':>10}"
                f"{_num(entry['test_rmse_refit_unblended']):>13}"
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
    lines += [
        "",
        f"{f'Beyond accuracy (top-{k})':<60}{'novelty':>9}{'diversity':>10}{'personal.':>10}{'pop. pct':>9}",
    ]
    for label, metrics in rows:
        novelty, diversity = metrics.get(f"novelty_at_{k}"), metrics.get(f"diversity_at_{k}")
        personal, percentile = metrics.get(f"personalisation_at_{k}"), metrics.get(f"popularity_percentile_at_{k}")
        lines.append(
            f"{label:<60}{_num(novelty, 2):>9}{_num(diversity):>10}{_num(personal):>10}{_num(percentile, 1):>9}"
        )
    lines.append(
        "novelty: mean −log2 of a listed movie's share of raters (bits); diversity: 1 − mean pairwise cosine of the "
        "list's item factors; personal.: 1 − mean overlap of two users' lists; pop. pct: mean popularity percentile"
    )
    defaults = configs["defaults"]
    timed = result.get("time_aware")
    if timed:
        lines += [
            "",
            "Time-aware protocol: each user's ratings in time order, the latest 20% test, the 20% before validation",
            "",
            *format_report({**timed, "ratings": result["ratings"]}, k)[:-2],
            "",
            f"{'Both protocols, the defaults (what a retrain publishes)':<60}{'test RMSE':>10}{f'NDCG@{k}':>9}"
            f"{'popularity':>11}{'x popularity':>13}",
        ]
        for label, entry in (("random 60/20/20", result), ("time-aware (latest 20% of each user)", timed)):
            ndcg = entry["configs"]["defaults"]["lists"][f"ndcg_at_{k}"]
            popularity = entry["popularity"][f"ndcg_at_{k}"]
            ratio = ndcg / popularity if popularity else math.nan
            lines.append(
                f"{label:<60}{_num(entry['configs']['defaults']['test_rmse_refit']):>10}{_num(ndcg):>9}"
                f"{_num(popularity):>11}{_num(ratio, 2):>13}"
            )
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
    search = entry.get("reg_search")
    if search:
        label += " chosen"
    if config["lists"]:
        lists = config["lists"]["als"]
        label += f"; lists implicit rank {lists['rank']}"
    return label + ")"


def _num(value: float | None, digits: int = 4) -> str:
    return "nan" if value is None or math.isnan(value) else f"{value:.{digits}f}"
