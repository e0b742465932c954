"""Reads for recommendations: the active run and what it publishes."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Exists, OuterRef, QuerySet

from accounts.authentication import TokenQueryAddition, token_user_column
from accounts.selectors import user_taste_version
from catalog.models import Genre, Movie
from catalog.selectors import movie_in_bulk_cached, movie_list_popular
from ratings.models import Rating
from ratings.selectors import not_interested_movie_ids, rating_histograms, rating_values_for_user

from . import cold_items, flavours, foldin, onboarding
from .metrics import observe_foldin
from .models import (
    EvaluationReport,
    ItemFactor,
    ListPreference,
    Recommendation,
    SimilarMovie,
    TrainingRun,
    TunedParameters,
    UserFactor,
)


def training_run_active() -> TrainingRun | None:
    return TrainingRun.objects.filter(is_active=True).first()


# What serving reads of the active run (its rows are keyed by the id; fold-in needs the parameters and mu).
_SERVING_FIELDS = ("id", "parameters", "global_mean")


def training_run_serving() -> TrainingRun | None:
    """The active run for request handling: the same row as `training_run_active`, with only the fields serving
    reads (`_SERVING_FIELDS`; any other is loaded on first access, one query).

    One query per call, as before, so a request never sees an older run than one it saw earlier. Written as SQL
    rather than through the ORM: compiling `.filter(is_active=True).first()` cost ~0.27 ms of CPU on every API
    request, a quarter of the recommendations endpoint's, against ~0.02 ms to run it (bench/bench_api.py).
    """
    with connection.cursor() as cursor:
        cursor.execute(_serving_sql())
        row = cursor.fetchone()
    return None if row is None else _serving_run_from_row(row)


@functools.cache
def _serving_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {', '.join(quote(TrainingRun._meta.get_field(name).column) for name in _SERVING_FIELDS)} "
        f"FROM {quote(TrainingRun._meta.db_table)} "
        f"WHERE {quote(TrainingRun._meta.get_field('is_active').column)} LIMIT 1"
    )


@functools.cache
def _serving_fields() -> tuple[list[str], tuple]:
    """(attnames, per field its from_db_value or None) of _SERVING_FIELDS: looked up once, not on every request."""
    fields = [TrainingRun._meta.get_field(name) for name in _SERVING_FIELDS]
    return [f.attname for f in fields], tuple(getattr(f, "from_db_value", None) for f in fields)


def _serving_run_from_row(row) -> TrainingRun:
    attnames, converters = _serving_fields()
    values = [
        value if convert is None else convert(value, None, connection)
        for convert, value in zip(converters, row, strict=True)
    ]
    return TrainingRun.from_db(DEFAULT_DB_ALIAS, attnames, values)


# The serving run read in the token's query (accounts.authentication.TokenAuthentication) by the views that need it
# (SERVING_LIST_WITH_TOKEN): `request.auth.serving_read.run` is then what training_run_serving() would give, without a
# round trip of its own. It asks which movies are new to the run in the same query (cold_items.cold_probe_sql), on the
# process's base for the run: the run it gives carries the answer, so serving it costs no round trip of its own either.
_COLD_PROBE_WIDTH = 3


def _serving_run_query(probe: str | None, *, columns: str = "", joins: str = "") -> str:
    """The active run (`serving_run`) with cold_probe_sql's columns (NULL without a `probe`), then `columns`
    selected from `joins` (LATERAL joins that may read `serving_run`)."""
    fields = ", ".join(f"serving_run.{column}" for column in _serving_columns())
    quote = connection.ops.quote_name
    table = f"FROM {quote(TrainingRun._meta.db_table)} serving_run"
    where = f"WHERE serving_run.{quote(TrainingRun._meta.get_field('is_active').column)}"
    if probe is None:  # no base yet: no probe (NULL columns)
        fields += ", NULL::integer, NULL::bigint[], NULL::bigint[]"
    else:
        fields += ", cold_probe.cold_generation, cold_probe.cold_ids, cold_probe.cold_versions"
        table += f" LEFT JOIN LATERAL {probe}"
    return f"SELECT {fields}{columns} {table}{joins} {where} LIMIT 1"


@functools.cache
def _serving_columns() -> tuple[str, ...]:
    return tuple(connection.ops.quote_name(TrainingRun._meta.get_field(name).column) for name in _SERVING_FIELDS)


def _serving_run_with_cold_probe(columns: tuple) -> TrainingRun | None:
    if columns[0] is None:
        return None
    run = _serving_run_from_row(columns[: len(_SERVING_FIELDS)])
    cold_items.cold_probe_attach(run, columns[len(_SERVING_FIELDS) :])
    return run


@dataclass(frozen=True)
class StoredList:
    """A user's stored top-N in a run as `_stored_sql` reads it, read in the token's query (SERVING_LIST_WITH_TOKEN)
    for the user and taste version it names: `found` False when the run has no factor row of the user at that
    version (the list must be folded in), else `rows` (movie, stars) by rank, all the run stored, and the user's
    list factors."""

    run_id: int
    user_id: int
    taste_version: int | None
    found: bool
    rows: list[tuple[int, float]]
    user_factors: list[float] | None


@dataclass(frozen=True)
class ServingRead:
    """What the recommendations API reads with the token: the serving run (what training_run_serving() gives, with
    its new movies asked: cold_probe_sql) and the token user's stored list in it (None without a run)."""

    run: TrainingRun | None
    stored: StoredList | None


_STORED_WIDTH = 6
_with_stored_sql: tuple[str | None, str] | None = None  # (the probe it was built with, the SQL)


