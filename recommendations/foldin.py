"""Fold-in: recommendations that reflect a user's ratings the moment they are saved.

A retrain takes minutes; a person who has just rated a film expects the next page to know.
The active run's item factors stay fixed, and the user's side is recomputed from their current
ratings with the least-squares step Spark's ALS makes for a user. A run publishes two models:

- the list model (implicit-feedback ALS on r − c, c the run's list_center) ranks movies. Its step
  is Spark's implicit one, x = (YᵀY + Σ c₁·v·vᵀ + λ·n₊·I)⁻¹ Σ₊ (1 + c₁)·v with c₁ = α·|r − c| and
  the sums ₊ over ratings above the centre; every movie is scored as V·x, the best unrated win.
- the stars model (biased ALS) predicts stars: the user's bias b_u = Σ(r − μ − b_i) / (λ_u + n),
  then the explicit step on the residuals, x = (VₛᵀVₛ + λ·n·I)⁻¹ Vₛᵀ(r − μ − b_u − b_i), and a
  prediction μ + b_u + b_i + v·x clipped to 0.5–5: exactly how the retrain fitted the user.

Runs published before the stars model existed hold one explicit model that does both (its
scores are stars). Spark's nonnegative option (NNLS) is not reproduced: the unconstrained
solve is close enough to rank with.

Both models' per-movie terms are loaded once per run and process (float32: 7.6 MB of list
factors and 3.8 MB of stars factors for 59K movies at ranks 32 and 16), so a call is two small
solves and one matrix-vector product: about a millisecond of NumPy work (bench/bench_foldin.py;
run the web workers with one BLAS thread, as `manage.py serve` does).

This module is arrays, arithmetic and the per-run cache; the selectors that read a user's ratings and
call it (`recommend_for_user`, `predicted_rating`) live in recommendations.selectors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from catalog.models import Movie

from .flavours import top_rows
from .models import ItemFactor, TrainingRun

MIN_STARS = 0.5
MAX_STARS = 5.0
# Filter masks (rating counts, genres) change slowly; reload them after this many seconds.
MASK_TTL_SECONDS = 300.0


class _MovieRows:
    movie_ids: np.ndarray  # int64, ascending unless `order` is set
    # For a run's terms with the movies it has not trained appended after its own (recommendations.cold_items):
    # the argsort of movie_ids; None when they are ascending.
    order: np.ndarray | None

    def rows_of(self, movie_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, found) for the given movie ids: rows[found] index the matrix."""
        ids = np.fromiter(movie_ids, dtype=np.int64)
        if ids.size == 0 or self.movie_ids.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(ids.size, dtype=bool)
        rows = np.searchsorted(self.movie_ids, ids, sorter=self.order)
        rows = np.minimum(rows, self.movie_ids.size - 1)
        if self.order is not None:
            rows = self.order[rows]
        found = self.movie_ids[rows] == ids
        return rows, found


