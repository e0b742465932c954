"""New movies served without a retrain: the item fold-in and the serving run's terms with them appended.

A movie without an ItemFactor in the serving run (added in the admin or by an import since, or unrated when the
run exported) gets terms for both models from its raters' terms in the run (the reverse of the user fold-in:
recommendations.content.item_fold_in_list / item_fold_in_stars, the one implementation the offline
`evaluate --cold-items` uses too), shrunk toward the content map's prior (content_prior) while it has few ratings;
with none it has the prior alone. The raters' terms are the
run's published ones (UserFactor, StarsUserFactor), fixed for the run, so a movie's terms depend only on the run
and its ratings: they are cached per (run, movie, catalog_movie.rating_version), which database triggers bump in
the transaction of any change to its ratings, so the cache is never stale. Raters the run does not know (signed up
since) are not used until the next retrain.

`serving_item_factors` / `serving_stars_model` are the run's own matrices with these movies appended after the
run's rows (ItemFactors.base, .order), so every fold-in, flavour, filter and prediction sees them like trained
movies. Which movies are new is asked of the database on every call with one indexed query
(`_cold_versions`): the movies not trained that existed when the process last looked (refreshed every
COLD_BASE_SECONDS) and any movie with a higher id, i.e. every movie added since; a deleted movie is simply no
longer returned, and the site's lists drop movies that are gone. The API's recommendations ask it inside the
token's query instead (`cold_probe_sql`, `cold_probe_attach`): the same query on the same base, read in the
request's one round trip.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings
from django.db import connection

from catalog.models import Movie
from ratings.models import Rating

from . import content, foldin
from .models import ItemFactor, StarsUserFactor, TrainingRun, UserFactor

# How often each process re-reads which of the catalogue's older movies the run has not trained (an import can add
# movies with ids below the highest); movies added since (higher ids) are seen at once.
COLD_BASE_SECONDS = 60.0
# Solved terms kept per process (keyed by run, movie and rating version).
TERMS_CACHE_SIZE = 20_000


@dataclass(frozen=True)
class ItemTerms:
    """A movie's terms solved by the item fold-in: list-model factors and, for a two-model run, its stars bias and
    stars factors (None without a stars model)."""

    list_factors: np.ndarray  # float64 (list rank,)
    stars_bias: float | None = None
    stars_factors: np.ndarray | None = None  # float64 (stars rank,)


@dataclass(frozen=True)
class ColdItems:
    """The serving run's new movies (not trained) and their folded-in terms, rows in ascending movie id."""

    run_id: int
    movie_ids: np.ndarray  # int64
    versions: np.ndarray  # int64, catalog_movie.rating_version
    ratings_used: np.ndarray  # int64: raters known to the run (0: the content prior alone)
    list_matrix: np.ndarray  # float32 (n, list rank)
    stars_biases: np.ndarray | None  # float64 (n,)
    stars_matrix: np.ndarray | None  # float32 (n, stars rank)

    # Cached: one ColdItems serves every request while the new movies and their versions stay the same.
    @functools.cached_property
    def key(self) -> tuple:
        return tuple(zip(self.movie_ids.tolist(), self.versions.tolist(), strict=True))

    @functools.cached_property
    def movie_id_set(self) -> frozenset[int]:
        return frozenset(self.movie_ids.tolist())

    @functools.cached_property
    def list_matrix_wide(self) -> np.ndarray:
        """list_matrix as float64, for scoring."""
        return self.list_matrix.astype(np.float64)

    @functools.cached_property
    def digest(self) -> str:
        """A short name of `key` for cache keys shared between processes."""
        if self.movie_ids.size == 0:
            return "-"
        data = np.concatenate([self.movie_ids, self.versions]).astype("<i8").tobytes()
        return hashlib.blake2b(data, digest_size=8).hexdigest()


@dataclass(frozen=True)
class _RunUsers:
    user_ids: np.ndarray  # int64 ascending
    list_matrix: np.ndarray  # float32 (users, list rank)
    gram: np.ndarray  # float64 UᵀU
    mean_square: float  # mean of ‖u‖² / rank: the scale of one rater's term
    stars_ids: np.ndarray  # int64 ascending
    stars_biases: np.ndarray
    stars_matrix: np.ndarray


