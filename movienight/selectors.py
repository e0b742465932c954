"""Reads for movie night: a person's groups, a group as its members see it, and the group's movie list."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.core.cache import cache
from django.db.models import Count, OuterRef, QuerySet, Subquery

from catalog.models import Genre, Movie
from catalog.selectors import movie_in_bulk_cached, movie_list_popular
from ratings.models import NotInterested, Rating
from recommendations import cold_items, foldin
from recommendations.models import TrainingRun
from recommendations.selectors import training_run_serving

from .models import Group, Membership
from .ranking import AVERAGE, group_order

# The group's primary key is a PostgreSQL bigint: a larger number names no group (and must not reach the database).
MAX_GROUP_ID = 2**63 - 1
# A group's list is computed this long (the API's largest page) and cut to what is asked for.
LIST_COMPUTED = 100
# Entries are keyed by everything they depend on (see group_movie_list): the time only bounds the memory.
CACHE_SECONDS = 3600
_NOT_PERSONAL = "popular"


def _owner_subquery(column: str) -> Subquery:
    # The owner is the longest member (movienight.models.Group).
    return Subquery(Membership.objects.filter(group=OuterRef("pk")).order_by("joined_at", "pk").values(column)[:1])


def group_list_for_user(*, user) -> QuerySet[Group]:
    """The user's groups, newest first, annotated with `member_count`, `owner_id` and `owner_username`."""
    return (
        Group.objects.filter(pk__in=Membership.objects.filter(user=user).values("group_id"))
        .annotate(
            member_count=Count("memberships"),
            owner_id=_owner_subquery("user_id"),
            owner_username=_owner_subquery("user__username"),
        )
        .order_by("-created_at", "-pk")
    )


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str
    display_name: str  # the full name when the person gave one, else the username
    taste_version: int
    joined_at: datetime
    is_owner: bool


@dataclass(frozen=True)
class GroupView:
    """A group with its members, longest first (the owner is the first)."""

    group: Group
    members: list[Member]

    @property
    def owner(self) -> Member:
        return self.members[0]

    def is_owner(self, user) -> bool:
        return self.owner.user_id == user.pk


def group_get_for_member(*, user, group_id: int) -> GroupView | None:
    """The group with its members (one query), or None unless `user` is one of them: for anyone else the group
    does not exist. The members' taste versions are read in the same query, for group_movie_list."""
    if not user.is_authenticated or not 0 < group_id <= MAX_GROUP_ID:
        return None
    memberships = list(
        Membership.objects.filter(group_id=group_id).select_related("group", "user").order_by("joined_at", "pk")
    )
    if not any(m.user_id == user.pk for m in memberships):
        return None
    members = [
        Member(
            user_id=m.user_id,
            username=m.user.username,
            display_name=m.user.get_full_name() or m.user.username,
            taste_version=m.user.taste_version,
            joined_at=m.joined_at,
            is_owner=i == 0,
        )
        for i, m in enumerate(memberships)
    ]
    return GroupView(group=memberships[0].group, members=members)


def group_get_by_invite(*, token: str) -> Group | None:
    """The group this invite token opens, with `member_count`; None for an unknown token or a group with no
    members left (its last member deleted their account): there is nobody to meet there."""
    if not token or len(token) > 64:
        return None
    group = Group.objects.filter(invite_token=token).annotate(member_count=Count("memberships")).first()
    return group if group is not None and group.member_count > 0 else None


# --- The group's movie list ---


@dataclass(frozen=True)
class MemberPrediction:
    member: Member
    stars: float | None  # None: the member's taste does not count yet (no rating the model knows)


@dataclass(frozen=True)
class GroupMovie:
    movie: Movie
    # Aggregated predicted stars by the chosen rule (None for popular movies).
    score: float | None
    average: float | None
    least: float | None
    # Each member's predicted stars, in GroupView.members order (empty for popular movies).
    predictions: list[MemberPrediction] = field(default_factory=list)