def _serving_sql_with_stored_list() -> str:
    """The active run with its new movies asked (cold_probe_sql) and the token user's stored list in it:
    `_stored_sql`'s question, its rows folded into two arrays (one row in all, as an addition must give). The same
    string object while the probe is."""
    global _with_stored_sql
    probe = cold_items.cold_probe_sql(run_column="serving_run.id")
    hit = _with_stored_sql
    if hit is not None and hit[0] is probe:
        return hit[1]
    quote = connection.ops.quote_name
    factors, recs = quote(UserFactor._meta.db_table), quote(Recommendation._meta.db_table)
    user_id, version = token_user_column("id"), token_user_column("taste_version")
    sql = _serving_run_query(
        probe,
        columns=f", {user_id}, {version}, stored.found, stored.factors, stored_rows.movie_ids, stored_rows.scores",
        joins=(
            f" LEFT JOIN LATERAL (SELECT TRUE AS found, f.factors FROM {factors} f WHERE f.run_id = serving_run.id "
            f"AND f.user_id = {user_id} AND f.taste_version = {version}) stored ON TRUE"
            # Only for a list that holds: the rows of a user whose taste changed since are never read.
            f" LEFT JOIN LATERAL (SELECT array_agg(r.movie_id ORDER BY r.rank) AS movie_ids, "
            f"array_agg(r.score ORDER BY r.rank) AS scores FROM {recs} r WHERE stored.found "
            f"AND r.run_id = serving_run.id AND r.user_id = {user_id}) stored_rows ON TRUE"
        ),
    )
    _with_stored_sql = (probe, sql)
    return sql


def _serving_read(columns: tuple) -> ServingRead:
    width = len(_SERVING_FIELDS) + _COLD_PROBE_WIDTH
    run = _serving_run_with_cold_probe(columns[:width])
    if run is None:
        return ServingRead(run=None, stored=None)
    user_id, version, found, user_factors, movie_ids, scores = columns[width:]
    stored = StoredList(
        run_id=run.pk,
        user_id=user_id,
        taste_version=version,
        found=bool(found),
        rows=list(zip(movie_ids or (), scores or (), strict=True)),
        user_factors=user_factors,
    )
    return ServingRead(run=run, stored=stored)


# The recommendations API's addition: one round trip for the token, the user, the serving run, its new movies and the
# user's stored list (recommendation_list_for_user_fresh(stored=...)).
SERVING_LIST_WITH_TOKEN = TokenQueryAddition(
    sql=_serving_sql_with_stored_list,
    width=len(_SERVING_FIELDS) + _COLD_PROBE_WIDTH + _STORED_WIDTH,
    load=_serving_read,
    attribute="serving_read",
)


def training_run_last_succeeded() -> TrainingRun | None:
    return TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED).order_by("-finished_at").first()


def reg_param_last_chosen() -> float | None:
    """The stars regParam the latest succeeded run chose on its holdout split (its metrics' "reg_search"), where
    the next retrain's search starts; None when no succeeded run chose one."""
    run = (
        TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED, metrics__reg_search__chosen__isnull=False)
        .order_by("-finished_at", "-pk")
        .only("metrics")
        .first()
    )
    return None if run is None else float(run.metrics["reg_search"]["chosen"])


@dataclass(frozen=True)
class RegChoiceBasis:
    """The last stars regParam choice and the data its search saw: `run` (the run that searched), its rating count
    and snapshot time. A run that kept a choice without searching hands its basis on, so the change is always
    measured against the data of a real search."""

    chosen: float
    run: int
    ratings: int
    snapshot_at: datetime.datetime | None
    # The stars rank the search chose, and the configured rank it started from (None: no rank was tried).
    rank: int | None = None
    rank_start: int | None = None

    def to_dict(self) -> dict:
        return {
            "run": self.run,
            "ratings": self.ratings,
            "snapshot_at": None if self.snapshot_at is None else self.snapshot_at.isoformat(),
        }


def reg_param_last_choice() -> RegChoiceBasis | None:
    """The latest succeeded run's stars regParam choice (as `reg_param_last_chosen`) with the basis it rests on: the
    basis that run recorded (metrics["reg_search"]["basis"]) or, when it searched itself, that run and its data."""
    run = (
        TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED, metrics__reg_search__chosen__isnull=False)
        .order_by("-finished_at", "-pk")
        .only("pk", "metrics", "ratings_count", "ratings_snapshot_at")
        .first()
    )
    if run is None:
        return None
    search = run.metrics["reg_search"]
    basis = search.get("basis")
    ranks = {
        "rank": None if search.get("rank") is None else int(search["rank"]),
        "rank_start": None if search.get("rank_start") is None else int(search["rank_start"]),
    }
    if basis is None:
        return RegChoiceBasis(
            chosen=float(search["chosen"]),
            run=run.pk,
            ratings=run.ratings_count or 0,
            snapshot_at=run.ratings_snapshot_at,
            **ranks,
        )
    snapshot = basis.get("snapshot_at")
    return RegChoiceBasis(
        chosen=float(search["chosen"]),
        run=int(basis["run"]),
        ratings=int(basis["ratings"]),
        snapshot_at=None if snapshot is None else datetime.datetime.fromisoformat(snapshot),
        **ranks,
    )


def stars_blend_last_choice() -> dict | None:
    """The stars blend of the latest succeeded run that recorded one (its metrics' "stars_blend"), as
    {"list_weight", "offset", "kept", "run"}: "run" is the run that chose it on its holdout split (a run that kept
    an earlier choice hands that run on, as its "basis"). None when no succeeded run recorded a blend."""
    run = (
        TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED, metrics__stars_blend__list_weight__isnull=False)
        .order_by("-finished_at", "-pk")
        .only("pk", "metrics")
        .first()
    )
    if run is None:
        return None
    blend = run.metrics["stars_blend"]
    kept = bool(blend.get("kept")) and float(blend["list_weight"]) > 0
    return {
        "list_weight": float(blend["list_weight"]) if kept else 0.0,
        "offset": float(blend.get("offset", 0.0)) if kept else 0.0,
        "kept": kept,
        "run": int((blend.get("basis") or {}).get("run", run.pk)),
    }