_lock = threading.Lock()
# run -> (loaded at, highest id then, untrained ids, generation: a number no other base of the process had)
_bases: dict[int, tuple[float, int, tuple[int, ...], int]] = {}
_generations = itertools.count(1)
_probe_sql: tuple[tuple | None, str] | None = None  # (the base it was built for, the SQL)
_last_cold: dict[int, tuple[list[tuple[int, int]], ColdItems]] = {}  # run -> (versions, what they gave)
_last_rows: dict[int, tuple[list, list[tuple[int, int]]]] = {}  # run -> (the query's rows, of them untrained)
_users: dict[int, _RunUsers] = {}
_terms: OrderedDict[tuple[int, int, int], tuple[ItemTerms, int]] = OrderedDict()
_serving: dict[tuple[int, str], tuple[tuple, object]] = {}


def cold_items_cache_clear() -> None:
    with _lock:
        _bases.clear()
        _users.clear()
        _terms.clear()
        _serving.clear()
        _last_cold.clear()
        _last_rows.clear()


def _cold_base(run: TrainingRun) -> tuple[float, int, tuple[int, ...], int]:
    now = time.monotonic()
    hit = _bases.get(run.pk)
    if hit is not None and now - hit[0] < COLD_BASE_SECONDS:
        return hit
    movie, item = Movie._meta.db_table, ItemFactor._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {movie}")
        (highest,) = cursor.fetchone()
        cursor.execute(
            f"SELECT m.id FROM {movie} m WHERE m.id <= %s AND NOT EXISTS "
            f"(SELECT 1 FROM {item} f WHERE f.run_id = %s AND f.movie_id = m.id) ORDER BY m.id",
            [highest, run.pk],
        )
        untrained = tuple(row[0] for row in cursor.fetchall())
    base = (now, highest, untrained, next(_generations))
    with _lock:
        for stale in [key for key in _bases if key != run.pk]:
            _bases.pop(stale, None)
        _bases[run.pk] = base
    return base


def _cold_query(base: tuple[float, int, tuple[int, ...], int]) -> tuple[str, list]:
    """The query for (movie id, rating version) of the movies new to the base's run: every id above the highest one
    then, and the ones it had not trained then."""
    return (
        f"SELECT id, rating_version FROM {Movie._meta.db_table} WHERE id > %s OR id = ANY(%s) ORDER BY id",
        [base[1], list(base[2])],
    )


def cold_probe_sql(*, run_column: str) -> str | None:
    """SQL columns (generation, movie ids, rating versions) asking `_cold_versions`' question of the process's latest
    base, to be selected alongside the active run's id (`run_column`, e.g. `run.id`) in another query, or None
    before the process has a base. The columns are NULL when the run read is not the base's (a new active run: the
    base says nothing about it), else the query's answer as two arrays (NULL for none); `cold_probe_attach` hands
    them to `cold_items_for_run`. The text is the same string object while the base is.

    It is a LATERAL subquery: `... LEFT JOIN LATERAL (<this>) probe ON <run_column> = <the base's run>`.
    """
    global _probe_sql
    bases = list(_bases.items())
    if not bases:
        return None
    run_id, base = bases[-1]
    probe = _probe_sql
    if probe is not None and probe[0] == (run_id, base):
        return probe[1]
    untrained = ",".join(str(int(movie_id)) for movie_id in base[2])
    table = connection.ops.quote_name(Movie._meta.db_table)
    sql = (
        f"(SELECT {int(base[3])} AS cold_generation, array_agg(m.id ORDER BY m.id) AS cold_ids, "
        f"array_agg(m.rating_version ORDER BY m.id) AS cold_versions FROM {table} m "
        f"WHERE m.id > {int(base[1])} OR m.id = ANY('{{{untrained}}}'::bigint[])) cold_probe "
        f"ON {run_column} = {int(run_id)}"
    )
    _probe_sql = ((run_id, base), sql)
    return sql


