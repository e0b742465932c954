"""New movies, measured (issue 14): how well are movies ranked that training never saw?

`fit_without_movies` (Spark, then the driver) holds out a random share of the movies with all their ratings and
fits the list model a retrain would publish on everything else ("base"). Each held-out movie's raters are shuffled
(seeded): the first half is its "history", the ratings it will receive after it arrives, the second half its test
set. A second fit adds the held-out movies' histories: the movies "fully trained". `measure` (numpy) then gives
every held-out movie factors

- from its content alone (recommendations.content: the map learned on the base fit's movies), and
- after its first 1, 3, 10 history ratings: item fold-in from those raters' base-fit user factors, shrunk toward
  the content prior (recommendations.content.item_fold_in_list: the site's own solve); and, to see what the
  content adds, the same fold-in shrunk toward zero,

and ranks, for every user with a test rating ≥ 4 of a held-out movie, (a) the held-out movies they have no history
rating of and (b) every movie they have not rated (trained movies with their trained factors). Recall@k and
NDCG@k (metrics.ranking_metrics_of_arrays: relevant = the user's test ratings ≥ 4) against random and against
popularity within the movie's genres (a held-out movie scores the mean training count of its genres' movies); and
the fully trained movies as the reference. The candidates and relevant pairs are the same in every row.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from recommendations import content
from spark_engine.fitting import ListParams, QualityConfig, fit_biased_als, fit_list_model, stars_item_terms
from spark_engine.frames import collect_factors, require_columns
from spark_engine.metrics import ranking_metrics_of_arrays

HOLDOUT_MOVIE_FRACTION = 0.1
REVEALED = (1, 3, 10)
MAX_EVAL_USERS = 5000
USER_BLOCK = 512
ALL_RECEIVED = "fold-in, all received"
RECEIVED_COUNT = "ratings it went on to get"


@dataclass(frozen=True)
class Factors:
    """A fit's factors on the driver: ids ascending (int64), matrices float32 with one row per id."""

    user_ids: np.ndarray
    users: np.ndarray
    item_ids: np.ndarray
    items: np.ndarray

    def item_rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _rows(self.item_ids, ids)

    def user_rows(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _rows(self.user_ids, ids)


def _rows(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ids = np.asarray(ids, dtype=np.int64)
    if sorted_ids.size == 0:
        return np.zeros(ids.size, dtype=np.int64), np.zeros(ids.size, dtype=bool)
    rows = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return rows, sorted_ids[rows] == ids


@dataclass(frozen=True)
class StarsFit:
    """A stars model (biased ALS) on the driver: μ; users' ids (ascending), biases and factors; the same for movies."""

    global_mean: float
    user_ids: np.ndarray
    user_biases: np.ndarray
    users: np.ndarray
    item_ids: np.ndarray
    item_biases: np.ndarray
    items: np.ndarray
    reg_param: float
    reg_item: float


def _fit_stars(train: DataFrame, config: QualityConfig, *, biases_on_driver: bool) -> StarsFit:
    model = fit_biased_als(
        train, config.ratings, reg_user=config.reg_user, reg_item=config.reg_item, biases_on_driver=biases_on_driver
    )
    user_ids, users = collect_factors(model.als.userFactors, "stars user factors")
    table = model.user_bias.toArrow()
    bias_ids = table.column("user_id").to_numpy().astype(np.int64)
    rows, found = _rows(user_ids, bias_ids)
    user_biases = np.zeros(user_ids.size)
    user_biases[rows[found]] = table.column("user_bias").to_numpy()[found]
    terms = stars_item_terms(model).select(F.col("movie_id").alias("id"), "features")
    item_ids, items = collect_factors(terms, "stars item factors")
    biases = stars_item_terms(model).select("movie_id", "bias").toArrow()
    rows, found = _rows(item_ids, biases.column("movie_id").to_numpy().astype(np.int64))
    item_biases = np.zeros(item_ids.size)
    item_biases[rows[found]] = biases.column("bias").to_numpy()[found]
    return StarsFit(
        global_mean=model.global_mean, user_ids=user_ids, user_biases=user_biases, users=users, item_ids=item_ids,
        item_biases=item_biases, items=items, reg_param=config.ratings.reg_param, reg_item=config.reg_item,
    )  # fmt: skip


@dataclass(frozen=True)
class ItemColdStartData:
    """Everything `measure` needs, on the driver."""

    heldout: np.ndarray  # int64 held-out movie ids, ascending
    # Per held-out movie (rows of `heldout`): its history raters in the order they "arrive", and their stars.
    history_users: list[np.ndarray]
    history_values: list[np.ndarray]
    # Test pairs of held-out movies (user, movie, stars).
    test_users: np.ndarray
    test_movies: np.ndarray
    test_values: np.ndarray
    # Training pairs (user, movie) of the base fit, for "all unseen movies".
    train_users: np.ndarray
    train_movies: np.ndarray
    train_counts: dict[int, int]  # movie -> ratings in training
    base: Factors
    full: Factors
    params: ListParams
    train_ratings: int = 0
    # The stars model fitted the same two ways (None: not measured).
    stars_base: StarsFit | None = None
    stars_full: StarsFit | None = None
    extra: dict = field(default_factory=dict)


def choose_heldout(movie_ids: np.ndarray, *, fraction: float, seed: int) -> np.ndarray:
    """A random `fraction` of `movie_ids` (at least one), ascending."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(np.unique(movie_ids))[: max(1, int(round(fraction * np.unique(movie_ids).size)))]
    return np.sort(chosen.astype(np.int64))


def _fit(ratings: DataFrame, params: ListParams) -> Factors:
    users, items = fit_list_model(ratings, params)
    user_ids, user_matrix = collect_factors(users, "user factors")
    item_ids, item_matrix = collect_factors(items, "item factors")
    return Factors(user_ids=user_ids, users=user_matrix, item_ids=item_ids, items=item_matrix)


def fit_without_movies(
    ratings: DataFrame,
    params: ListParams,
    *,
    fraction: float = HOLDOUT_MOVIE_FRACTION,
    seed: int = 0,
    validation: bool = False,
    stars: QualityConfig | None = None,
    biases_on_driver: bool = False,
) -> ItemColdStartData:
    """Hold out a random `fraction` of the rated movies (seeded) with all their ratings, fit `params` on the rest
    (base) and on the rest plus the held-out movies' histories (full); collect what `measure` needs.

    `validation`: the movies the reported split holds out (same seed) are dropped altogether and another
    `fraction` of the remaining movies is held out instead: tune on this, report on the other. In: `ratings`
    (user_id, movie_id, rating). Runs two fits. Raises ValueError when there is too little data."""
    require_columns(ratings, "ratings", ("user_id", "movie_id", "rating"))
    table = ratings.select("user_id", "movie_id", "rating").toArrow()
    users = table.column("user_id").to_numpy().astype(np.int64)
    movies = table.column("movie_id").to_numpy().astype(np.int64)
    values = table.column("rating").to_numpy().astype(np.float64)
    heldout = choose_heldout(movies, fraction=fraction, seed=seed)
    spark = ratings.sparkSession
    if validation:
        keep = ~np.isin(movies, heldout)
        dropped = spark.createDataFrame([(int(m),) for m in heldout], "movie_id int")
        ratings = ratings.join(F.broadcast(dropped), "movie_id", "left_anti")
        users, movies, values = users[keep], movies[keep], values[keep]
        heldout = choose_heldout(movies, fraction=fraction, seed=seed + 1_000_003)
    is_heldout = np.isin(movies, heldout)
    if is_heldout.all() or not is_heldout.any():
        raise ValueError("too few movies to hold some out")

    rng = np.random.default_rng(seed + 17)
    order = np.lexsort((rng.random(movies.size), movies))  # by movie, raters shuffled within each
    history_users, history_values = [], []
    test_mask = np.zeros(movies.size, dtype=bool)
    history_mask = np.zeros(movies.size, dtype=bool)
    starts = np.searchsorted(movies[order], heldout)
    ends = np.searchsorted(movies[order], heldout, side="right")
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        indices = order[start:end]
        half = math.ceil(indices.size / 2)
        history_mask[indices[:half]] = True
        test_mask[indices[half:]] = True
        history_users.append(users[indices[:half]])
        history_values.append(values[indices[:half]])

    heldout_frame = F.broadcast(spark.createDataFrame([(int(m),) for m in heldout], "movie_id int"))
    train = ratings.select("user_id", "movie_id", "rating").join(heldout_frame, "movie_id", "left_anti").cache()
    base = _fit(train, params)
    history = spark.createDataFrame(
        [
            (int(u), int(m), float(v))
            for u, m, v in zip(users[history_mask], movies[history_mask], values[history_mask], strict=True)
        ],
        "user_id int, movie_id int, rating float",
    )
    full = _fit(train.unionByName(history), params)
    stars_base = stars_full = None
    if stars is not None:
        stars_base = _fit_stars(train, stars, biases_on_driver=biases_on_driver)
        stars_full = _fit_stars(train.unionByName(history), stars, biases_on_driver=biases_on_driver)
    train.unpersist()
    train_users, train_movies = users[~is_heldout], movies[~is_heldout]
    ids, counts = np.unique(train_movies, return_counts=True)
    return ItemColdStartData(
        heldout=heldout,
        history_users=history_users,
        history_values=history_values,
        test_users=users[test_mask],
        test_movies=movies[test_mask],
        test_values=values[test_mask],
        train_users=train_users,
        train_movies=train_movies,
        train_counts=dict(zip(ids.tolist(), counts.tolist(), strict=True)),
        base=base,
        full=full,
        params=params,
        train_ratings=int(train_movies.size),
        stars_base=stars_base,
        stars_full=stars_full,
    )


def base_terms(data: ItemColdStartData) -> tuple[content.ModelTerms, np.ndarray]:
    """What the content map learns from: the base fit's item factors and their training counts."""
    counts = np.array([data.train_counts.get(m, 0) for m in data.base.item_ids.tolist()], dtype=np.int64)
    return content.ModelTerms(movie_ids=data.base.item_ids, list_factors=data.base.items), counts


def heldout_factors(data: ItemColdStartData, *, prior: np.ndarray, revealed: int, prior_ratings: float) -> np.ndarray:
    """(held-out movies, rank) factors after `revealed` history ratings each: `content.item_fold_in_list` from the
    raters' base-fit user factors, shrunk toward `prior` (rows of data.heldout) with the site's strength."""
    users = data.base.users.astype(np.float64)
    gram = users.T @ users
    als = data.params.als
    strength = content.list_prior_strength(
        prior_ratings=prior_ratings, alpha=als.alpha, users_mean_square=float((users**2).mean())
    )
    out = np.zeros((data.heldout.size, users.shape[1]))
    for i in range(data.heldout.size):
        rater_ids = data.history_users[i][:revealed]
        rows, found = data.base.user_rows(rater_ids)
        out[i] = content.item_fold_in_list(
            user_factors=users[rows[found]],
            values=data.history_values[i][:revealed][found],
            prior=prior[i],
            users_gram=gram,
            reg_param=als.reg_param,
            alpha=als.alpha,
            center=data.params.center,
            prior_strength=strength,
        )
    return out


@dataclass(frozen=True)
class _Judge:
    """The evaluated users and what they must not be shown, shared by every row of the table."""

    users: np.ndarray  # int64, ascending
    rel_users: np.ndarray
    rel_movies: np.ndarray
    history_pairs: set[tuple[int, int]]  # (user, held-out movie) the user rated in the movie's history
    train_rated: dict[int, np.ndarray]  # user -> training movie ids


def _judge(data: ItemColdStartData, *, seed: int, max_users: int) -> _Judge:
    relevant = data.test_values >= 4.0
    users = np.unique(data.test_users[relevant])
    _, in_base = data.base.user_rows(users)
    _, in_full = data.full.user_rows(users)
    users = users[in_base & in_full]
    if users.size > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, size=max_users, replace=False))
    keep = relevant & np.isin(data.test_users, users)
    history_pairs = {
        (int(u), int(movie))
        for movie, raters in zip(data.heldout.tolist(), data.history_users, strict=True)
        for u in raters.tolist()
    }
    chosen = np.isin(data.train_users, users)
    order = np.argsort(data.train_users[chosen], kind="stable")
    train_u, train_m = data.train_users[chosen][order], data.train_movies[chosen][order]
    bounds = np.searchsorted(train_u, users), np.searchsorted(train_u, users, side="right")
    train_rated = {int(u): train_m[s:e] for u, s, e in zip(users.tolist(), *bounds, strict=True)}
    return _Judge(
        users=users,
        rel_users=data.test_users[keep],
        rel_movies=data.test_movies[keep],
        history_pairs=history_pairs,
        train_rated=train_rated,
    )