@dataclass(frozen=True)
class ItemFactors(_MovieRows):
    """A run's list-model item factors as one matrix; row i holds the factors of movie_ids[i] (sorted)."""

    run_id: int
    movie_ids: np.ndarray  # int64, ascending
    matrix: np.ndarray  # float32, (movies, rank), C-contiguous
    reg_param: float
    implicit_prefs: bool = False
    alpha: float = 1.0
    # Implicit feedback is the rating minus this (ratings at or below it count as dislikes).
    center: float = 0.0
    order: np.ndarray | None = None
    # With movies the run has not trained appended (recommendations.cold_items.serving_item_factors): the run's
    # own factors (rows [0, base.movie_ids.size)), and what identifies the appended rows (their ids and versions).
    base: ItemFactors | None = None
    cold_key: tuple = ()

    @property
    def trained_rows(self) -> int:
        """Rows [0, trained_rows) are the run's own movies; any after them were folded in since."""
        return self.movie_ids.size if self.base is None else self.base.movie_ids.size

    @property
    def columns(self) -> np.ndarray:
        """The matrix transposed, (rank, movies) C-contiguous: one contiguous row per factor."""
        cached = getattr(self, "_columns", None)
        if cached is None:
            cached = np.ascontiguousarray(self.matrix.T)
            object.__setattr__(self, "_columns", cached)
        return cached

    def score_all(self, x: np.ndarray) -> np.ndarray:
        """V·x for every movie, as float32.

        Summed factor by factor over the transposed matrix rather than through BLAS: a
        multi-threaded sgemv on a tall, thin matrix spends more on waking threads than on
        arithmetic, and in a web worker those threads compete with the other workers.
        """
        columns = self.columns
        x = x.astype(np.float32)
        scores = columns[0] * x[0]
        term = np.empty_like(scores)
        for j in range(1, columns.shape[0]):
            np.multiply(columns[j], x[j], out=term)
            scores += term
        return scores

    @property
    def gram(self) -> np.ndarray:
        """VᵀV in float64 over the run's own movies, needed by the implicit step; computed on first use.

        Appended movies are left out: the term stands for the movies the run trained, so a user unchanged since the
        run folds in to exactly the factors it published (and the stored top-N stays what a fold-in gives)."""
        if self.base is not None:
            return self.base.gram
        cached = getattr(self, "_gram", None)
        if cached is None:
            cached = self.matrix.T.astype(np.float64) @ self.matrix.astype(np.float64)
            object.__setattr__(self, "_gram", cached)
        return cached


@dataclass(frozen=True)
class StarsModel(_MovieRows):
    """A run's stars model: μ, and per movie (sorted ids) its bias b_i and factors v_i.

    A run that blended the list score into its stars (spark_engine.blend) publishes v_i = [stars factors, list
    factors] and user terms [u, w·x_u] with bias b_u + c: `list_weight` w, `list_offset` c and the run's list model
    (`list_factors`) let the fold-in give the same (`stars_user`)."""

    run_id: int
    global_mean: float
    movie_ids: np.ndarray  # int64, ascending
    biases: np.ndarray  # float64 (movies,)
    matrix: np.ndarray  # float32 (movies, rank)
    reg_param: float
    reg_user: float
    order: np.ndarray | None = None
    reg_item: float = 0.0
    list_weight: float = 0.0
    list_offset: float = 0.0
    list_factors: ItemFactors | None = None


@dataclass(frozen=True)
class UserVector:
    """The folded-in user: x, plus A⁻¹ and the weighted rated factors to explain scores."""

    x: np.ndarray  # float64 (rank,)
    a_inv: np.ndarray  # float64 (rank, rank)
    rated_movie_ids: np.ndarray  # int64 (n,) movies that carry factors
    weighted_rated: np.ndarray  # float64 (n, rank): w_j · v_j, the terms of b = Σ w_j v_j


@dataclass(frozen=True)
class ScoredMovie:
    movie_id: int
    score: float | None  # predicted stars (0.5..5); None for a run that predicts no stars
    because_movie_id: int | None  # the rated movie contributing most to the ranking
    reason: str | None = None  # a flavour's explanation (recommendations.flavours); None: `because` explains


# --- The cache: one matrix per run, in process memory. ---

_lock = threading.Lock()
# (run id, "items" | "stars") -> ItemFactors | StarsModel | None (a run without a stars model)
_models: dict[tuple[int, str], object] = {}
_masks: dict[tuple, tuple[float, np.ndarray]] = {}
_KEEP_RUNS = 2  # the active run and the one it replaced, while requests drain


def foldin_cache_clear() -> None:
    from .cold_items import cold_items_cache_clear  # built on this module: its caches go with the factors
    from .content import content_cache_clear  # content imports nothing of this module; the maps go with the factors

    with _lock:
        _models.clear()
        _masks.clear()
    content_cache_clear()
    cold_items_cache_clear()