def ratings_changed_since(*, basis: RegChoiceBasis, ratings_now: int) -> int:
    """About how many ratings changed since `basis`'s snapshot: those written after it (new or re-rated) plus the
    change in their number (deletions). Everything (`ratings_now`, or the basis' count if larger) when the basis
    has no snapshot. A re-import that keeps old timestamps and the count is not seen."""
    if basis.snapshot_at is None:
        return max(ratings_now, basis.ratings)
    written = Rating.objects.filter(rated_at__gt=basis.snapshot_at).count()
    return written + abs(ratings_now - basis.ratings)


def ratings_count_since_last_run() -> int:
    """Ratings written after the snapshot of the last successful run (all of them if none)."""
    last = training_run_last_succeeded()
    ratings = Rating.objects.all()
    if last is not None and last.ratings_snapshot_at is not None:
        ratings = ratings.filter(rated_at__gt=last.ratings_snapshot_at)
    return ratings.count()


@dataclass(frozen=True)
class SimilarItem:
    rank: int
    similar: Movie
    score: float  # cosine similarity of the list model's factors
    new: bool  # the serving run has not trained it: its factors are folded in (recommendations.cold_items)


def similar_movie_list(*, movie: Movie, limit: int = 20, run: TrainingRun | None = None) -> list[SimilarItem]:
    """The `limit` movies most like `movie` by cosine of the serving run's list factors, genres loaded.

    A trained movie's are the run's stored SimilarMovie rows, with any new movie (not trained: folded in) that is
    closer than the last of them merged in; a new movie's are computed now against every movie with factors. Movies
    deleted since are left out. Empty without a serving run."""
    run = run or training_run_serving()
    if run is None:
        return []
    cold = cold_items.cold_items_for_run(run)
    factors = cold_items.serving_item_factors(run, cold)
    new_ids = set(cold.movie_ids.tolist())
    if movie.pk in new_ids:
        pairs = foldin.similar_rows(factors=factors, movie_id=movie.pk, limit=limit)
    else:
        stored = list(
            SimilarMovie.objects.filter(run=run, movie=movie)
            .order_by("rank")
            .values_list("similar_id", "score")[:limit]
        )
        pairs = stored
        if new_ids:
            candidates = foldin.similar_rows(
                factors=factors, movie_id=movie.pk, limit=limit, among=factors.trained_rows
            )
            pairs = sorted(stored + candidates, key=lambda pair: -pair[1])[:limit]
    movies = movie_in_bulk_cached(movie_ids=[movie_id for movie_id, _ in pairs])
    kept = [(movie_id, score) for movie_id, score in pairs if movie_id in movies]
    return [
        SimilarItem(rank=i, similar=movies[movie_id], score=float(score), new=movie_id in new_ids)
        for i, (movie_id, score) in enumerate(kept, start=1)
    ]


def new_movie_ids(*, run: TrainingRun | None = None) -> frozenset[int]:
    """Movies the serving run has not trained, served with folded-in factors (labelled "new"); empty without a run."""
    run = run or training_run_serving()
    if run is None:
        return frozenset()
    return frozenset(cold_items.cold_items_for_run(run).movie_ids.tolist())


@dataclass(frozen=True)
class ColdItemCounts:
    movies: int  # movies the serving run has not trained
    content_only: int  # of which no rater the run knows: the content prior alone
    folded_in: int  # of which with ratings folded in