def _rank(
    judge: _Judge,
    user_vectors: np.ndarray | None,
    item_ids: np.ndarray,
    item_vectors: np.ndarray | None,
    *,
    k: int,
    fixed_scores: np.ndarray | None = None,
    exclude_trained: bool,
    rng: np.random.Generator | None = None,
    focus: np.ndarray | None = None,
) -> dict[str, float]:
    """Top-k of `item_ids` per judged user by u·v (or by `fixed_scores`, the same for everybody; or, with neither,
    a random order of each user's own drawn from `rng`), without the user's history pairs and (when candidates
    include trained movies) training movies; metrics at k. `focus` (ids): also "exposure", the share of the top-k
    slots that hold one of them."""
    rec_users, rec_movies, rec_ranks = [], [], []
    item_ids = np.asarray(item_ids, dtype=np.int64)
    position = {int(m): i for i, m in enumerate(item_ids.tolist())}
    history_by_user: dict[int, list[int]] = {}
    for u, m in judge.history_pairs:
        if m in position:
            history_by_user.setdefault(u, []).append(position[m])
    for start in range(0, judge.users.size, USER_BLOCK):
        block = judge.users[start : start + USER_BLOCK]
        if fixed_scores is None and user_vectors is None:
            scores = rng.random((block.size, item_ids.size))
        elif fixed_scores is not None:
            scores = np.broadcast_to(fixed_scores, (block.size, item_ids.size)).astype(np.float64).copy()
        else:
            scores = user_vectors[start : start + USER_BLOCK].astype(np.float64) @ item_vectors.T.astype(np.float64)
        for row, u in enumerate(block.tolist()):
            scores[row, history_by_user.get(u, [])] = -np.inf
            if exclude_trained:
                rows, found = _rows(item_ids, judge.train_rated[u])
                scores[row, rows[found]] = -np.inf
        top = np.argpartition(-scores, min(k, item_ids.size - 1), axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top, top_scores = np.take_along_axis(top, order, axis=1), np.take_along_axis(top_scores, order, axis=1)
        for row, u in enumerate(block.tolist()):
            ok = np.isfinite(top_scores[row])
            rec_users.append(np.full(int(ok.sum()), u))
            rec_movies.append(item_ids[top[row][ok]])
            rec_ranks.append(np.arange(1, int(ok.sum()) + 1))
    movies_shown = np.concatenate(rec_movies)
    result = ranking_metrics_of_arrays(
        np.concatenate(rec_users), movies_shown, np.concatenate(rec_ranks), judge.rel_users, judge.rel_movies, k,
    )  # fmt: skip
    metrics = {key: result[key] for key in (f"recall_at_{k}", f"ndcg_at_{k}", "users_evaluated")}
    if focus is not None:
        metrics["exposure"] = float(np.isin(movies_shown, focus).mean()) if movies_shown.size else 0.0
    return metrics


def genre_popularity(data: ItemColdStartData, genres: Mapping[int, Sequence[str]], movie_ids: np.ndarray) -> np.ndarray:
    """Per movie of `movie_ids`, the mean training count of the trained movies that share each of its genres,
    averaged over its genres (0 without genres): how popular a movie of its kind is."""
    totals: dict[str, list[int]] = {}
    for movie, count in data.train_counts.items():
        for genre in genres.get(movie, ()):
            totals.setdefault(genre, [0, 0])
            totals[genre][0] += count
            totals[genre][1] += 1
    mean = {genre: total / n for genre, (total, n) in totals.items()}
    return np.array(
        [np.mean([mean.get(g, 0.0) for g in genres.get(int(m), ())] or [0.0]) for m in movie_ids], dtype=np.float64
    )


def _no_content(movie_id: int) -> content.MovieContent:
    return content.MovieContent(movie_id=movie_id, title="", year=None, genres=(), tags={})


def measure(
    data: ItemColdStartData,
    *,
    contents: Sequence[content.MovieContent],
    content_params: content.ContentParams | None = None,
    prior_ratings: float = 2.0,
    revealed: Sequence[int] = REVEALED,
    k: int = 10,
    seed: int = 0,
    max_users: int = MAX_EVAL_USERS,
    all_unseen: bool = True,
    on_row: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The table (see the module): {"heldout": {row: metrics}, "all_unseen": {row: metrics}, "map": fit figures,
    "heldout_movies", "users"...}. Rows: random, genre popularity, content (0 ratings), fold-in after each of
    `revealed` with and without the content prior, the fold-in from every received rating without a prior (the
    retrain's item step: the check that the fold-in and the reference agree), fully trained, and (held-out only)
    the received ratings count. Among all unseen each row also has "exposure": the share of the top-k slots held by
    held-out movies (only they can be relevant there, so NDCG rises with any boost of them; read it beside the
    share). Raises ValueError when no map can be learned."""
    notify = on_row or (lambda name: None)
    terms, counts = base_terms(data)
    content_map, reason = content.content_map_learn(
        terms=terms, rating_counts=counts, contents=contents, params=content_params
    )
    if content_map is None:
        raise ValueError(f"no content map: {reason}")
    by_id = {c.movie_id: c for c in contents}
    known = [int(m) for m in data.heldout.tolist()]
    prior_list, _, _ = content_map.predict_contents([by_id.get(m) or _no_content(m) for m in known])
    prior = prior_list.astype(np.float64)
    judge = _judge(data, seed=seed, max_users=max_users)
    if judge.users.size == 0:
        raise ValueError("no user rated a held-out movie 4 or more outside its history")
    base_users = data.base.users[data.base.user_rows(judge.users)[0]]
    full_users = data.full.users[data.full.user_rows(judge.users)[0]]

    rows: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (user vectors, held-out factors)
    rows["content (0 ratings)"] = (base_users, prior)
    # What a movie brings on the day it arrives: MovieLens tags come from people who watched it, so a truly new
    # movie has none (and here they leak how popular it became).
    untagged_map, _ = content.content_map_learn(
        terms=terms, rating_counts=counts, contents=contents,
        params=replace(content_map.params, tag_weight=0.0),
    )  # fmt: skip
    if untagged_map is not None:
        untagged = untagged_map.predict_contents([by_id.get(m) or _no_content(m) for m in known])[0]
        rows["content without tags"] = (base_users, untagged.astype(np.float64))
    zero = np.zeros_like(prior)
    for n in revealed:
        rows[f"content + {n} rating{'s' if n > 1 else ''}"] = (
            base_users,
            heldout_factors(data, prior=prior, revealed=n, prior_ratings=prior_ratings),
        )
        rows[f"no content + {n} rating{'s' if n > 1 else ''}"] = (
            base_users,
            heldout_factors(data, prior=zero, revealed=n, prior_ratings=prior_ratings),
        )
    # The check on the protocol: every received rating, no prior, is the retrain's own item step on the base fit's
    # users; it should match "fully trained" (which also refits the users), else the fold-in or the reference is off.
    rows[ALL_RECEIVED] = (
        base_users,
        heldout_factors(
            data, prior=zero, revealed=max((h.size for h in data.history_users), default=0), prior_ratings=0
        ),
    )
    full_rows, full_found = data.full.item_rows(data.heldout)
    full_items = np.where(full_found[:, None], data.full.items[full_rows], 0.0)
    rows["fully trained"] = (full_users, full_items)

    genre_names = {c.movie_id: c.genres for c in contents}
    rng = np.random.default_rng(seed + 5)
    heldout_table: dict[str, dict] = {}
    notify("random")
    heldout_table["random"] = _rank(judge, None, data.heldout, None, k=k, exclude_trained=False, rng=rng)
    notify("genre popularity")
    genre_pop = genre_popularity(data, genre_names, data.heldout)
    heldout_table["genre popularity"] = _rank(
        judge, None, data.heldout, None, k=k, fixed_scores=genre_pop + 1e-6 * rng.random(genre_pop.size),
        exclude_trained=False,
    )  # fmt: skip
    for name, (users, items) in rows.items():
        notify(name)
        heldout_table[name] = _rank(judge, users, data.heldout, items, k=k, exclude_trained=False)
    # Knowing the future, for scale: the same for everybody, how many ratings each movie went on to receive (its
    # history). What fully trained knows and no movie with a few ratings can: how popular it became.
    received = np.array([h.size for h in data.history_users], dtype=np.float64)
    heldout_table[RECEIVED_COUNT] = _rank(
        judge, None, data.heldout, None, k=k, fixed_scores=received + 1e-6 * rng.random(received.size),
        exclude_trained=False,
    )  # fmt: skip

    unseen_table: dict[str, dict] = {}
    if all_unseen:
        trained_ids = data.base.item_ids
        all_ids = np.concatenate([trained_ids, data.heldout])
        order = np.argsort(all_ids, kind="stable")
        all_ids = all_ids[order]
        pop = np.concatenate([[data.train_counts.get(m, 0) for m in trained_ids.tolist()], genre_pop])[order]
        unseen_table["popularity"] = _rank(
            judge, None, all_ids, None, k=k, fixed_scores=pop + 1e-6 * rng.random(pop.size), exclude_trained=True,
            focus=data.heldout,
        )  # fmt: skip
        for name, (users, items) in rows.items():
            if name.startswith("no content") or name == "content without tags":
                continue
            fit = data.full if name == "fully trained" else data.base
            trained_rows, trained_found = fit.item_rows(trained_ids)
            trained = np.where(trained_found[:, None], fit.items[trained_rows], 0.0)
            notify(f"{name} among all unseen")
            vectors = np.concatenate([trained, items])[order]
            unseen_table[name] = _rank(judge, users, all_ids, vectors, k=k, exclude_trained=True, focus=data.heldout)

    stars = stars_rmse(data, contents=contents, content_params=content_map.params, prior_ratings=prior_ratings,
                       revealed=revealed)  # fmt: skip
    return {
        "stars": stars,
        "heldout": heldout_table,
        "all_unseen": unseen_table,
        "map": {**content_map.fit, "movies_learned": content_map.movies_learned},
        "heldout_movies": int(data.heldout.size),
        "users": int(judge.users.size),
        "relevant_pairs": int(judge.rel_users.size),
        "train_ratings": data.train_ratings,
        "prior_ratings": prior_ratings,
        "k": k,
    }


def stars_rmse(
    data: ItemColdStartData,
    *,
    contents: Sequence[content.MovieContent],
    content_params: content.ContentParams,
    prior_ratings: float,
    revealed: Sequence[int] = REVEALED,
) -> dict[str, float]:
    """RMSE of the stars model on the held-out movies' test ratings (users the base and full fits both know): the
    movie unknown (μ + b_u), its content prior (the map's stars terms), after `revealed` ratings
    (`content.item_fold_in_stars`, shrunk as the site shrinks: the prior weighs like `prior_ratings` ratings) and
    fully trained. {} without stars fits."""
    base, full = data.stars_base, data.stars_full
    if base is None or full is None:
        return {}
    rows, found = _rows(base.item_ids, data.base.item_ids)
    terms = content.ModelTerms(
        movie_ids=data.base.item_ids,
        list_factors=data.base.items,
        stars_factors=np.where(found[:, None], base.items[rows], 0.0).astype(np.float32),
        stars_biases=np.where(found, base.item_biases[rows], 0.0),
    )
    counts = np.array([data.train_counts.get(m, 0) for m in data.base.item_ids.tolist()], dtype=np.int64)
    content_map, _ = content.content_map_learn(terms=terms, rating_counts=counts, contents=contents,
                                               params=content_params)  # fmt: skip
    if content_map is None:
        return {}
    by_id = {c.movie_id: c for c in contents}
    _, prior_bias, prior_factors = content_map.predict_contents(
        [by_id.get(m) or _no_content(m) for m in data.heldout.tolist()]
    )
    base_rows, in_base = _rows(base.user_ids, data.test_users)
    full_rows, in_full = _rows(full.user_ids, data.test_users)
    keep = in_base & in_full
    movie_row = np.searchsorted(data.heldout, data.test_movies[keep])
    users_b, users_f = base_rows[keep], full_rows[keep]
    truth = data.test_values[keep]

    def rmse(bias_of_movie: np.ndarray, factors_of_movie: np.ndarray, fit: StarsFit, user_rows: np.ndarray) -> float:
        raw = (
            fit.global_mean + fit.user_biases[user_rows] + bias_of_movie[movie_row]
            + np.einsum("ij,ij->i", fit.users[user_rows].astype(np.float64), factors_of_movie[movie_row])
        )  # fmt: skip
        return float(np.sqrt(np.mean((np.clip(raw, 0.5, 5.0) - truth) ** 2)))

    n, rank = data.heldout.size, base.users.shape[1]
    result = {
        "pairs": int(truth.size),
        "movie unknown (μ + b_u)": rmse(np.zeros(n), np.zeros((n, rank)), base, users_b),
        "content (0 ratings)": rmse(prior_bias, prior_factors.astype(np.float64), base, users_b),
    }
    users64 = base.users.astype(np.float64)
    strength = prior_ratings * float((users64**2).mean())
    for count in revealed:
        biases, factors = np.zeros(n), np.zeros((n, rank))
        for i in range(n):
            rows_i, found_i = _rows(base.user_ids, data.history_users[i][:count])
            biases[i], factors[i] = content.item_fold_in_stars(
                user_factors=users64[rows_i[found_i]],
                user_biases=base.user_biases[rows_i[found_i]],
                values=data.history_values[i][:count][found_i],
                global_mean=base.global_mean,
                prior_bias=float(prior_bias[i]),
                prior=prior_factors[i],
                reg_param=base.reg_param,
                reg_item=base.reg_item + prior_ratings,
                prior_strength=strength,
            )
        result[f"content + {count} rating{'s' if count > 1 else ''}"] = rmse(biases, factors, base, users_b)
    rows_f, found_f = _rows(full.item_ids, data.heldout)
    result["fully trained"] = rmse(
        np.where(found_f, full.item_biases[rows_f], 0.0),
        np.where(found_f[:, None], full.items[rows_f], 0.0).astype(np.float64),
        full,
        users_f,
    )
    return result