def _cached_model(run: TrainingRun, kind: str, load):
    key = (run.pk, kind)
    if key in _models:
        return _models[key]
    with _lock:
        if key not in _models:
            value = load(run)
            runs = list(dict.fromkeys(run_id for run_id, _ in _models))
            for stale in runs[: max(len(runs) - _KEEP_RUNS + 1, 0)] if run.pk not in runs else ():
                for old in [k for k in _models if k[0] == stale]:
                    del _models[old]
                for old in [k for k in _masks if k[0] == stale]:
                    del _masks[old]
            _models[key] = value
    return _models[key]


def item_factors_for_run(run: TrainingRun) -> ItemFactors:
    """The run's list-model item factors, loaded from ItemFactor rows on first use and kept per process."""
    return _cached_model(run, "items", _load_item_factors)


def stars_model_for_run(run: TrainingRun) -> StarsModel | None:
    """The run's stars model (StarsItemFactor rows), kept per process; None for a run without one. A run that blended
    the list score into its stars carries its list model too (loaded first: `_cached_model` loads under its lock)."""
    blended = float((run.parameters or {}).get("stars_list_weight", 0.0)) > 0
    list_factors = item_factors_for_run(run) if blended else None
    return _cached_model(run, "stars", lambda run: _load_stars_model(run, list_factors))


def _factor_rows(
    model, run: TrainingRun, *fields: str, key: str = "movie_id"
) -> tuple[np.ndarray, list[tuple], np.ndarray]:
    """(movie ids (or `key`'s), other fields' values per row, factor matrix float32) of a run's per-movie (per-user)
    rows, ascending ids."""
    rows = list(model.objects.filter(run_id=run.pk).order_by(key).values_list(key, *fields, "factors"))
    rank = len(rows[0][-1]) if rows else 1
    movie_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    matrix = np.array([row[-1] for row in rows], dtype=np.float32).reshape(len(rows), rank)
    return movie_ids, [row[1:-1] for row in rows], np.ascontiguousarray(matrix)


def _load_item_factors(run: TrainingRun) -> ItemFactors:
    movie_ids, _, matrix = _factor_rows(ItemFactor, run)
    parameters = run.parameters or {}
    if "list_rank" in parameters:  # a two-model run: these are the list model's (implicit) factors
        step = {
            "reg_param": float(parameters["list_reg_param"]),
            "implicit_prefs": True,
            "alpha": float(parameters["list_alpha"]),
            "center": float(parameters["list_center"]),
        }
    else:  # a run of one model, explicit unless it said otherwise
        step = {
            "reg_param": float(parameters.get("reg_param", 0.1)),
            "implicit_prefs": bool(parameters.get("implicit_prefs", False)),
            "alpha": float(parameters.get("alpha", 1.0)),
        }
    return ItemFactors(run_id=run.pk, movie_ids=movie_ids, matrix=matrix, **step)


def _load_stars_model(run: TrainingRun, list_factors: ItemFactors | None = None) -> StarsModel | None:
    if run.global_mean is None:
        return None
    from .models import StarsItemFactor

    movie_ids, extra, matrix = _factor_rows(StarsItemFactor, run, "bias")
    parameters = run.parameters or {}
    list_weight = float(parameters.get("stars_list_weight", 0.0))
    blended = {}
    if list_weight > 0 and list_factors is not None:
        blended = {
            "list_weight": list_weight,
            "list_offset": float(parameters.get("stars_list_offset", 0.0)),
            "list_factors": list_factors,
        }
    return StarsModel(
        run_id=run.pk,
        global_mean=float(run.global_mean),
        movie_ids=movie_ids,
        biases=np.fromiter((bias for (bias,) in extra), dtype=np.float64, count=len(extra)),
        matrix=matrix,
        reg_param=float(parameters.get("reg_param", 0.1)),
        reg_user=float(parameters.get("bias_reg_user", 0.0)),
        reg_item=float(parameters.get("bias_reg_item", 0.0)),
        **blended,
    )