@dataclass(frozen=True)
class GroupMovies:
    items: list[GroupMovie]
    # False: popular movies that no member rated or hid, because `reason`.
    personal: bool
    aggregation: str
    # Why the list is not personal: "no_run" (no serving model), "no_stars_model" (a run that predicts no
    # stars), "no_ratings" (no member has a rating the model knows); "" when personal.
    reason: str = ""
    run: TrainingRun | None = None
    # Members with no rating the model knows: shown, but left out of the aggregation.
    not_counted: list[Member] = field(default_factory=list)


def group_movie_list(
    *,
    view: GroupView,
    aggregation: str = AVERAGE,
    genre: Genre | None = None,
    min_ratings: int = 0,
    limit: int = 30,
) -> GroupMovies:
    """Movies that no member rated or hid, best for the group first, with every member's predicted stars.

    With a serving run that has a stars model, each member's current ratings are folded into it once
    (recommendations.foldin.stars_user) and the members' predictions over every candidate movie (all movies
    the model knows, less those outside the genre and minimum-ratings filters and those any member rated or
    hid) are one matrix product; the rows are aggregated by `aggregation` (movienight.ranking). Every candidate
    is scored rather than, say, the union of the members' personal top lists: least misery favours movies
    that suit everyone and are in nobody's top list, exactly what such a union would miss.

    Cached per (run, group, members and their taste versions, aggregation, filters): a member's new rating or
    hidden movie bumps their taste version in the same transaction (database triggers), and a member joining
    or leaving changes the member set, so an entry is never stale. Without a serving run, with a run that
    predicts no stars, or while no member has a rating the model knows: the most-rated movies that no member
    rated or hid, `personal=False`.

    Queries on a cache hit: the active run (the movies come from the per-process movie cache). On a miss, two
    more (all members' ratings, all members' hidden movies), and whatever the fold-in caches load the first
    time (factors, filter masks).
    """
    run = training_run_serving()
    if run is None:
        return _popular(view, aggregation, genre, min_ratings, limit, reason="no_run")
    # The run's new movies (recommendations.cold_items: not trained, folded in) are candidates too; their ids and
    # rating versions are part of the key.
    cold = cold_items.cold_items_for_run(run)
    stars = cold_items.serving_stars_model(run, cold)
    if stars is None:
        return _popular(view, aggregation, genre, min_ratings, limit, run=run, reason="no_stars_model")
    members = sorted((m.user_id, m.taste_version) for m in view.members)
    digest = hashlib.sha256(repr(members).encode()).hexdigest()[:32]
    key = (
        f"movienight:{run.pk}:{view.group.pk}:{digest}:{aggregation}:{genre.pk if genre else ''}:{min_ratings}"
        f":{cold.digest}"
    )
    computed = cache.get(key)
    if computed is None:
        computed = _compute(
            run=run,
            cold=cold,
            stars=stars,
            user_ids=[user_id for user_id, _ in members],
            aggregation=aggregation,
            genre=genre,
            min_ratings=min_ratings,
        )
        cache.set(key, computed, CACHE_SECONDS)
    if computed == _NOT_PERSONAL:
        return _popular(view, aggregation, genre, min_ratings, limit, run=run, reason="no_ratings")
    counted, rows = computed
    column_of = {user_id: i for i, user_id in enumerate(counted)}
    movies = movie_in_bulk_cached(movie_ids=[row[0] for row in rows[:limit]])
    items = []
    for movie_id, average, least, predictions in rows[:limit]:
        if movie_id not in movies:  # deleted since the entry was computed
            continue
        items.append(
            GroupMovie(
                movie=movies[movie_id],
                score=least if aggregation != AVERAGE else average,
                average=average,
                least=least,
                predictions=[
                    MemberPrediction(m, predictions[column_of[m.user_id]] if m.user_id in column_of else None)
                    for m in view.members
                ],
            )
        )
    return GroupMovies(
        items=items,
        personal=True,
        aggregation=aggregation,
        run=run,
        not_counted=[m for m in view.members if m.user_id not in column_of],
    )