def cold_probe_attach(run: TrainingRun, columns: tuple) -> None:
    """Keep on `run` (read in the same query) the answer of its cold_probe_sql columns, for `_cold_versions` to use
    instead of asking again. Only for a run read in this request with nothing written since (a GET)."""
    generation, ids, versions = columns
    if generation is not None:
        run._cold_probe = (generation, list(zip(ids or (), versions or (), strict=True)))


def untrained_movie_ids(run: TrainingRun) -> list[int]:
    """Ids of the catalogue's movies `run` has no list-model factors for (its new arrivals), ascending.

    The anti-join of the catalogue against the run's factors (every movie checked: 20-100 ms at 59,047 movies) runs
    at most once per COLD_BASE_SECONDS per process; each call is then one query on the primary key: the movies with
    a higher id than the catalogue's highest then (added since, so never trained by a published run) and those
    older ones found untrained."""
    with connection.cursor() as cursor:
        cursor.execute(*_cold_query(_cold_base(run)))
        return [row[0] for row in cursor.fetchall()]


def _cold_versions(run: TrainingRun) -> list[tuple[int, int]]:
    """(movie id, rating version) of every movie of the catalogue the run has not trained, ascending ids."""
    trained = foldin.item_factors_for_run(run)
    if not trained.implicit_prefs:  # a legacy run of one explicit model: new movies wait for the next retrain
        return []
    base = _cold_base(run)
    probe = getattr(run, "_cold_probe", None)
    if probe is not None and probe[0] == base[3]:
        rows = probe[1]  # asked in the run's own query, on this very base
    else:
        with connection.cursor() as cursor:
            cursor.execute(*_cold_query(base))
            rows = cursor.fetchall()
    if not rows:
        return []
    last = _last_rows.get(run.pk)
    if last is not None and last[0] == rows:
        return last[1]  # the same answer as last time: the same movies untrained
    _, found = trained.rows_of(row[0] for row in rows)
    versions = [row for row, known in zip(rows, found, strict=True) if not known]
    with _lock:
        _last_rows.clear()
        _last_rows[run.pk] = (rows, versions)
    return versions


def _run_users(run: TrainingRun) -> _RunUsers:
    hit = _users.get(run.pk)
    if hit is not None:
        return hit
    with _lock:
        if run.pk not in _users:
            user_ids, _, matrix = foldin._factor_rows(UserFactor, run, key="user_id")
            stars_ids, extra, stars_matrix = foldin._factor_rows(StarsUserFactor, run, "bias", key="user_id")
            wide = matrix.astype(np.float64)
            _users.clear()  # only the serving run's are asked for
            _users[run.pk] = _RunUsers(
                user_ids=user_ids,
                list_matrix=matrix,
                gram=wide.T @ wide,
                mean_square=float((wide**2).sum() / max(wide.size, 1)),
                stars_ids=stars_ids,
                stars_biases=np.fromiter((bias for (bias,) in extra), dtype=np.float64, count=len(extra)),
                stars_matrix=stars_matrix,
            )
    return _users[run.pk]


