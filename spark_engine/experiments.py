"""What `manage.py evaluate` and `manage.py tune` run: a fresh export of every rating, then
`metrics.evaluate_protocol` or `tuning.cross_validate[_lists]` on it in Spark; plain dicts back, nothing stored.

The Django side of those commands (settings, the export); the measuring itself is pure Spark. Kept apart from
the commands so a task or a bench can run it too.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

from catalog.models import Movie
from ratings.export import ratings_export_to_parquet
from recommendations import flavours, foldin, onboarding
from recommendations.retrain import RetrainOptions
from recommendations.selectors import reg_param_last_chosen
from spark_engine import cold_start, fitting, item_cold_start, metrics, stages, tuning
from spark_engine.frames import collect_factors
from spark_engine.pipeline import spark_config_from_settings


@contextmanager
def exported_ratings(*, prefix: str, notify=None) -> Iterator[tuple[Any, Any, int]]:
    """(spark, ratings DataFrame, row count) over a fresh export of every rating.

    The export lives in a temporary folder under TRAINING_RUNS_DIR (readable by every Spark node, like a
    run's) and is removed on exit. Raises ValueError when there are no ratings.
    """
    notify = notify or (lambda message: None)
    runs_dir = Path(settings.TRAINING_RUNS_DIR)
    runs_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=runs_dir) as folder:
        started = time.perf_counter()
        export = ratings_export_to_parquet(path=Path(folder) / "ratings.parquet")
        notify(f"export: {export.rows:,} ratings in {time.perf_counter() - started:.1f}s")
        if export.rows == 0:
            raise ValueError("There are no ratings; import MovieLens data first.")
        spark = stages.spark_for_run(
            spark_config_from_settings(checkpoint_dir=Path(folder) / "checkpoints", ratings_count=export.rows)
        )
        yield spark, stages.read_ratings(spark, export.path), export.rows


def tuning_run(
    *,
    ranks: tuple[int, ...],
    reg_params: tuple[float, ...],
    max_iters: tuple[int, ...],
    folds: int = 3,
    seed: int = 42,
    on_fit=None,
    notify=None,
) -> dict[str, Any]:
    """Cross-validate the stars model (biased ALS with the run's bias regularisation) over every (rank, regParam,
    maxIter) of the grid on every rating; return the table and winner.

    Out: {"results": [{"rank", "reg_param", "max_iter", "rmse", "fold_rmse", "seconds"}, ...] sorted best first,
    "best": the first of them, "folds", "ratings"}. Nothing is stored (see services.tuned_parameters_save).
    """
    with exported_ratings(prefix="tune-", notify=notify) as (spark, ratings, rows):
        options = RetrainOptions.from_settings(seed=seed)
        base = stages.als_params(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        grid = tuning.parameter_grid(base, ranks=ranks, reg_params=reg_params, max_iters=max_iters)
        results = tuning.cross_validate(
            ratings, grid, folds=folds, seed=seed, biases=(options.bias_reg_user, options.bias_reg_item), on_fit=on_fit
        )
    table = [result.to_dict() for result in results]
    return {"results": table, "best": table[0], "folds": folds, "ratings": rows}


def list_tuning_run(
    *,
    ranks: tuple[int, ...],
    reg_params: tuple[float, ...],
    alphas: tuple[float, ...],
    max_iters: tuple[int, ...],
    folds: int = 3,
    seed: int = 42,
    on_fit=None,
    notify=None,
) -> dict[str, Any]:
    """Cross-validate the list model (implicit ALS on rating - the run's centre) over every (rank, regParam, alpha,
    maxIter) on every rating, scored by NDCG@10; return the table and winner.

    Out: {"results": [{"rank", "reg_param", "alpha", "max_iter", "ndcg", "fold_ndcg", "popularity_ndcg",
    "seconds"}, ...] sorted best first, "best", "folds", "ratings"}. Nothing is stored.
    """
    with exported_ratings(prefix="tune-lists-", notify=notify) as (spark, ratings, rows):
        users, movies = stages.users_and_movies(ratings)
        too_large = [rank for rank in ranks if stages.list_rank_for(rank, users=users, movies=movies) != rank]
        if too_large:
            raise ValueError(
                f"list rank {max(too_large)} is too large for {users} users x {movies} movies: at most "
                f"{stages.list_rank_for(max(too_large), users=users, movies=movies)} here (half the smaller side)"
            )
        options = RetrainOptions.from_settings(seed=seed)
        base = stages.model_config(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        grid = tuning.list_parameter_grid(
            base.lists, ranks=ranks, reg_params=reg_params, alphas=alphas, max_iters=max_iters
        )
        results = tuning.cross_validate_lists(ratings, grid, folds=folds, seed=seed, on_fit=on_fit)
    table = [result.to_dict() for result in results]
    return {"results": table, "best": table[0], "folds": folds, "ratings": rows}


def evaluation_run(
    *,
    seed: int = 0,
    ranks: tuple[int, ...] = (4, 8, 12),
    k: int = 10,
    compare_proposed: bool = False,
    time_aware: bool = False,
    on_step=None,
) -> dict[str, Any]:
    """Export every rating, run `metrics.evaluate_protocol` on it in Spark and return its plain dict; with
    `time_aware`, also the same protocol split by time within each user (`metrics.split_three_by_time`), under
    "time_aware".

    Configurations: "defaults" (what a retrain trains with today's settings) and, with `compare_proposed`,
    "proposed" (`fitting.PROPOSED`). The export lives in a temporary folder under TRAINING_RUNS_DIR, removed
    afterwards. Nothing is stored. Raises ValueError when there are too few ratings to split.
    """
    notify = on_step or (lambda message: None)
    with exported_ratings(prefix="evaluate-", notify=notify) as (spark, ratings, rows):
        # "defaults": exactly the two models a retrain would publish now (settings, then tuned parameters, and
        # the retrain's cap on the list rank for tiny catalogues).
        options, _ = stages.fit_list_rank_to_data(RetrainOptions.from_settings(seed=seed), ratings)
        defaults = stages.model_config(
            options,
            ratings_count=rows,
            parallelism=spark.sparkContext.defaultParallelism,
        )
        blocks = defaults.ratings.num_blocks
        configs = {"defaults": defaults}
        # As a retrain, "defaults" chooses its stars regParam on the protocol's validation part, from where the
        # next retrain's search would start.
        reg_starts = {}
        if options.reg_search:
            reg_starts["defaults"] = reg_param_last_chosen() or options.reg_param
        if compare_proposed:
            configs["proposed"] = fitting.with_run_options(fitting.PROPOSED, seed=seed, num_blocks=blocks)
        # ...and blends the list score into its stars as a retrain does (chosen on validation).
        blend = ("defaults",) if options.stars_blend else ()
        # ...and its rank within the search's budget, unless the rank was given (tune --save).
        rank_search = ("defaults",) if options.reg_search and options.rank_search else ()
        result = metrics.evaluate_protocol(
            ratings,
            configs,
            seed=seed,
            ranks=ranks,
            k=k,
            num_blocks=blocks,
            on_step=notify,
            reg_starts=reg_starts,
            blend=blend,
            rank_search=rank_search,
        )
        if time_aware:
            result["time_aware"] = metrics.evaluate_protocol(
                ratings,
                configs,
                seed=seed,
                ranks=ranks,
                k=k,
                num_blocks=blocks,
                on_step=lambda message: notify(f"time-aware: {message}"),
                protocol="time",
                reg_starts=reg_starts,
                blend=blend,
                rank_search=rank_search,
            )
    result["ratings"] = rows
    return result


def cold_start_run(
    *,
    seed: int = 0,
    fraction: float = cold_start.HOLDOUT_USER_FRACTION,
    strategies: tuple[str, ...] = onboarding.STRATEGIES,
    k: int = 10,
    on_step=None,
) -> dict[str, Any]:
    """Export every rating, fit the two models a retrain would publish without a held-out `fraction` of the users
    (`cold_start.fit_without_users`), then replay the onboarding of each held-out user with every strategy
    (`cold_start.simulate`) and return its plain dict with "ratings", "train_users", "train_ratings",
    "holdout_fraction" and "seed" added. Nothing is stored. Raises ValueError when there is too little data.
    """
    notify = on_step or (lambda message: None)
    with exported_ratings(prefix="cold-start-", notify=notify) as (spark, ratings, rows):
        options, _ = stages.fit_list_rank_to_data(RetrainOptions.from_settings(seed=seed), ratings)
        config = stages.model_config(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        started = time.perf_counter()
        data = cold_start.fit_without_users(
            ratings,
            config,
            fraction=fraction,
            seed=seed,
            biases_on_driver=rows <= options.biases_driver_max_ratings,
        )
        notify(
            f"fit without {len(data.held_out.ratings):,} held-out users: {data.train_ratings:,} training ratings "
            f"in {time.perf_counter() - started:.1f}s"
        )
    genres, years = movie_genres_and_years(movie_ids=data.movie_ids)
    pool = cold_start.build_pool(data, genres=genres, years=years)
    started = time.perf_counter()
    result = cold_start.simulate(data, pool, strategies=strategies, k=k, on_strategy=lambda s: notify(f"simulate {s}"))
    notify(f"simulation in {time.perf_counter() - started:.1f}s")
    return {
        **result,
        "ratings": rows,
        "train_users": data.train_users,
        "train_ratings": data.train_ratings,
        "holdout_fraction": fraction,
        "seed": seed,
        "k": k,
    }


def movie_genres_and_years(*, movie_ids) -> tuple[dict[int, frozenset[int]], dict[int, int | None]]:
    """Genre ids and year of each of `movie_ids` (catalogue metadata, for the "varied" strategy)."""
    ids = [int(m) for m in movie_ids]
    genres: dict[int, set[int]] = {}
    for movie_id, genre_id in Movie.genres.through.objects.filter(movie_id__in=ids).values_list("movie_id", "genre_id"):
        genres.setdefault(movie_id, set()).add(genre_id)
    years = dict(Movie.objects.filter(pk__in=ids).values_list("pk", "year"))
    return {m: frozenset(g) for m, g in genres.items()}, years


@dataclass(frozen=True)
class FlavourHoldout:
    """Both models fitted on the training part of a holdout split, on the driver, for `flavour_table`."""

    factors: foldin.ItemFactors
    stars_model: foldin.StarsModel
    train_users: np.ndarray
    train_movies: np.ndarray
    train_values: np.ndarray
    rel_users: np.ndarray  # held-out pairs rated 4 or more
    rel_movies: np.ndarray
    genres: foldin.GenreRows
    split: dict


def flavour_holdout_fit(
    *, seed: int = 42, fraction: float = 0.2, validation_fraction: float = 0.2, notify=None
) -> tuple[FlavourHoldout, FlavourHoldout | None]:
    """(validation, test) holdouts: hold out a random `fraction` of every rating (the retrain's split for the same
    `seed`) as the test part; carve a random `validation_fraction` of the remaining training part out as the
    validation part (never touching the test part). Both models are fitted as a retrain would (settings, then tuned
    parameters) twice: on the training part minus validation (the validation holdout, where the flavours'
    parameters are chosen) and on the whole training part (the test holdout, reported once). Brought to the
    driver. Validation is None when `validation_fraction` is 0. Raises ValueError when there are no ratings."""
    notify = notify or (lambda message: None)
    with exported_ratings(prefix="evaluate-flavours-", notify=notify) as (spark, ratings, rows):
        options, _ = stages.fit_list_rank_to_data(RetrainOptions.from_settings(seed=seed), ratings)
        config = stages.model_config(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        train, test = metrics.split_holdout(ratings.select("user_id", "movie_id", "rating"), fraction, seed)
        train, test = train.cache(), test.cache()
        validation_holdout = None
        if validation_fraction > 0:
            # A different seed than the test split's: the same one would pick the same share of rows again.
            fit_part, validation = metrics.split_holdout(train, validation_fraction, seed + 1)
            validation_holdout = _holdout_fitted(
                fit_part,
                validation,
                config,
                split={
                    "seed": seed + 1,
                    "holdout_fraction": validation_fraction,
                    "ratings": rows,
                    "part": "validation",
                },
                notify=notify,
            )
        test_holdout = _holdout_fitted(
            train,
            test,
            config,
            split={"seed": seed, "holdout_fraction": fraction, "ratings": rows, "part": "test"},
            notify=notify,
        )
        train.unpersist()
        test.unpersist()
    return validation_holdout, test_holdout


def _holdout_fitted(train, test, config, *, split: dict, notify) -> FlavourHoldout:
    """Both models fitted on `train` and brought to the driver with the ratings of 4+ in `test` (Spark)."""
    train = train.cache()
    started = time.perf_counter()
    models = fitting.fit_models(train, config)
    item_ids, item_matrix = collect_factors(models.list_items, "list item factors")
    terms = fitting.stars_item_terms(models.stars).orderBy("movie_id").toArrow()
    train_table = train.toArrow()
    test_table = test.where(test.rating >= 4.0).select("user_id", "movie_id").toArrow()
    global_mean = float(models.stars.global_mean)
    train.unpersist()
    notify(f"{split['part']}: fit on {train_table.num_rows:,} training ratings in {time.perf_counter() - started:.1f}s")
    factors = foldin.ItemFactors(
        run_id=0,
        movie_ids=item_ids,
        matrix=np.ascontiguousarray(item_matrix, dtype=np.float32),
        reg_param=config.lists.als.reg_param,
        implicit_prefs=True,
        alpha=config.lists.als.alpha,
        center=config.lists.center,
    )
    stars_features = terms.column("features").combine_chunks()
    stars_model = foldin.StarsModel(
        run_id=0,
        global_mean=global_mean,
        movie_ids=terms.column("movie_id").to_numpy().astype(np.int64),
        biases=terms.column("bias").to_numpy().astype(np.float64),
        matrix=stars_features.flatten().to_numpy().astype(np.float32).reshape(terms.num_rows, -1),
        reg_param=config.ratings.reg_param,
        reg_user=config.reg_user,
    )
    return FlavourHoldout(
        factors=factors,
        stars_model=stars_model,
        train_users=train_table.column("user_id").to_numpy().astype(np.int64),
        train_movies=train_table.column("movie_id").to_numpy().astype(np.int64),
        train_values=train_table.column("rating").to_numpy().astype(np.float64),
        rel_users=test_table.column("user_id").to_numpy().astype(np.int64),
        rel_movies=test_table.column("movie_id").to_numpy().astype(np.int64),
        genres=foldin.genre_rows_load(factors),
        split={**split, "train": train_table.num_rows},
    )


def flavour_table(
    holdout: FlavourHoldout,
    *,
    k: int = 10,
    min_ratings: int = 0,
    seed: int = 42,
    only: tuple[str, ...] | None = None,
    gem_baseline: bool | None = None,
    **tuning,
) -> dict[str, dict[str, float]]:
    """Each flavour's top `k` (and popularity's) for every held-out user with a rating of 4 or more, scored.

    Users are folded in from their training ratings with the site's code (recommendations.foldin) and get each
    flavour from recommendations.flavours.flavour_list (`tuning`: its keyword arguments, e.g. mmr_lambda); hidden
    gems take counts and median from the training part, `min_ratings` is the page's filter (0: none). A user the
    list model cannot rank gets popular movies, as on the site. Scored by `metrics.ranking_metrics_of_arrays` and
    `metrics.beyond_accuracy_of_arrays` (diversity in the list model's item factors, genres from the catalogue).
    Also "miscalibration_at_<k>": the mean KL divergence of the person's genre distribution from the list's (as
    genre_mix smooths it), over the users the list model ranks. Baselines: popularity, and popular_gems (the most-rated
    of the hidden gems' candidates). Out: {list name: metrics}, the baselines first, then the flavours, plus
    "popular_fallbacks" (users given popular movies) under popularity. `only`: these flavours (and popularity)
    alone, for the search on the validation split; popular_gems is computed when `gem_baseline` is true (default:
    without `only`).
    """
    factors, genres = holdout.factors, holdout.genres
    item_ids = factors.movie_ids
    pop_ids, pop_counts = np.unique(holdout.train_movies, return_counts=True)
    counts = np.zeros(item_ids.size, dtype=np.int64)
    rows_of, found = factors.rows_of(pop_ids)
    counts[rows_of[found]] = pop_counts[found]
    mask = counts >= min_ratings if min_ratings > 0 else None
    allowed = pop_ids if mask is None else np.union1d(item_ids[mask], np.setdiff1d(pop_ids, item_ids))
    popular_order = pop_ids[np.lexsort((pop_ids, -pop_counts))]
    popular_order = popular_order[np.isin(popular_order, allowed)]
    # The fair baseline for hidden gems: the most-rated of the same gems.
    gem_ids = item_ids[
        flavours.gem_mask(counts, min_ratings, tuning.get("gem_head_share", flavours.HIDDEN_GEMS_HEAD_SHARE))
    ]
    popular_gems = popular_order[np.isin(popular_order, gem_ids)]

    order = np.argsort(holdout.train_users, kind="stable")
    users, starts = np.unique(holdout.train_users[order], return_index=True)
    ends = np.append(starts[1:], order.size)
    evaluated = np.intersect1d(np.unique(holdout.rel_users), users)
    wanted = flavours.FLAVOURS if only is None else tuple(name for name in flavours.FLAVOURS if name in only)
    gem_baseline = only is None if gem_baseline is None else gem_baseline
    names = ["popularity", *(["popular_gems"] if gem_baseline else []), *wanted]
    miscalibration: dict[str, list[float]] = {name: [] for name in names}
    genre_target: dict[int, np.ndarray] = {}
    lists: dict[str, list[tuple[int, np.ndarray]]] = {name: [] for name in names}
    fallbacks = 0
    for user_id in evaluated:
        at = np.searchsorted(users, user_id)
        own = order[starts[at] : ends[at]]
        rated = dict(zip(holdout.train_movies[own].tolist(), holdout.train_values[own].tolist(), strict=True))
        popular = popular_order[~np.isin(popular_order, holdout.train_movies[own])][:k]
        lists["popularity"].append((user_id, popular))
        if "popular_gems" in lists:
            lists["popular_gems"].append((user_id, popular_gems[~np.isin(popular_gems, holdout.train_movies[own])][:k]))
        vector = foldin.user_vector(factors=factors, ratings=rated)
        if vector is None:
            fallbacks += 1
            for name in wanted:
                lists[name].append((user_id, popular))
            continue
        scores = foldin.masked_scores(factors=factors, user=vector, mask=mask)
        rated_rows, rated_found = factors.rows_of(rated.keys())
        weights = np.fromiter(rated.values(), dtype=np.float64, count=len(rated))[rated_found]
        target = flavours.genre_distribution(genres.matrix[rated_rows[rated_found]], weights)
        liked = flavours.liked_rows(rated_rows[rated_found], weights)
        genre_target[int(user_id)] = target

        def stars(rows: np.ndarray, rated=rated) -> np.ndarray:
            return foldin.predict_stars(model=holdout.stars_model, ratings=rated, movie_ids=item_ids[rows].tolist())

        for name in wanted:
            chosen = flavours.flavour_list(
                name,
                scores=scores,
                item_matrix=factors.matrix,
                k=k,
                counts=counts,
                min_ratings=min_ratings,
                genres=genres.matrix,
                genre_target=target,
                genre_names=genres.names,
                stars=stars,
                person_mean=float(np.mean(list(rated.values()))),
                liked=liked,
                **tuning,
            )
            lists[name].append((user_id, item_ids[chosen.rows]))

    genre_sets = (genres.matrix > 0).astype(np.float64)
    table: dict[str, dict[str, float]] = {}
    for name in names:
        for user_id, movies in lists[name]:
            target = genre_target.get(int(user_id))
            if target is None or target.sum() <= 0 or movies.size == 0:
                continue
            rows, _ = factors.rows_of(movies)
            listed = flavours.genre_distribution(genres.matrix[rows])
            smoothed = (1 - flavours.CALIBRATION_ALPHA) * listed + flavours.CALIBRATION_ALPHA * target
            miscalibration[name].append(float(flavours.kl_divergence(target, smoothed)[0]))
        rec_users = np.concatenate([np.full(movies.size, user, np.int64) for user, movies in lists[name]])
        rec_movies = np.concatenate([movies for _, movies in lists[name]]).astype(np.int64)
        rec_ranks = np.concatenate([np.arange(1, movies.size + 1) for _, movies in lists[name]])
        table[name] = {
            **metrics.ranking_metrics_of_arrays(
                rec_users, rec_movies, rec_ranks, holdout.rel_users, holdout.rel_movies, k
            ),
            **metrics.beyond_accuracy_of_arrays(
                rec_users,
                rec_movies,
                rec_ranks,
                k,
                pop_ids=pop_ids,
                pop_counts=pop_counts,
                raters=int(users.size),
                item_ids=item_ids,
                item_matrix=factors.matrix,
                genre_movie_ids=item_ids,
                genre_matrix=genre_sets,
                seed=seed,
            ),
            f"miscalibration_at_{k}": float(np.mean(miscalibration[name])) if miscalibration[name] else math.nan,
        }
    table["popularity"]["popular_fallbacks"] = fallbacks
    return table


SEARCH_GRIDS = {
    flavours.DIFFERENT: flavours.DIFFERENT_GRID,
    flavours.HIDDEN_GEMS: flavours.HIDDEN_GEMS_GRID,
    flavours.GENRE_MIX: flavours.CALIBRATION_GRID,
}


def flavour_parameters_search(
    holdout: FlavourHoldout,
    *,
    k: int = 10,
    min_ratings: int = 0,
    seed: int = 42,
    fixed: dict | None = None,
    only: tuple[str, ...] | None = None,
    notify=None,
) -> tuple[dict, dict]:
    """Each flavour's parameters chosen on the validation `holdout` (`flavours.choose_setting` over
    `SEARCH_GRIDS`); parameters in `fixed` are not searched. Out: (chosen keyword arguments of
    `flavours.flavour_list`, {flavour: {"trials": [{"setting", "ndcg_at_<k>", "coverage_at_<k>", "novelty_at_<k>",
    "miscalibration_at_<k>"}], "chosen", "meets_ndcg_goal", "popularity_ndcg_at_<k>"}}). `only`: search these
    flavours alone."""
    notify = notify or (lambda message: None)
    fixed = fixed or {}
    chosen: dict = dict(fixed)
    log: dict = {}
    for flavour, grid in SEARCH_GRIDS.items():
        if only is not None and flavour not in only:
            continue
        grid = {name: values for name, values in grid.items() if name not in fixed}
        if not grid:
            continue
        started = time.perf_counter()
        trials = []
        popularity = math.nan
        for setting in flavours.parameter_grid(grid):
            table = flavour_table(
                holdout, k=k, min_ratings=min_ratings, seed=seed, only=(flavour,), **{**fixed, **setting}
            )
            popularity = table["popularity"][f"ndcg_at_{k}"]
            trials.append((setting, table[flavour]))
        setting, meets = flavours.choose_setting(trials, popularity_ndcg=popularity, flavour=flavour, k=k)
        chosen.update(setting)
        keys = [f"{name}_at_{k}" for name in ("ndcg", "coverage", "novelty", "miscalibration")]
        log[flavour] = {
            "trials": [{"setting": s, **{key: m.get(key) for key in keys}} for s, m in trials],
            "chosen": setting,
            "meets_ndcg_goal": meets,
            f"popularity_ndcg_at_{k}": popularity,
        }
        notify(
            f"validation: {flavours.LABELS[flavour]} {setting} of {len(trials)} in {time.perf_counter() - started:.1f}s"
        )
    return chosen, log


def flavour_evaluation_run(
    *,
    seed: int = 42,
    fraction: float = 0.2,
    validation_fraction: float = 0.2,
    k: int = 10,
    min_ratings: int = 0,
    fixed: dict | None = None,
    only: tuple[str, ...] | None = None,
    notify=None,
) -> dict[str, Any]:
    """The trade-off table of the list flavours on one random holdout split, their parameters chosen on a
    validation split carved out of its training part (`flavour_holdout_fit`, `flavour_parameters_search`,
    `flavour_table`). `fixed`: parameters of `flavours.flavour_list` given, not searched (e.g. mmr_lambda). With
    `validation_fraction` 0 nothing is searched: the module's values (and `fixed`) are used. `only`: these flavours
    alone (searched and measured; popularity always, popular gems with hidden gems), to iterate on one quickly.

    Out: {"split": {"seed", "holdout_fraction", "train", "ratings", "part"}, "validation": the validation split and
    the search's log (or None), "parameters": {...} (the chosen values), "rows": {list name: metrics} on the test
    split, popularity first}. Nothing is stored. Raises ValueError when there are no ratings.
    """
    notify = notify or (lambda message: None)
    fixed = dict(fixed or {})
    validation, holdout = flavour_holdout_fit(
        seed=seed, fraction=fraction, validation_fraction=validation_fraction, notify=notify
    )
    chosen = dict(fixed)
    search = None
    if validation is not None:
        chosen, log = flavour_parameters_search(
            validation, k=k, min_ratings=min_ratings, seed=seed, fixed=fixed, only=only, notify=notify
        )
        search = {"split": validation.split, "search": log}
    parameters = {
        "different_pool": flavours.DIFFERENT_POOL,
        "mmr_lambda": flavours.MMR_LAMBDA,
        "mmr_novelty": flavours.MMR_NOVELTY,
        "gem_discount": flavours.HIDDEN_GEMS_DISCOUNT,
        "gem_neighbour_weight": flavours.HIDDEN_GEMS_NEIGHBOUR_WEIGHT,
        "gem_head_share": flavours.HIDDEN_GEMS_HEAD_SHARE,
        "calibration_lambda": flavours.CALIBRATION_LAMBDA,
        **chosen,
    }
    started = time.perf_counter()
    table = flavour_table(
        holdout,
        k=k,
        min_ratings=min_ratings,
        seed=seed,
        only=only,
        gem_baseline=only is None or flavours.HIDDEN_GEMS in only,
        **parameters,
    )
    notify(f"test: {table['popularity']['users_evaluated']:,} users, {len(table)} lists each in "
           f"{time.perf_counter() - started:.1f}s")  # fmt: skip
    return {
        "split": holdout.split,
        "validation": search,
        "parameters": {
            "k": k,
            "min_ratings": min_ratings,
            **parameters,
            "candidate_pool": flavours.CANDIDATE_POOL,
            "calibration_alpha": flavours.CALIBRATION_ALPHA,
            "hidden_gems_pool": flavours.HIDDEN_GEMS_POOL,
            "searched": sorted(set(chosen) - set(fixed)),
        },
        "rows": table,
    }


# Variants `evaluate --cold-items --validate` compares on the validation movies: (name, ContentParams overrides).
CONTENT_VARIANTS: tuple[tuple[str, dict], ...] = (
    ("defaults", {}),
    ("genres + year only", {"tag_weight": 0.0, "title_weight": 0.0, "overview_weight": 0.0, "director_weight": 0.0,
                            "cast_weight": 0.0}),
    ("no title words", {"title_weight": 0.0}),
    ("no year", {"year_weight": 0.0}),
    ("tags ×2", {"tag_weight": 2.0}),
    ("no tags", {"tag_weight": 0.0}),
    ("min 10 ratings", {"min_ratings": 10}),
    ("min 20 ratings", {"min_ratings": 20}),
)  # fmt: skip
PRIOR_RATINGS_GRID = (0.5, 2.0, 8.0)


def cold_items_run(
    *,
    seed: int = 0,
    fraction: float = item_cold_start.HOLDOUT_MOVIE_FRACTION,
    k: int = 10,
    prior_ratings: float = 2.0,
    validate: bool = False,
    content_params=None,
    on_step=None,
) -> dict[str, Any]:
    """New movies measured (spark_engine.item_cold_start): hold out `fraction` of the movies, fit the list model a
    retrain would publish without them and with their histories, then rank them by their content, after 1, 3 and
    10 ratings (item fold-in) and fully trained. `validate`: on validation movies (the reported split's movies left
    out altogether) for every variant of CONTENT_VARIANTS × PRIOR_RATINGS_GRID, the fold-ins only at 3 ratings.
    Returns the plain dict of `item_cold_start.measure` (validate: {"variants": [...]}) with "ratings", "seed",
    "holdout_fraction". Nothing is stored. Raises ValueError when there is too little data."""
    from dataclasses import replace as replace_fields

    from catalog.selectors import movie_content_list
    from recommendations.content import ContentParams

    notify = on_step or (lambda message: None)
    with exported_ratings(prefix="cold-items-", notify=notify) as (spark, ratings, rows):
        options, _ = stages.fit_list_rank_to_data(RetrainOptions.from_settings(seed=seed), ratings)
        config = stages.model_config(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        started = time.perf_counter()
        data = item_cold_start.fit_without_movies(
            ratings, config.lists, fraction=fraction, seed=seed, validation=validate,
            stars=None if validate else config, biases_on_driver=rows <= options.biases_driver_max_ratings,
        )  # fmt: skip
        notify(
            f"{data.heldout.size:,} {'validation' if validate else 'held-out'} movies; list model fitted without "
            f"them ({data.train_ratings:,} ratings) and with their histories in {time.perf_counter() - started:.1f}s"
        )
    contents = movie_content_list()
    base = content_params or ContentParams()
    meta = {"ratings": rows, "seed": seed, "holdout_fraction": fraction, "validate": validate}
    if not validate:
        result = item_cold_start.measure(
            data, contents=contents, content_params=base, prior_ratings=prior_ratings, k=k, seed=seed,
            on_row=lambda name: notify(f"rank: {name}"),
        )  # fmt: skip
        return {**result, **meta}
    variants = []
    for name, overrides in CONTENT_VARIANTS:
        for strength in PRIOR_RATINGS_GRID:
            result = item_cold_start.measure(
                data, contents=contents, content_params=replace_fields(base, **overrides), prior_ratings=strength,
                revealed=(3,), k=k, seed=seed, all_unseen=False,
            )  # fmt: skip
            table = result["heldout"]
            variants.append(
                {
                    "variant": name,
                    "prior_ratings": strength,
                    "content": table["content (0 ratings)"][f"ndcg_at_{k}"],
                    "three": table["content + 3 ratings"][f"ndcg_at_{k}"],
                    "genre_popularity": table["genre popularity"][f"ndcg_at_{k}"],
                    "fully_trained": table["fully trained"][f"ndcg_at_{k}"],
                    "list_r2": result["map"].get("list_r2"),
                }
            )
            notify(f"validation {name}, prior like {strength:g} ratings: NDCG@{k} content {variants[-1]['content']:.4f}"
                   f", 3 ratings {variants[-1]['three']:.4f}")  # fmt: skip
    return {"variants": variants, "heldout_movies": int(data.heldout.size), "k": k, **meta}