def cold_item_counts(*, run: TrainingRun | None = None) -> ColdItemCounts | None:
    """How many movies `run` (the serving run by default) serves without having trained them, and of those how
    many have ratings from people it knows (folded in) rather than their content prior alone (the staff page);
    None without a run.

    The untrained movies are `cold_items.untrained_movie_ids` (the anti-join of the catalogue against the run's
    factors at most once per COLD_BASE_SECONDS per process, then a primary-key query): the staff page ran that
    anti-join on every view, 59,047 index probes at ML-25M scale. Only those movies' ratings are then looked at."""
    run = run or training_run_serving()
    if run is None:
        return None
    movie_ids = cold_items.untrained_movie_ids(run)
    if not movie_ids:
        return ColdItemCounts(movies=0, content_only=0, folded_in=0)
    quote = connection.ops.quote_name
    rating, users = quote(Rating._meta.db_table), quote(UserFactor._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM unnest(%s::bigint[]) AS m(id) WHERE EXISTS (SELECT 1 FROM {rating} r "
            f"JOIN {users} u ON u.run_id = %s AND u.user_id = r.user_id WHERE r.movie_id = m.id)",
            [movie_ids, run.pk],
        )
        (folded,) = cursor.fetchone()
    return ColdItemCounts(movies=len(movie_ids), content_only=len(movie_ids) - folded, folded_in=folded)


# --- Recommendations that reflect the user's current ratings: the stored top-N while it still describes the
# user, else the active run's item factors with their current ratings folded in. ---


# recommendation_list_for_user_fresh(serving_run=...) when the request has not read the serving run yet.
UNREAD = object()


@dataclass(frozen=True)
class RecommendedMovie:
    movie: Movie
    # Predicted stars for personal recommendations (None if the run predicts none); the catalogue average for
    # popular ones.
    score: float | None
    because: Movie | None = None
    # Why a flavour picked it ("Unlike the rest of your list"); None for top picks and popular movies.
    reason: str | None = None
    # Not trained by the serving run: its factors come from the content map and its ratings since (item fold-in).
    new: bool = False


@dataclass(frozen=True)
class FreshRecommendations:
    items: list[RecommendedMovie]
    # False: the user has no usable rating or no run is active, so these are popular movies.
    personal: bool
    run: TrainingRun | None = None
    flavour: str = flavours.TOP_PICKS


def recommendation_list_for_user_fresh(
    *,
    user,
    limit: int = 50,
    genre: Genre | None = None,
    min_ratings: int = 25,
    taste_version: int | None = None,
    flavour: str = flavours.TOP_PICKS,
    explain: bool = False,
    serving_run: TrainingRun | None | object = UNREAD,
    stored: StoredList | None | object = UNREAD,
) -> FreshRecommendations:
    """Recommendations that already reflect the user's latest ratings.

    With an active run: when the user's ratings and hidden movies are still those of the run's
    export (same taste version) and no genre is asked for, the run's stored top-N in one query
    (`_stored_scores`); otherwise their current ratings folded into the run's item factors
    (recommendations.foldin). The two give the same movies in the same order with the same stars
    (tests/spark_engine). Stored items name no `because` movie unless `explain` (the web page): then the
    user's ratings are read and folded in to name it, without scoring the catalogue. A user with no rating the
    run can rank by, or no active run, gets the most-rated movies, marked `personal=False`. All leave out
    movies the user rated or hid ("not interested") and honour the genre and
    minimum-number-of-ratings filters.

    `flavour` (recommendations.flavours.FLAVOURS) re-ranks the fold-in's candidates for discovery; only top_picks
    is ever served from the stored top-N, and each item of another flavour carries its `reason`. Popular movies
    are the same whatever the flavour. Raises ValueError for an unknown flavour.

    `taste_version`: the user's version as read from the database in this request, with no write
    to their ratings since (a user row loaded by authentication, say); saves reading it again. Likewise
    `serving_run`: what `training_run_serving()` gave earlier in this request (SERVING_LIST_WITH_TOKEN), and
    `stored`: the user's stored list in that run, read with it (SERVING_LIST_WITH_TOKEN; used only when it names
    this user, run and taste version, else read again).
    """
    if flavour not in flavours.FLAVOURS:
        raise ValueError(f"unknown flavour {flavour!r}")
    run = training_run_serving() if serving_run is UNREAD else serving_run
    scored = None
    new_ids: frozenset[int] = frozenset()
    if run is not None:
        # The run's new movies: one indexed query, or none when the run was read with the token (cold_probe_sql).
        cold = cold_items.cold_items_for_run(run)
        new_ids = cold.movie_id_set
        version = user_taste_version(user=user) if taste_version is None else taste_version
        if genre is None and flavour == flavours.TOP_PICKS:
            scored = _stored_scores(
                user=user,
                run=run,
                taste_version=version,
                limit=limit,
                min_ratings=min_ratings,
                cold=cold,
                stored=stored,
            )
            if scored and explain:
                scored = _with_because(user=user, run=run, scored=scored, cold=cold)
        if scored is None:
            scored = _fresh_scores(
                user=user,
                run=run,
                cold=cold,
                limit=limit,
                genre=genre,
                min_ratings=min_ratings,
                taste_version=version,
                flavour=flavour,
            )
    if scored is not None:
        wanted = {s.movie_id for s in scored} | {s.because_movie_id for s in scored if s.because_movie_id}
        movies = movie_in_bulk_cached(movie_ids=wanted)
        items = [
            RecommendedMovie(
                movie=movies[s.movie_id],
                score=s.score,
                because=movies.get(s.because_movie_id) if s.because_movie_id else None,
                reason=s.reason,
                new=s.movie_id in new_ids,
            )
            for s in scored
            if s.movie_id in movies
        ]
        return FreshRecommendations(items=items, personal=True, run=run, flavour=flavour)
    popular = movie_list_popular(
        limit=limit,
        genre=genre,
        min_ratings=min_ratings,
        exclude_subquery=Rating.objects.filter(user=user).values("movie_id"),
        exclude_movie_ids=not_interested_movie_ids(user=user),
    )
    return FreshRecommendations(
        items=[RecommendedMovie(movie=m, score=m.rating_mean) for m in popular], personal=False, run=run
    )


def _with_because(
    *, user, run: TrainingRun, scored: list[foldin.ScoredMovie], cold: cold_items.ColdItems
) -> list[foldin.ScoredMovie]:
    factors = cold_items.serving_item_factors(run, cold)
    vector = foldin.user_vector(factors=factors, ratings=rating_values_for_user(user=user))
    if vector is None:
        return scored
    because = foldin.because_movie_ids(factors=factors, user=vector, movie_ids=[s.movie_id for s in scored])
    return [dataclasses.replace(s, because_movie_id=b) for s, b in zip(scored, because, strict=True)]


@functools.cache
def _stored_sql() -> str:
    # The user's factor row says whether their stored rows still hold; the left join keeps it for a user with
    # no stored row (every movie rated or hidden). Plain SQL, as training_run_serving, on the hot path. The user's
    # factors come on the first row only: parsing the array again on each of up to top_n rows took ~0.2 ms.
    quote = connection.ops.quote_name
    factors, recs = quote(UserFactor._meta.db_table), quote(Recommendation._meta.db_table)
    return (
        "SELECT r.movie_id, r.score, CASE WHEN row_number() OVER (ORDER BY r.rank) = 1 THEN f.factors END "
        f"FROM {factors} f "
        f"LEFT JOIN {recs} r ON r.run_id = f.run_id AND r.user_id = f.user_id "
        "WHERE f.run_id = %s AND f.user_id = %s AND f.taste_version = %s ORDER BY r.rank LIMIT %s"
    )


def _stored_scores(
    *,
    user,
    run: TrainingRun,
    taste_version: int,
    limit: int,
    min_ratings: int,
    cold: cold_items.ColdItems,
    stored: StoredList | None | object = UNREAD,
) -> list[foldin.ScoredMovie] | None:
    """The run's stored top-N of `user`, filtered by `min_ratings`, when it is what a fold-in would give; None
    when it cannot say (the caller folds in).

    It is when the user's taste version is the one the run's export recorded with their factors: their ratings
    and hidden movies are then exactly the ones the run ranked with (it leaves hidden movies out too), the stored
    order is the list model's and each score the stars model's prediction. Runs published before versions were
    recorded, and users whose list factors are zero, have no version: None. The stored list holds the run's
    `top_n` best; when fewer than `limit` of them pass the filter and the list was cut at `top_n`, the rest is
    unknown: None. One query on both tables' primary keys (run, user), none when `stored` (read with the token)
    names this run, user and version; the movies for the filter come from the per-process movie cache, as the
    page's do.
    """
    top_n = (run.parameters or {}).get("top_n")
    if not isinstance(top_n, int) or top_n < 1:
        return None
    # Unfiltered, the first `limit` rows are the answer; filtered, any of the stored rows may be needed.
    fetch = limit if min_ratings <= 0 else top_n
    if isinstance(stored, StoredList) and (stored.run_id, stored.user_id, stored.taste_version) == (
        run.pk,
        user.pk,
        taste_version,
    ):
        if not stored.found:  # not in the run, rated or hid something since, or no version recorded
            return None
        user_factors, rows = stored.user_factors, stored.rows[:fetch]
    else:
        with connection.cursor() as cursor:
            cursor.execute(_stored_sql(), [run.pk, user.pk, taste_version, fetch])
            read = cursor.fetchall()
        if not read:  # as above
            return None
        user_factors = read[0][2]
        rows = [(movie_id, score) for movie_id, score, _ in read if movie_id is not None]
    if min_ratings > 0:
        movies = movie_in_bulk_cached(movie_ids=[movie_id for movie_id, _ in rows])
        kept = [
            (movie_id, score)
            for movie_id, score in rows
            if (movie := movies.get(movie_id)) is not None and movie.rating_count >= min_ratings
        ]
    else:
        kept = rows
    if len(kept) < limit and len(rows) >= top_n:
        return None
    kept = _with_new_movies(
        user=user, run=run, cold=cold, user_factors=user_factors, kept=kept, limit=limit, cut=len(rows) >= top_n
    )
    return [foldin.ScoredMovie(movie_id, score, None) for movie_id, score in kept[:limit]]


def _with_new_movies(
    *,
    user,
    run: TrainingRun,
    cold: cold_items.ColdItems,
    user_factors,
    kept: list[tuple[int, float]],
    limit: int,
    cut: bool,
) -> list[tuple[int, float]]:
    """The stored rows `kept` (movie, stars) with the run's new movies merged in by the list model's score, as a
    fold-in would rank them (the user's factors are the run's: their taste is unchanged since). Stars of a new movie
    by the stars model with the user's published terms. `cut`: the stored list stopped at the run's top-N, so a new
    movie must beat the last row kept to be placed."""
    if cold.movie_ids.size == 0:
        return kept
    x = np.asarray(user_factors, dtype=np.float64)
    cold_scores = cold.list_matrix_wide @ x
    factors = foldin.item_factors_for_run(run)
    # Most requests place no new movie: the score of the row a new movie must beat decides, before scoring the rest.
    floor = -np.inf
    if kept and (cut or len(kept) >= limit):
        row, known = factors.rows_of([kept[min(limit, len(kept)) - 1][0]])
        floor = float((factors.matrix[row].astype(np.float64) @ x)[0]) if known[0] else np.inf
    entering = np.flatnonzero(cold_scores > floor)
    if entering.size == 0:
        return kept
    rows, found = factors.rows_of(movie_id for movie_id, _ in kept)
    kept_scores = np.full(len(kept), np.inf)
    kept_scores[found] = factors.matrix[rows[found]].astype(np.float64) @ x
    hidden = set(not_interested_movie_ids(user=user))
    entering = [i for i in entering.tolist() if int(cold.movie_ids[i]) not in hidden]
    if not entering:
        return kept
    stars = _stars_of_new(run=run, user=user, cold=cold, rows=entering)
    merged = [(score, movie_id, stars_value) for (movie_id, stars_value), score in zip(kept, kept_scores, strict=True)]
    merged += [(float(cold_scores[i]), int(cold.movie_ids[i]), stars[j]) for j, i in enumerate(entering)]
    merged.sort(key=lambda item: -item[0])
    return [(movie_id, stars_value) for _, movie_id, stars_value in merged]


def _stars_of_new(*, run: TrainingRun, user, cold: cold_items.ColdItems, rows: list[int]) -> list[float | None]:
    """The stars model's predictions of new movies (`rows` of `cold`) for a user unchanged since the run: μ + b_u +
    b_i + u·v with the user's published terms (StarsUserFactor)."""
    model = foldin.stars_model_for_run(run)
    terms = cold_items.run_user_stars_terms(run=run, user_id=user.pk)
    if model is None or terms is None or cold.stars_matrix is None:
        return [None] * len(rows)
    bias, x = terms
    raw = model.global_mean + bias + cold.stars_biases[rows] + cold.stars_matrix[rows].astype(np.float64) @ x
    return [float(v) for v in np.clip(raw, foldin.MIN_STARS, foldin.MAX_STARS)]


# Fold-in results per (run, user, taste version, filters) in the default cache. The taste version
# changes in the same transaction as any change to the user's ratings or hidden movies (database
# triggers), so an entry can never be stale; a new active run changes the key too.
FRESH_CACHE_SECONDS = 3600
_NOT_PERSONAL = "popular"


def _fresh_scores(
    *,
    user,
    run: TrainingRun,
    cold: cold_items.ColdItems,
    limit: int,
    genre: Genre | None,
    min_ratings: int,
    taste_version: int,
    flavour: str = flavours.TOP_PICKS,
):
    # The new movies and their rating versions are part of the key: a rating of one changes its factors.
    key = (
        f"fresh-recs:{run.pk}:{user.pk}:{taste_version}:{limit}:{genre.pk if genre else ''}:{min_ratings}:{flavour}"
        f":{cold.digest}"
    )
    cached = cache.get(key)
    if cached is not None:
        return None if cached == _NOT_PERSONAL else [foldin.ScoredMovie(*row) for row in cached]
    started = time.perf_counter()
    scored = recommend_for_user(
        user=user,
        run=run,
        ratings=rating_values_for_user(user=user),
        exclude_movie_ids=not_interested_movie_ids(user=user),
        limit=limit,
        genre_id=genre.pk if genre else None,
        min_ratings=min_ratings,
        flavour=flavour,
        cold=cold,
    )
    observe_foldin(time.perf_counter() - started)
    rows = _NOT_PERSONAL if scored is None else [(s.movie_id, s.score, s.because_movie_id, s.reason) for s in scored]
    cache.set(key, rows, FRESH_CACHE_SECONDS)
    return scored


def recommend_for_user(
    *,
    user,
    run: TrainingRun,
    ratings: Mapping[int, float] | None = None,
    exclude_movie_ids: Iterable[int] = (),
    limit: int = 50,
    genre_id: int | None = None,
    min_ratings: int = 0,
    flavour: str = flavours.TOP_PICKS,
    cold: cold_items.ColdItems | None = None,
) -> list[foldin.ScoredMovie] | None:
    """Top movies for `user` from `run` with their current ratings folded in (recommendations.foldin), in the
    order of `flavour` (recommendations.flavours; top_picks: the list model's).

    Ranked by the list model; scored in stars by the stars model (or, for a run without one, by the
    explicit list factors themselves; None for a legacy implicit run). None when the user has no
    rating the run can use (the caller shows popular movies then). Rated and excluded movies never
    appear. Reads the user's ratings unless given. Movies the run has not trained compete with their folded-in
    factors (recommendations.cold_items; `cold`: as already read in this request).
    """
    ratings = rating_values_for_user(user=user) if ratings is None else ratings
    cold = cold_items.cold_items_for_run(run) if cold is None else cold
    factors = cold_items.serving_item_factors(run, cold)
    vector = foldin.user_vector(factors=factors, ratings=ratings)
    if vector is None:
        return None
    mask = foldin.candidate_mask(factors=factors, genre_id=genre_id, min_ratings=min_ratings)
    stars_model = cold_items.serving_stars_model(run, cold)
    if flavour == flavours.TOP_PICKS:
        top = foldin.top_movies(
            factors=factors, user=vector, exclude_movie_ids=exclude_movie_ids, limit=limit, mask=mask
        )
    else:
        top = _flavour_movies(
            flavour,
            factors=factors,
            stars_model=stars_model,
            user=vector,
            ratings=ratings,
            exclude_movie_ids=exclude_movie_ids,
            mask=mask,
            limit=limit,
            min_ratings=min_ratings,
        )
    if stars_model is not None:
        stars = foldin.predict_stars(model=stars_model, ratings=ratings, movie_ids=[m.movie_id for m in top])
        return [
            foldin.ScoredMovie(m.movie_id, None if np.isnan(value) else float(value), m.because_movie_id, m.reason)
            for m, value in zip(top, stars, strict=True)
        ]
    if factors.implicit_prefs:
        return [foldin.ScoredMovie(m.movie_id, None, m.because_movie_id, m.reason) for m in top]
    return top


def _flavour_movies(
    flavour: str,
    *,
    factors: foldin.ItemFactors,
    stars_model: foldin.StarsModel | None,
    user: foldin.UserVector,
    ratings: Mapping[int, float],
    exclude_movie_ids: Iterable[int],
    mask: np.ndarray | None,
    limit: int,
    min_ratings: int,
) -> list[foldin.ScoredMovie]:
    """`flavour`'s list (recommendations.flavours.flavour_list) over the folded-in user's masked scores."""
    scores = foldin.masked_scores(factors=factors, user=user, exclude_movie_ids=exclude_movie_ids, mask=mask)
    extra: dict = {}
    if flavour == flavours.DIFFERENT:
        extra = {"counts": foldin.rating_counts(factors)}  # for the novelty term
    elif flavour == flavours.HIDDEN_GEMS:
        rows, found = factors.rows_of(ratings.keys())
        values = np.fromiter(ratings.values(), dtype=np.float64, count=len(ratings))[found]
        extra = {
            "counts": foldin.rating_counts(factors),
            "means": foldin.rating_means(factors),
            "liked": flavours.liked_rows(rows[found], values),
        }
        if stars_model is not None and ratings:
            extra["person_mean"] = float(np.mean(list(ratings.values())))
            extra["stars"] = lambda rows: foldin.predict_stars(
                model=stars_model, ratings=ratings, movie_ids=factors.movie_ids[rows].tolist()
            )
    elif flavour == flavours.GENRE_MIX:
        genres = foldin.genre_rows(factors)
        rows, found = factors.rows_of(ratings.keys())
        weights = np.fromiter(ratings.values(), dtype=np.float64, count=len(ratings))[found]
        extra = {
            "genres": genres.matrix,
            "genre_names": genres.names,
            # Weighted by the stars given: a 5-star movie says more about the mix wanted than a 1-star one.
            "genre_target": flavours.genre_distribution(genres.matrix[rows[found]], weights),
        }
    chosen = flavours.flavour_list(
        flavour, scores=scores, item_matrix=factors.matrix, k=limit, min_ratings=min_ratings, **extra
    )
    return foldin.scored_rows(factors=factors, user=user, rows=chosen.rows, scores=scores, reasons=chosen.reasons)


def predicted_rating(*, user, movie: Movie, run: TrainingRun | None = None) -> float | None:
    """The stars the active run's stars model (folded in with the user's current ratings) predicts for `movie`.

    None for anonymous users, without an active run, for movies the run does not know, for users
    without a rating, and for legacy implicit runs (no stars model).
    """
    if not user.is_authenticated:
        return None
    run = run or training_run_serving()
    if run is None:
        return None
    ratings = rating_values_for_user(user=user)
    stars_model = cold_items.serving_stars_model(run)
    if stars_model is not None:
        if not ratings:
            return None
        value = foldin.predict_stars(model=stars_model, ratings=ratings, movie_ids=[movie.pk])[0]
        return None if np.isnan(value) else float(value)
    factors = cold_items.serving_item_factors(run)
    if factors.implicit_prefs:
        return None
    vector = foldin.user_vector(factors=factors, ratings=ratings)
    if vector is None:
        return None
    return foldin.predict(factors=factors, user=vector, movie_id=movie.pk)


def list_preference_flavour(*, user) -> str:
    """The flavour of list `user` last chose on the recommendations page; top picks if none."""
    flavour = ListPreference.objects.filter(user=user).values_list("flavour", flat=True).first()
    return flavour if flavour in flavours.FLAVOURS else flavours.TOP_PICKS


def training_run_list() -> QuerySet[TrainingRun]:
    """All training runs, newest first."""
    return TrainingRun.objects.order_by("-created_at", "-pk")


def training_run_get(*, run_id: int) -> TrainingRun | None:
    return TrainingRun.objects.filter(pk=run_id).first()


def training_run_history(*, limit: int = 60) -> list[TrainingRun]:
    """The `limit` most recent runs that were not skipped, oldest first (for the staff charts).

    Skipped runs are left out: they are triggers that found a retrain already under way, and a
    burst of them would push real runs out of the window.
    """
    runs = list(TrainingRun.objects.exclude(status=TrainingRun.Status.SKIPPED).order_by("-created_at", "-pk")[:limit])
    runs.reverse()
    return runs


def tuned_parameters() -> TunedParameters | None:
    """The parameters saved by `manage.py tune --save`, if any (they override the ALS_* settings)."""
    return TunedParameters.objects.filter(pk=TunedParameters.SINGLETON_PK).first()


def evaluation_report_list(*, limit: int = 20) -> list[EvaluationReport]:
    """The most recent evaluate/tune reports, newest first."""
    return list(EvaluationReport.objects.order_by("-created_at", "-pk")[:limit])


# --- New arrivals: movies the serving run has not learned (added, or first rated, after it was trained). ---


def movie_filter_new_arrivals(*, movies: QuerySet[Movie], run: TrainingRun | None = None) -> QuerySet[Movie]:
    """`movies` narrowed to those without an ItemFactor in `run` (the serving run by default).

    No serving run: nothing is new (there is no model to be new to), so the result is empty.
    """
    run = run or training_run_serving()
    if run is None:
        return movies.none()
    # Not an anti-join per request (`?new=true` in the API checked every movie of the catalogue each time).
    return movies.filter(pk__in=cold_items.untrained_movie_ids(run))


# Which movies are new arrivals, per (run, limit), in the default cache. Finding none means checking every movie
# against the run's factors (an anti-join over the catalogue: 20-100 ms at 59,047 movies, on every home page).
NEW_ARRIVALS_CACHE_SECONDS = 60


def movie_list_new_arrivals(*, limit: int = 12, run: TrainingRun | None = None) -> list[Movie]:
    """Up to `limit` movies the serving run has not trained on, most recently added (highest id) first,
    genres and TMDB details loaded for cards. Empty without a serving run.

    The ids are reused for up to NEW_ARRIVALS_CACHE_SECONDS (a movie staff add shows within a minute; a new run
    changes the key at once), the movies come from the per-process movie cache (catalog.selectors): read them,
    never modify them.
    """
    run = run or training_run_serving()
    if run is None:
        return []
    key = f"new-arrivals:{run.pk}:{limit}"
    movie_ids = cache.get(key)
    if movie_ids is None:
        # One anti-join (cached here) rather than movie_filter_new_arrivals' per-process base and its query.
        movies = Movie.objects.exclude(Exists(ItemFactor.objects.filter(run_id=run.pk, movie_id=OuterRef("pk"))))
        movie_ids = list(movies.order_by("-pk").values_list("pk", flat=True)[:limit])
        cache.set(key, movie_ids, NEW_ARRIVALS_CACHE_SECONDS)
    found = movie_in_bulk_cached(movie_ids=movie_ids)
    return [found[movie_id] for movie_id in movie_ids if movie_id in found]


# --- Onboarding: which movies a newcomer is asked about (recommendations.onboarding holds the strategies). ---

# Every strategy picks among this many of the most-rated movies (the cold-start evaluation uses the same pool).
ONBOARDING_POOL = 1000
# Star histograms and the number of raters change slowly; the "popular_entropy" and "informative" strategies
# reuse them for this long in each process.
ONBOARDING_STATS_SECONDS = 3600.0
_onboarding_stats: dict[str, tuple[float, object]] = {}


def _onboarding_stat(key: str, load):
    now = time.monotonic()
    hit = _onboarding_stats.get(key)
    if hit is None or now - hit[0] >= ONBOARDING_STATS_SECONDS:
        hit = (now, load())
        _onboarding_stats[key] = hit
    return hit[1]


def onboarding_stats_clear() -> None:
    _onboarding_stats.clear()


def onboarding_page_for_user(
    *, user, exclude_movie_ids: Iterable[int] = (), strategy: str | None = None, count: int = onboarding.PAGE_SIZE
) -> list[Movie]:
    """The next `count` movies to ask `user` about (genres prefetched), by `strategy` (default the
    ONBOARDING_STRATEGY setting), leaving out the movies they rated and `exclude_movie_ids` (already shown).

    Adaptive strategies ("informative") use the user's ratings so far and the serving run's list-model factors;
    without a serving run it asks about the most popular movies. Raises ImproperlyConfigured on an unknown strategy.
    """
    strategy = strategy or settings.ONBOARDING_STRATEGY
    if strategy not in onboarding.STRATEGIES:
        raise ImproperlyConfigured(
            f"ONBOARDING_STRATEGY must be one of {', '.join(onboarding.STRATEGIES)}, got {strategy!r}"
        )
    rated = rating_values_for_user(user=user)
    # Plain values for the pool (loading 1,000 Movie objects with their genres cost ~100 ms); full objects for
    # the page only, from the shared movie cache.
    rows = list(
        Movie.objects.filter(rating_count__gt=0)
        .order_by("-rating_count", "-rating_mean", "pk")
        .values_list("pk", "rating_count", "year")[:ONBOARDING_POOL]
    )
    movie_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    extra: dict = {}
    if strategy == "varied":
        genres: dict[int, set[int]] = {}
        pairs = Movie.genres.through.objects.filter(movie_id__in=movie_ids.tolist()).values_list("movie_id", "genre_id")
        for movie_id, genre_id in pairs:
            genres.setdefault(movie_id, set()).add(genre_id)
        extra["genres"] = tuple(frozenset(genres.get(row[0], ())) for row in rows)
        extra["decades"] = tuple(row[2] // 10 * 10 if row[2] else None for row in rows)
    elif strategy == "popular_entropy":
        histograms = _onboarding_stat("histograms", lambda: rating_histograms(movie_ids=movie_ids.tolist()))
        extra["entropy"] = onboarding.rating_entropy(np.array([histograms.get(row[0], [0] * 10) for row in rows]))
    elif strategy == "informative":
        run = training_run_serving()
        factors = np.zeros((len(rows), 1), dtype=np.float32)
        if run is not None:
            item_factors = foldin.item_factors_for_run(run)
            found_rows, found = item_factors.rows_of(movie_ids)
            factors = np.zeros((len(rows), item_factors.matrix.shape[1]), dtype=np.float32)
            factors[found] = item_factors.matrix[found_rows[found]]
        extra["factors"] = factors
    pool = onboarding.OnboardingPool(
        movie_ids=movie_ids,
        counts=np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows)),
        raters=_onboarding_stat("raters", lambda: Rating.objects.values("user_id").distinct().count()),
        **extra,
    )
    picked = onboarding.next_page(
        strategy=strategy, pool=pool, exclude=set(exclude_movie_ids), rated=rated, count=count
    )
    movies = movie_in_bulk_cached(movie_ids=picked)
    return [movies[movie_id] for movie_id in picked if movie_id in movies]