def candidate_mask(*, factors: ItemFactors, genre_id: int | None = None, min_ratings: int = 0) -> np.ndarray | None:
    """Rows allowed by the genre and minimum-ratings filters (None: all), cached for a few minutes."""
    masks = []
    if min_ratings > 0:
        counts = rating_counts(factors)
        enough = counts >= min_ratings
        # Movies the run has not trained are shown labelled "new" whatever their count: the filter keeps out
        # trained movies whose factors rest on a handful of ratings, and a new movie's rest on the content map.
        enough[factors.trained_rows :] = True
        masks.append(enough)
    if genre_id is not None:
        masks.append(_cached_mask(factors, ("genre", genre_id), lambda f: _genre_mask(f, genre_id)))
    if not masks:
        return None
    return np.logical_and.reduce(masks) if len(masks) > 1 else masks[0]


def _cached_mask(factors: ItemFactors, key: tuple, load):
    """`load(factors)` (one value per row: an array, or GenreRows), kept for MASK_TTL_SECONDS. With appended movies,
    the run's own rows come from their own cache entry and only the appended ones are loaded."""
    if factors.base is not None:
        tail = ItemFactors(
            run_id=factors.run_id,
            movie_ids=factors.movie_ids[factors.trained_rows :],
            matrix=factors.matrix[factors.trained_rows :],
            reg_param=factors.reg_param,
        )
        head = _cached_mask(factors.base, key, load)
        rest = _cached_value((factors.run_id, "cold", factors.cold_key, *key), lambda: load(tail))
        if isinstance(head, GenreRows):
            return GenreRows(matrix=np.vstack([head.matrix, rest.matrix]), names=head.names)
        return np.concatenate([head, rest])
    return _cached_value((factors.run_id, *key), lambda: load(factors))


