"""Fold-in: recommendations that reflect a user's ratings the moment they are saved.

A retrain takes minutes; a person who has just rated a film expects the next page to know.
The active run's item factors V stay fixed, and the user's vector is recomputed from their
current ratings with the one least-squares step Spark's explicit ALS makes for a user:

    x = (VₛᵀVₛ + λ·n·I)⁻¹ Vₛᵀ r

where Vₛ are the factors of the n rated movies, r the ratings and λ the run's reg_param. Every
movie is scored as V·x, and the best unrated ones win. For an implicit-preference run the
step is the implicit one (YᵀY + Σ c·v·vᵀ + λ·n·I), and scores are preferences, not stars.
Spark's nonnegative option (NNLS) is not reproduced: the unconstrained solve is close enough
to rank with.

The factor matrix is loaded once per run and process (float32, ~2.4 MB for 59K movies at
rank 10), so a call is a k×k solve and one matrix-vector product: well under a millisecond
of NumPy work (bench/bench_foldin.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from catalog.models import Movie

from .models import ItemFactor, TrainingRun

MIN_STARS = 0.5
MAX_STARS = 5.0
# Filter masks (rating counts, genres) change slowly; reload them after this many seconds.
MASK_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class ItemFactors:
    """A run's item factors as one matrix; row i holds the factors of movie_ids[i] (sorted)."""

    run_id: int
    movie_ids: np.ndarray  # int64, ascending
    matrix: np.ndarray  # float32, (movies, rank), C-contiguous
    reg_param: float
    implicit_prefs: bool = False
    alpha: float = 1.0

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
        """VᵀV in float64, needed by the implicit step; computed on first use."""
        cached = getattr(self, "_gram", None)
        if cached is None:
            cached = self.matrix.T.astype(np.float64) @ self.matrix.astype(np.float64)
            object.__setattr__(self, "_gram", cached)
        return cached

    def rows_of(self, movie_ids: Iterable[int]) -> tuple[np.ndarray, np.ndarray]:
        """(rows, found) for the given movie ids: rows[found] index the matrix."""
        ids = np.fromiter(movie_ids, dtype=np.int64)
        if ids.size == 0 or self.movie_ids.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(ids.size, dtype=bool)
        rows = np.searchsorted(self.movie_ids, ids)
        rows = np.minimum(rows, self.movie_ids.size - 1)
        found = self.movie_ids[rows] == ids
        return rows, found


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
    score: float  # predicted stars (clipped to 0.5..5) for explicit runs; a preference for implicit ones
    because_movie_id: int | None  # the rated movie contributing most to the score


# --- The cache: one matrix per run, in process memory. ---

_lock = threading.Lock()
_factors: dict[int, ItemFactors] = {}
_masks: dict[tuple, tuple[float, np.ndarray]] = {}
_KEEP_RUNS = 2  # the active run and the one it replaced, while requests drain


def foldin_cache_clear() -> None:
    with _lock:
        _factors.clear()
        _masks.clear()


def item_factors_for_run(run: TrainingRun) -> ItemFactors:
    """The run's item factors, loaded from ItemFactor rows on first use and kept per process."""
    cached = _factors.get(run.pk)
    if cached is not None:
        return cached
    with _lock:
        cached = _factors.get(run.pk)
        if cached is None:
            cached = _load_item_factors(run)
            for stale in list(_factors)[: max(len(_factors) - _KEEP_RUNS + 1, 0)]:
                del _factors[stale]
                for key in [k for k in _masks if k[0] == stale]:
                    del _masks[key]
            _factors[run.pk] = cached
    return cached


def _load_item_factors(run: TrainingRun) -> ItemFactors:
    rows = list(ItemFactor.objects.filter(run_id=run.pk).order_by("movie_id").values_list("movie_id", "factors"))
    parameters = run.parameters or {}
    rank = len(rows[0][1]) if rows else int(parameters.get("rank", 1))
    movie_ids = np.fromiter((movie_id for movie_id, _ in rows), dtype=np.int64, count=len(rows))
    matrix = np.array([factors for _, factors in rows], dtype=np.float32).reshape(len(rows), rank)
    return ItemFactors(
        run_id=run.pk,
        movie_ids=movie_ids,
        matrix=np.ascontiguousarray(matrix),
        reg_param=float(parameters.get("reg_param", 0.1)),
        implicit_prefs=bool(parameters.get("implicit_prefs", False)),
        alpha=float(parameters.get("alpha", 1.0)),
    )


def candidate_mask(*, factors: ItemFactors, genre_id: int | None = None, min_ratings: int = 0) -> np.ndarray | None:
    """Rows allowed by the genre and minimum-ratings filters (None: all), cached for a few minutes."""
    masks = []
    if min_ratings > 0:
        counts = _cached_mask(factors, ("counts",), lambda: _rating_counts(factors))
        masks.append(counts >= min_ratings)
    if genre_id is not None:
        masks.append(_cached_mask(factors, ("genre", genre_id), lambda: _genre_mask(factors, genre_id)))
    if not masks:
        return None
    return np.logical_and.reduce(masks) if len(masks) > 1 else masks[0]