# --- "Pick groups you like": clusters of the serving run's best-known movies by list-model factors. ---

TASTE_GROUP_MOVIES = 500  # the most-rated movies with factors, clustered
TASTE_GROUPS = 8
TASTE_GROUP_MIN_MOVIES = 20  # fewer groups in a small catalogue
TASTE_GROUP_EXAMPLES = 3
_taste_groups: dict[int, list[TasteGroup]] = {}
_taste_groups_lock = threading.Lock()


@dataclass(frozen=True)
class TasteGroup:
    key: int
    genres: tuple[str, ...]  # the group's most common genres
    examples: tuple[str, ...]  # titles of its best-known movies
    movie_ids: tuple[int, ...]  # most rated first


def taste_groups(*, run: TrainingRun | None = None) -> list[TasteGroup]:
    """The serving run's TASTE_GROUP_MOVIES most-rated movies in TASTE_GROUPS clusters of its list-model factors
    (recommendations.onboarding.taste_clusters), named by their most common genres and best-known films.

    Computed once per run and process on first use (a few tens of milliseconds), then kept. Empty without a run.
    """
    run = run or training_run_serving()
    if run is None:
        return []
    cached = _taste_groups.get(run.pk)
    if cached is not None:
        return cached
    with _taste_groups_lock:
        if run.pk not in _taste_groups:
            _taste_groups.clear()  # only the serving run's are ever asked for
            _taste_groups[run.pk] = _compute_taste_groups(run)
    return _taste_groups[run.pk]