def _compute(*, run, cold, stars: foldin.StarsModel, user_ids: list[int], aggregation: str, genre, min_ratings: int):
    """(counted user ids, [(movie id, average, least, per-counted-member stars)]) or _NOT_PERSONAL."""
    # Read here rather than through ratings.selectors, whose reads are per user: one query for all members.
    ratings: dict[int, dict[int, float]] = {user_id: {} for user_id in user_ids}
    excluded: set[int] = set()
    for user_id, movie_id, value in Rating.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "movie_id", "value"
    ):
        ratings[user_id][movie_id] = float(value)
        excluded.add(movie_id)
    excluded.update(NotInterested.objects.filter(user_id__in=user_ids).values_list("movie_id", flat=True))

    folded = [(user_id, foldin.stars_user(model=stars, ratings=ratings[user_id])) for user_id in user_ids]
    folded = [(user_id, terms) for user_id, terms in folded if terms.ratings_used > 0]
    if not folded:
        return _NOT_PERSONAL

    allowed = _allowed_rows(run=run, cold=cold, stars=stars, genre=genre, min_ratings=min_ratings)
    rows, found = stars.rows_of(excluded)
    allowed[rows[found]] = False
    candidates = np.flatnonzero(allowed)

    # members × candidates: μ + b_u + b_i + X·Vᵀ, clipped as recommendations.foldin.predict_stars clips. The
    # product in float32 over the whole matrix, then the candidates' columns: half the time of gathering the
    # candidates' rows in float64 first (8 against 16 ms for 20 members × 59K movies), within 1e-6 stars.
    x = np.stack([terms.x for _, terms in folded]).astype(np.float32)
    user_bias = np.array([terms.bias for _, terms in folded])
    predictions = (x @ stars.matrix.T)[:, candidates].astype(np.float64)
    predictions += stars.biases[candidates]
    predictions += (stars.global_mean + user_bias)[:, None]
    np.clip(predictions, foldin.MIN_STARS, foldin.MAX_STARS, out=predictions)
    order = group_order(predictions=predictions, aggregation=aggregation, limit=LIST_COMPUTED)
    chosen = predictions[:, order.columns]
    movie_ids = stars.movie_ids[candidates[order.columns]]
    return (
        [user_id for user_id, _ in folded],
        [
            (int(movie_id), float(average), float(least), [float(v) for v in chosen[:, i]])
            for i, (movie_id, average, least) in enumerate(zip(movie_ids, order.average, order.least, strict=True))
        ],
    )


def _allowed_rows(*, run, cold, stars: foldin.StarsModel, genre, min_ratings: int) -> np.ndarray:
    """A boolean array over the stars model's rows: movies passing the genre and minimum-ratings filters.

    The filter masks are the fold-in's (cached per run and process, over the list model's rows); both models
    are fitted on the same ratings, so their rows are normally the same movies, else the mask is mapped by id.
    """
    factors = cold_items.serving_item_factors(run, cold)
    mask = foldin.candidate_mask(factors=factors, genre_id=genre.pk if genre else None, min_ratings=min_ratings)
    if mask is None:
        return np.ones(stars.movie_ids.size, dtype=bool)
    if np.array_equal(factors.movie_ids, stars.movie_ids):
        return mask.copy()
    allowed = np.zeros(stars.movie_ids.size, dtype=bool)
    rows, found = stars.rows_of(factors.movie_ids[mask])
    allowed[rows[found]] = True
    return allowed


def _popular(
    view: GroupView, aggregation: str, genre, min_ratings: int, limit: int, *, reason: str, run=None
) -> GroupMovies:
    user_ids = [m.user_id for m in view.members]
    movies = movie_list_popular(
        limit=limit,
        genre=genre,
        min_ratings=min_ratings,
        exclude_subquery=Rating.objects.filter(user_id__in=user_ids).values("movie_id"),
        exclude_movie_ids=NotInterested.objects.filter(user_id__in=user_ids).values_list("movie_id", flat=True),
    )
    return GroupMovies(
        items=[GroupMovie(movie=m, score=None, average=None, least=None) for m in movies],
        personal=False,
        aggregation=aggregation,
        reason=reason,
        run=run,
    )