def _rows(ids: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if ids.size == 0:
        return np.zeros(wanted.size, dtype=np.int64), np.zeros(wanted.size, dtype=bool)
    rows = np.minimum(np.searchsorted(ids, wanted), ids.size - 1)
    return rows, ids[rows] == wanted


def _prior(*, run: TrainingRun, movie_ids: list[int], list_rank: int, stars_rank: int):
    """(list factors (n, list rank), stars biases (n,), stars factors (n, stars rank)) of the content map; zeros for a
    movie without one (a run without a map, or a map of other ranks)."""
    n = len(movie_ids)
    list_factors, stars_biases, stars_factors = np.zeros((n, list_rank)), np.zeros(n), np.zeros((n, stars_rank))
    prior = content.content_prior(run=run, movie_ids=movie_ids)
    found = prior.found
    if found.any() and prior.list_factors.shape[1] == list_rank:
        list_factors[found] = prior.list_factors[found]
    if found.any() and stars_rank and prior.stars_factors.shape[1] == stars_rank:
        stars_biases[found] = prior.stars_bias[found]
        stars_factors[found] = prior.stars_factors[found]
    return list_factors, stars_biases, stars_factors


def item_terms_solve(
    *,
    run: TrainingRun,
    ratings: dict[int, list[tuple[int, float]]],
    movie_ids: list[int],
) -> dict[int, tuple[ItemTerms, int]]:
    """Both models' terms for `movie_ids` from `ratings` (movie id -> [(user id, stars)]) and the run's user terms,
    shrunk toward the content prior; per movie (terms, raters used). The one implementation behind the site and
    offline evaluations (an evaluation passes its held-out movies' first ratings). ITEM_FOLDIN_PRIOR_RATINGS sets
    how many ratings the prior weighs like."""
    factors = foldin.item_factors_for_run(run)
    stars = foldin.stars_model_for_run(run)
    users = _run_users(run)
    list_rank = factors.matrix.shape[1]
    stars_rank = stars.matrix.shape[1] if stars is not None else 0
    prior_list, prior_biases, prior_stars = _prior(
        run=run, movie_ids=movie_ids, list_rank=list_rank, stars_rank=stars_rank
    )
    weight = float(settings.ITEM_FOLDIN_PRIOR_RATINGS)
    # The prior weighs like `weight` ratings (the same scaling as the offline evaluate --cold-items).
    list_weight = content.list_prior_strength(
        prior_ratings=weight, alpha=factors.alpha, users_mean_square=users.mean_square
    )
    stars_mean_square = float((users.stars_matrix.astype(np.float64) ** 2).mean()) if users.stars_matrix.size else 0.0
    result = {}
    for i, movie_id in enumerate(movie_ids):
        pairs = ratings.get(movie_id, [])
        user_ids = np.fromiter((u for u, _ in pairs), dtype=np.int64, count=len(pairs))
        values = np.fromiter((v for _, v in pairs), dtype=np.float64, count=len(pairs))
        rows, found = _rows(users.user_ids, user_ids)
        list_factors = content.item_fold_in_list(
            user_factors=users.list_matrix[rows[found]],
            values=values[found],
            prior=prior_list[i],
            users_gram=users.gram,
            reg_param=factors.reg_param,
            alpha=factors.alpha,
            center=factors.center,
            prior_strength=list_weight,
        )
        stars_bias = stars_factors = None
        if stars is not None:
            srows, sfound = _rows(users.stars_ids, user_ids)
            stars_bias, stars_factors = content.item_fold_in_stars(
                user_factors=users.stars_matrix[srows[sfound]],
                user_biases=users.stars_biases[srows[sfound]],
                values=values[sfound],
                global_mean=stars.global_mean,
                prior_bias=float(prior_biases[i]),
                prior=prior_stars[i],
                reg_param=stars.reg_param,
                # The prior bias weighs like the retrain's bias regularisation plus `weight` ratings.
                reg_item=stars.reg_item + weight,
                prior_strength=weight * stars_mean_square,
            )
        terms = ItemTerms(list_factors=list_factors, stars_bias=stars_bias, stars_factors=stars_factors)
        result[movie_id] = (terms, int(found.sum()))
    return result


def cold_items_for_run(run: TrainingRun) -> ColdItems:
    """The run's new movies with their terms: cached terms per (run, movie, version), the rest solved now (one query
    for their ratings)."""
    versions = _cold_versions(run)
    last = _last_cold.get(run.pk)
    if last is not None and last[0] == versions:
        return last[1]  # the same movies at the same rating versions: the same terms
    missing = [(m, v) for m, v in versions if (run.pk, m, v) not in _terms]
    if missing:
        ids = [m for m, _ in missing]
        ratings: dict[int, list[tuple[int, float]]] = {}
        for user_id, movie_id, value in Rating.objects.filter(movie_id__in=ids).values_list(
            "user_id", "movie_id", "value"
        ):
            ratings.setdefault(movie_id, []).append((user_id, float(value)))
        solved = item_terms_solve(run=run, ratings=ratings, movie_ids=ids)
        with _lock:
            for movie_id, version in missing:
                _terms[(run.pk, movie_id, version)] = solved[movie_id]
            while len(_terms) > TERMS_CACHE_SIZE:
                _terms.popitem(last=False)
    factors = foldin.item_factors_for_run(run)
    stars = foldin.stars_model_for_run(run)
    entries = [_terms[(run.pk, m, v)] for m, v in versions]
    n = len(entries)
    list_matrix = np.zeros((n, factors.matrix.shape[1]), dtype=np.float32)
    stars_biases = np.zeros(n) if stars is not None else None
    stars_matrix = np.zeros((n, stars.matrix.shape[1]), dtype=np.float32) if stars is not None else None
    for i, (terms, _) in enumerate(entries):
        list_matrix[i] = terms.list_factors
        if stars is not None:
            stars_biases[i] = terms.stars_bias
            stars_matrix[i] = terms.stars_factors
    cold = ColdItems(
        run_id=run.pk,
        movie_ids=np.fromiter((m for m, _ in versions), dtype=np.int64, count=n),
        versions=np.fromiter((v for _, v in versions), dtype=np.int64, count=n),
        ratings_used=np.fromiter((used for _, used in entries), dtype=np.int64, count=n),
        list_matrix=list_matrix,
        stars_biases=stars_biases,
        stars_matrix=stars_matrix,
    )
    with _lock:
        _last_cold.clear()  # only the serving run's are asked for
        _last_cold[run.pk] = (versions, cold)
    return cold


def _serving_cached(run: TrainingRun, kind: str, cold: ColdItems, build):
    key = (run.pk, kind)
    hit = _serving.get(key)
    if hit is not None and hit[0] == cold.key:
        return hit[1]
    value = build()
    with _lock:
        for stale in [k for k in _serving if k[0] != run.pk]:
            _serving.pop(stale, None)
        _serving[key] = (cold.key, value)
    return value


def serving_item_factors(run: TrainingRun, cold: ColdItems | None = None) -> foldin.ItemFactors:
    """The run's list-model factors with its new movies appended (the run's own when there are none)."""
    factors = foldin.item_factors_for_run(run)
    cold = cold_items_for_run(run) if cold is None else cold
    if cold.movie_ids.size == 0:
        return factors

    def build():
        movie_ids = np.concatenate([factors.movie_ids, cold.movie_ids])
        return foldin.ItemFactors(
            run_id=factors.run_id,
            movie_ids=movie_ids,
            matrix=np.ascontiguousarray(np.vstack([factors.matrix, cold.list_matrix])),
            reg_param=factors.reg_param,
            implicit_prefs=factors.implicit_prefs,
            alpha=factors.alpha,
            center=factors.center,
            order=np.argsort(movie_ids, kind="stable"),
            base=factors,
            cold_key=cold.key,
        )

    return _serving_cached(run, "items", cold, build)


def serving_stars_model(run: TrainingRun, cold: ColdItems | None = None) -> foldin.StarsModel | None:
    """The run's stars model with its new movies appended; None for a run without one."""
    stars = foldin.stars_model_for_run(run)
    if stars is None:
        return None
    cold = cold_items_for_run(run) if cold is None else cold
    if cold.movie_ids.size == 0:
        return stars

    def build():
        movie_ids = np.concatenate([stars.movie_ids, cold.movie_ids])
        return replace(
            stars,
            movie_ids=movie_ids,
            biases=np.concatenate([stars.biases, cold.stars_biases]),
            matrix=np.ascontiguousarray(np.vstack([stars.matrix, cold.stars_matrix])),
            order=np.argsort(movie_ids, kind="stable"),
        )

    return _serving_cached(run, "stars", cold, build)


def run_user_stars_terms(*, run: TrainingRun, user_id: int) -> tuple[float, np.ndarray] | None:
    """The stars model's published terms (b_u, u) of one user in `run`; None if the run has none for them."""
    users = _run_users(run)
    rows, found = _rows(users.stars_ids, np.array([user_id], dtype=np.int64))
    if not found[0]:
        return None
    return float(users.stars_biases[rows[0]]), users.stars_matrix[rows[0]].astype(np.float64)