def _cached_mask(factors: ItemFactors, key: tuple, load) -> np.ndarray:
    full_key = (factors.run_id, *key)
    hit = _masks.get(full_key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < MASK_TTL_SECONDS:
        return hit[1]
    value = load()
    _masks[full_key] = (now, value)
    return value


def _rating_counts(factors: ItemFactors) -> np.ndarray:
    counts = np.zeros(factors.movie_ids.size, dtype=np.int64)
    pairs = Movie.objects.filter(rating_count__gt=0).values_list("id", "rating_count")
    ids, values = zip(*pairs, strict=True) if pairs else ((), ())
    rows, found = factors.rows_of(ids)
    counts[rows[found]] = np.asarray(values, dtype=np.int64)[found]
    return counts


def _genre_mask(factors: ItemFactors, genre_id: int) -> np.ndarray:
    mask = np.zeros(factors.movie_ids.size, dtype=bool)
    ids = Movie.genres.through.objects.filter(genre_id=genre_id).values_list("movie_id", flat=True)
    rows, found = factors.rows_of(ids)
    mask[rows[found]] = True
    return mask


# --- The arithmetic: pure NumPy, no database. ---


def user_vector(*, factors: ItemFactors, ratings: Mapping[int, float]) -> UserVector | None:
    """One ALS least-squares step for a user with `ratings` (movie id -> stars); None if none count.

    Ratings of movies the run has no factors for (added after it was trained) are ignored.
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
        c1 = factors.alpha * np.abs(values)
        a = factors.gram + (v.T * c1) @ v
        weights = np.where(values > 0, 1.0 + c1, 0.0)
        n = int((values > 0).sum())
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


def top_movies(
    *,
    factors: ItemFactors,
    user: UserVector,
    exclude_movie_ids: Iterable[int] = (),
    limit: int = 50,
    mask: np.ndarray | None = None,
) -> list[ScoredMovie]:
    """The `limit` best-scored movies, leaving out excluded ones and rows outside `mask`.

    Each result names the rated movie contributing most to its score: with A⁻¹ fixed, the
    score vᵢ·x splits into Σⱼ vᵢᵀA⁻¹(wⱼvⱼ), one term per rated movie.
    """
    if limit <= 0 or factors.movie_ids.size == 0:
        return []
    scores = factors.score_all(user.x)
    if mask is not None:
        scores[~mask] = -np.inf
    excluded = np.fromiter(exclude_movie_ids, dtype=np.int64)
    rows, found = factors.rows_of(np.concatenate([excluded, user.rated_movie_ids]))
    scores[rows[found]] = -np.inf
    available = int(np.isfinite(scores).sum())
    limit = min(limit, available)
    if limit == 0:
        return []
    if limit < scores.size:
        top = np.argpartition(-scores, limit - 1)[:limit]
    else:
        top = np.arange(scores.size)
    top = top[np.argsort(-scores[top], kind="stable")]
    contributions = factors.matrix[top].astype(np.float64) @ (user.a_inv @ user.weighted_rated.T)
    best = contributions.argmax(axis=1)
    best_positive = contributions[np.arange(top.size), best] > 0
    stars = _as_stars(factors, scores[top].astype(np.float64))
    return [
        ScoredMovie(
            movie_id=int(factors.movie_ids[row]),
            score=float(stars[i]),
            because_movie_id=int(user.rated_movie_ids[best[i]]) if best_positive[i] else None,
        )
        for i, row in enumerate(top)
    ]


def predict(*, factors: ItemFactors, user: UserVector, movie_id: int) -> float | None:
    """Predicted stars for one movie, or None if the run has no factors for it."""
    rows, found = factors.rows_of([movie_id])
    if not found[0]:
        return None
    raw = float(factors.matrix[rows[0]].astype(np.float64) @ user.x)
    return float(_as_stars(factors, np.array([raw]))[0])


# --- The entry points the site uses: read the user's current ratings, fold in, score. ---


def _current_ratings(user) -> dict[int, float]:
    from ratings.selectors import rating_values_for_user

    return rating_values_for_user(user=user)


def recommend_for_user(
    *,
    user,
    run: TrainingRun,
    ratings: Mapping[int, float] | None = None,
    exclude_movie_ids: Iterable[int] = (),
    limit: int = 50,
    genre_id: int | None = None,
    min_ratings: int = 0,
) -> list[ScoredMovie] | None:
    """Top movies for `user` from `run` with their current ratings folded in.

    None when the user has no rating the run can use (the caller shows popular movies then).
    Rated and excluded movies never appear. Reads the user's ratings unless given.
    """
    factors = item_factors_for_run(run)
    vector = user_vector(factors=factors, ratings=_current_ratings(user) if ratings is None else ratings)
    if vector is None:
        return None
    mask = candidate_mask(factors=factors, genre_id=genre_id, min_ratings=min_ratings)
    return top_movies(factors=factors, user=vector, exclude_movie_ids=exclude_movie_ids, limit=limit, mask=mask)


def predicted_rating(*, user, movie: Movie, run: TrainingRun | None = None) -> float | None:
    """The stars the active run (folded in with the user's current ratings) predicts for `movie`.

    None for anonymous users, without an active run, for implicit runs, for movies the run
    has no factors for, and for users without a usable rating.
    """
    if not user.is_authenticated:
        return None
    if run is None:
        from .selectors import training_run_active  # the selectors call into this module

        run = training_run_active()
    if run is None:
        return None
    factors = item_factors_for_run(run)
    if factors.implicit_prefs:
        return None
    vector = user_vector(factors=factors, ratings=_current_ratings(user))
    if vector is None:
        return None
    return predict(factors=factors, user=vector, movie_id=movie.pk)