def taste_groups_clear() -> None:
    with _taste_groups_lock:
        _taste_groups.clear()


def _compute_taste_groups(run: TrainingRun) -> list[TasteGroup]:
    factors = foldin.item_factors_for_run(run)
    rows = list(
        Movie.objects.filter(rating_count__gt=0, pk__in=ItemFactor.objects.filter(run_id=run.pk).values("movie_id"))
        .order_by("-rating_count", "-rating_mean", "pk")
        .values_list("pk", "title")[:TASTE_GROUP_MOVIES]
    )
    if not rows:
        return []
    ids = [row[0] for row in rows]
    found_rows, found = factors.rows_of(ids)
    k = min(TASTE_GROUPS, max(1, len(rows) // TASTE_GROUP_MIN_MOVIES))
    labels = onboarding.taste_clusters(factors.matrix[found_rows] * found[:, None], k)
    genre_names: dict[int, list[str]] = {}
    pairs = Movie.genres.through.objects.filter(movie_id__in=ids).values_list("movie_id", "genre__name")
    for movie_id, name in pairs:
        genre_names.setdefault(movie_id, []).append(name)
    groups = []
    for key in range(int(labels.max()) + 1):
        members = [rows[i] for i in np.flatnonzero(labels == key)]
        counts: dict[str, int] = {}
        for movie_id, _ in members:
            for name in genre_names.get(movie_id, ()):
                if not name.startswith("("):  # "(no genres listed)"
                    counts[name] = counts.get(name, 0) + 1
        top_genres = tuple(sorted(counts, key=lambda name: (-counts[name], name))[:2])
        groups.append(
            TasteGroup(
                key=key,
                genres=top_genres,
                examples=tuple(title for _, title in members[:TASTE_GROUP_EXAMPLES]),
                movie_ids=tuple(movie_id for movie_id, _ in members),
            )
        )
    return groups


def onboarding_group_page_for_user(
    *, user, group_keys: Iterable[int], exclude_movie_ids: Iterable[int] = (), count: int = onboarding.PAGE_SIZE
) -> list[Movie]:
    """The best-known movies of the chosen taste groups (taken in turn from each group), leaving out the user's rated
    movies and `exclude_movie_ids`: what to ask about once someone said which groups they like. Choosing a group
    saves nothing; the user still rates the movies they know, so their ratings stay their own."""
    chosen = [group for group in taste_groups() if group.key in set(group_keys)]
    excluded = set(exclude_movie_ids) | set(rating_values_for_user(user=user))
    queues = [[m for m in group.movie_ids if m not in excluded] for group in chosen]
    picked: list[int] = []
    while len(picked) < count and any(queues):
        for queue in queues:
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    movies = movie_in_bulk_cached(movie_ids=picked)
    return [movies[movie_id] for movie_id in picked if movie_id in movies]