def _cached_value(full_key: tuple, load):
    hit = _masks.get(full_key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < MASK_TTL_SECONDS:
        return hit[1]
    value = load()
    if full_key[1] == "cold":  # appended rows change with every rating of a new movie: keep the latest few
        for stale in [k for k in _masks if k[:2] == full_key[:2] and k[2] != full_key[2]][:-8]:
            _masks.pop(stale, None)
    _masks[full_key] = (now, value)
    return value


def _few(queryset, factors: ItemFactors, field: str = "id"):
    """`queryset` narrowed to the movies of `factors` when they are few (the appended new movies): a lookup by id
    instead of a pass over the catalogue."""
    if factors.movie_ids.size <= 1000:
        return queryset.filter(**{f"{field}__in": factors.movie_ids.tolist()})
    return queryset


def _rating_counts(factors: ItemFactors) -> np.ndarray:
    counts = np.zeros(factors.movie_ids.size, dtype=np.int64)
    pairs = _few(Movie.objects.filter(rating_count__gt=0), factors).values_list("id", "rating_count")
    ids, values = zip(*pairs, strict=True) if pairs else ((), ())
    rows, found = factors.rows_of(ids)
    counts[rows[found]] = np.asarray(values, dtype=np.int64)[found]
    return counts


def rating_counts(factors: ItemFactors) -> np.ndarray:
    """Ratings per movie (rows of `factors`), from the catalogue's counts; cached for a few minutes."""
    return _cached_mask(factors, ("counts",), _rating_counts)


def rating_means(factors: ItemFactors) -> np.ndarray:
    """Mean stars per movie (rows of `factors`; NaN without ratings); cached for a few minutes."""
    return _cached_mask(factors, ("means",), _rating_means)


def _rating_means(factors: ItemFactors) -> np.ndarray:
    means = np.full(factors.movie_ids.size, np.nan)
    pairs = list(_few(Movie.objects.filter(rating_mean__isnull=False), factors).values_list("id", "rating_mean"))
    if pairs:
        ids, values = zip(*pairs, strict=True)
        rows, found = factors.rows_of(ids)
        means[rows[found]] = np.asarray(values, dtype=np.float64)[found]
    return means


@dataclass(frozen=True)
class GenreRows:
    """Per movie (rows of a run's factors) its genres as a row summing to 1 (0 without genres), and the names."""

    matrix: np.ndarray  # float64 (movies, genres)
    names: tuple[str, ...]


def genre_rows(factors: ItemFactors) -> GenreRows:
    """The genres of every movie of `factors` (for the genre_mix flavour); cached for a few minutes."""
    return _cached_mask(factors, ("genre-rows",), genre_rows_load)


def genre_rows_load(factors: ItemFactors) -> GenreRows:
    """`genre_rows` read now from the catalogue, uncached (for the offline evaluation of the flavours)."""
    from catalog.models import Genre

    genres = list(Genre.objects.order_by("name").values_list("id", "name"))
    column = {genre_id: i for i, (genre_id, _) in enumerate(genres)}
    matrix = np.zeros((factors.movie_ids.size, len(genres)))
    pairs = list(_few(Movie.genres.through.objects.all(), factors, "movie_id").values_list("movie_id", "genre_id"))
    if pairs:
        movie_ids = [movie_id for movie_id, _ in pairs]
        rows, found = factors.rows_of(movie_ids)
        cols = np.fromiter((column[genre_id] for _, genre_id in pairs), dtype=np.int64, count=len(pairs))
        matrix[rows[found], cols[found]] = 1.0
    totals = matrix.sum(axis=1, keepdims=True)
    matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    return GenreRows(matrix=matrix, names=tuple(name for _, name in genres))


def _genre_mask(factors: ItemFactors, genre_id: int) -> np.ndarray:
    mask = np.zeros(factors.movie_ids.size, dtype=bool)
    ids = _few(Movie.genres.through.objects.filter(genre_id=genre_id), factors, "movie_id").values_list(
        "movie_id", flat=True
    )
    rows, found = factors.rows_of(ids)
    mask[rows[found]] = True
    return mask


# --- The arithmetic: pure NumPy, no database. ---


def user_vector(*, factors: ItemFactors, ratings: Mapping[int, float]) -> UserVector | None:
    """One ALS least-squares step for a user with `ratings` (movie id -> stars); None if none count.

    Ratings of movies the run has no factors for (added after it was trained) are ignored; for an
    implicit model, a user none of whose ratings is above the centre has no preference to rank by.
    """
    if not ratings:
        return None
    rows, found = factors.rows_of(ratings.keys())
    if not found.any():
        return None
    rated_ids = np.fromiter(ratings.keys(), dtype=np.int64)[found]
    values = np.fromiter(ratings.values(), dtype=np.float64)[found]
    v = factors.matrix[rows[found]].astype(np.float64)
    rank = v.shape[1]
    if factors.implicit_prefs:
        # Spark's implicit step: confidence c = 1 + α|r|, preference p = 1 if r > 0.
        values = values - factors.center
        n = int((values > 0).sum())
        if n == 0:
            return None
        c1 = factors.alpha * np.abs(values)
        a = factors.gram + (v.T * c1) @ v
        weights = np.where(values > 0, 1.0 + c1, 0.0)
    else:
        a = v.T @ v
        weights = values
        n = values.size
    a[np.diag_indices(rank)] += factors.reg_param * n
    try:
        a_inv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        a_inv = np.linalg.pinv(a)
    weighted = v * weights[:, None]
    x = a_inv @ weighted.sum(axis=0)
    return UserVector(x=x, a_inv=a_inv, rated_movie_ids=rated_ids, weighted_rated=weighted)


def _as_stars(factors: ItemFactors, raw: np.ndarray) -> np.ndarray:
    return raw if factors.implicit_prefs else np.clip(raw, MIN_STARS, MAX_STARS)


def masked_scores(
    *, factors: ItemFactors, user: UserVector, exclude_movie_ids: Iterable[int] = (), mask: np.ndarray | None = None
) -> np.ndarray:
    """The list model's score of every movie (rows of `factors`), −inf for rated and excluded movies and rows
    outside `mask`."""
    scores = factors.score_all(user.x)
    if mask is not None:
        scores[~mask] = -np.inf
    excluded = np.fromiter(exclude_movie_ids, dtype=np.int64)
    rows, found = factors.rows_of(np.concatenate([excluded, user.rated_movie_ids]))
    scores[rows[found]] = -np.inf
    return scores


def scored_rows(
    *, factors: ItemFactors, user: UserVector, rows: np.ndarray, scores: np.ndarray, reasons=None
) -> list[ScoredMovie]:
    """ScoredMovie for `rows` in their order: the list score (as stars for an explicit run) and the rated movie
    contributing most to it. With A⁻¹ fixed, the score vᵢ·x splits into Σⱼ vᵢᵀA⁻¹(wⱼvⱼ), one term per rated movie."""
    if rows.size == 0:
        return []
    because = _because_of_rows(factors=factors, user=user, rows=rows)
    stars = _as_stars(factors, scores[rows].astype(np.float64))
    reasons = reasons or [None] * rows.size
    return [
        ScoredMovie(
            movie_id=int(factors.movie_ids[row]), score=float(stars[i]), because_movie_id=because[i], reason=reasons[i]
        )
        for i, row in enumerate(rows)
    ]


def _because_of_rows(*, factors: ItemFactors, user: UserVector, rows: np.ndarray) -> list[int | None]:
    contributions = factors.matrix[rows].astype(np.float64) @ (user.a_inv @ user.weighted_rated.T)
    best = contributions.argmax(axis=1)
    best_positive = contributions[np.arange(rows.size), best] > 0
    return [int(user.rated_movie_ids[best[i]]) if best_positive[i] else None for i in range(rows.size)]


def because_movie_ids(*, factors: ItemFactors, user: UserVector, movie_ids: Sequence[int]) -> list[int | None]:
    """For each of `movie_ids`, the rated movie contributing most to its list score (as `scored_rows` names it);
    None for a movie the run does not know or no rating pulls towards. For lists ranked elsewhere (the stored top-N)."""
    rows, found = factors.rows_of(movie_ids)
    result: list[int | None] = [None] * len(movie_ids)
    if found.any():
        named = _because_of_rows(factors=factors, user=user, rows=rows[found])
        for i, because in zip(np.flatnonzero(found), named, strict=True):
            result[int(i)] = because
    return result


def top_movies(
    *,
    factors: ItemFactors,
    user: UserVector,
    exclude_movie_ids: Iterable[int] = (),
    limit: int = 50,
    mask: np.ndarray | None = None,
) -> list[ScoredMovie]:
    """The `limit` best-scored movies, leaving out excluded ones and rows outside `mask`; each names the rated movie
    contributing most to its score (`scored_rows`)."""
    if limit <= 0 or factors.movie_ids.size == 0:
        return []
    scores = masked_scores(factors=factors, user=user, exclude_movie_ids=exclude_movie_ids, mask=mask)
    return scored_rows(factors=factors, user=user, rows=top_rows(scores, limit), scores=scores)


def predict(*, factors: ItemFactors, user: UserVector, movie_id: int) -> float | None:
    """Predicted stars for one movie, or None if the run has no factors for it."""
    rows, found = factors.rows_of([movie_id])
    if not found[0]:
        return None
    raw = float(factors.matrix[rows[0]].astype(np.float64) @ user.x)
    return float(_as_stars(factors, np.array([raw]))[0])


@dataclass(frozen=True)
class StarsUser:
    """A user folded into the stars model: a prediction for movie i is μ + bias + b_i + v_i·x, clipped."""

    bias: float
    x: np.ndarray  # float64 (rank,)
    ratings_used: int  # the user's ratings of movies the model knows (0: an average user, bias 0 and x 0)


def stars_user(*, model: StarsModel, ratings: Mapping[int, float]) -> StarsUser:
    """The stars model's user terms for `ratings` (movie id -> stars): b_u, then x on the residuals.
    Ratings of unknown movies are ignored; with none left the user is average (b_u = 0, x = 0).
    A blended model (`list_weight` > 0): x solves the stars columns only, its list columns are w times the user's
    fold-in into the list model (`user_vector`; zeros when it has none) and the bias gains the offset, as the
    retrain fitted and published them."""
    rows, found = model.rows_of(ratings.keys())
    values = np.fromiter(ratings.values(), dtype=np.float64, count=len(ratings))[found]
    rows = rows[found]
    n = rows.size
    x = np.zeros(model.matrix.shape[1])
    blended = model.list_weight > 0 and model.list_factors is not None
    stars_rank = model.matrix.shape[1] - (model.list_factors.matrix.shape[1] if blended else 0)
    user_bias = 0.0
    if n:
        item_bias = model.biases[rows]
        user_bias = float((values - model.global_mean - item_bias).sum() / (model.reg_user + n))
        residuals = values - model.global_mean - user_bias - item_bias
        v = model.matrix[rows, :stars_rank].astype(np.float64)
        a = v.T @ v
        a[np.diag_indices(a.shape[0])] += model.reg_param * n
        try:
            x[:stars_rank] = np.linalg.solve(a, v.T @ residuals)
        except np.linalg.LinAlgError:
            x[:stars_rank] = np.linalg.pinv(a) @ (v.T @ residuals)
        if blended:
            user_bias += model.list_offset
            listed = user_vector(factors=model.list_factors, ratings=ratings)
            if listed is not None:
                x[stars_rank:] = model.list_weight * listed.x
    return StarsUser(bias=user_bias, x=x, ratings_used=n)


def predict_stars(*, model: StarsModel, ratings: Mapping[int, float], movie_ids: Iterable[int]) -> np.ndarray:
    """The stars model's predictions for `movie_ids` with the user's `ratings` folded in (NaN for movies the
    run does not know). Ratings of unknown movies are ignored; with none left the user is average (b_u = 0)."""
    targets, target_found = model.rows_of(movie_ids)
    result = np.full(target_found.size, np.nan)
    if not target_found.any():
        return result
    user = stars_user(model=model, ratings=ratings)
    chosen = targets[target_found]
    raw = model.global_mean + user.bias + model.biases[chosen] + model.matrix[chosen].astype(np.float64) @ user.x
    result[target_found] = np.clip(raw, MIN_STARS, MAX_STARS)
    return result


def similar_rows(*, factors: ItemFactors, movie_id: int, limit: int, among: int = 0) -> list[tuple[int, float]]:
    """The `limit` movies (rows from `among` on) with the highest cosine similarity of their factors to `movie_id`'s,
    itself and zero vectors left out: [(movie id, cosine)], best first. Empty if the movie has no factors.

    What the retrain's similar-movies stage computes, for one movie: new movies' lists, and the new movies that may
    join a trained movie's stored list (`among` = factors.trained_rows)."""
    rows, found = factors.rows_of([movie_id])
    if not found[0] or limit <= 0:
        return []
    target = factors.matrix[rows[0]].astype(np.float64)
    target_norm = np.linalg.norm(target)
    candidates = factors.matrix[among:].astype(np.float64)
    if target_norm == 0 or candidates.shape[0] == 0:
        return []
    norms = np.linalg.norm(candidates, axis=1)
    cosine = np.full(candidates.shape[0], -np.inf)
    nonzero = norms > 0
    cosine[nonzero] = candidates[nonzero] @ target / (norms[nonzero] * target_norm)
    if rows[0] >= among:
        cosine[rows[0] - among] = -np.inf
    best = top_rows(cosine, limit)
    return [(int(factors.movie_ids[among + i]), float(cosine[i])) for i in best if np.isfinite(cosine[i])]
