"""Reads for "About your ratings": how a person rates, next to everyone else, and what their last ratings changed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Avg, Count, F, FloatField, QuerySet
from django.db.models.functions import Cast

from catalog.models import Movie
from catalog.selectors import movie_in_bulk
from ratings.models import RATING_CHOICES, NotInterested, Rating, WishlistEntry
from ratings.selectors import not_interested_movie_ids
from recommendations.selectors import recommend_for_user, training_run_serving

# A movie's mean speaks for "everyone" once this many people rated it.
MIN_RATERS = 20
# A genre is compared once the person rated this many of its movies (with MIN_RATERS each).
MIN_GENRE_RATINGS = 3
GENRES_SHOWN = 5
DIFFERENCES_SHOWN = 5
# "How your list changed": the list folded in without the last LAST_RATINGS ratings against all of them.
LAST_RATINGS = 5
LIST_SHOWN = 10
# As the recommendations page's default filter: the same list the person sees there.
LIST_MIN_RATINGS = 25


def user_data_counts(*, user) -> dict[str, int]:
    """How many ratings, wishlist entries and hidden movies the user has (three counts)."""
    return {
        "ratings": Rating.objects.filter(user=user).count(),
        "wishlist": WishlistEntry.objects.filter(user=user).count(),
        "hidden": NotInterested.objects.filter(user=user).count(),
    }


@dataclass(frozen=True)
class GenreTaste:
    genre: str
    ratings: int
    yours: float
    everyone: float

    @property
    def difference(self) -> float:
        return self.yours - self.everyone


@dataclass(frozen=True)
class ListEntry:
    movie: Movie
    rank: int
    score: float | None
    other_rank: int | None = None  # its rank in the other list (before or after), None if absent
    rated_since: bool = False  # one of the last ratings (so it left the list)


@dataclass(frozen=True)
class ListChange:
    last_ratings: list[tuple[Movie, Decimal, datetime]]  # newest first
    before: list[ListEntry] | None  # None: too little to fold in without the last ratings
    after: list[ListEntry]

    @property
    def arrived(self) -> list[ListEntry]:
        return [entry for entry in self.after if entry.other_rank is None]

    @property
    def left(self) -> list[ListEntry]:
        return [entry for entry in self.before or () if entry.other_rank is None]


@dataclass(frozen=True)
class RatingsAbout:
    count: int
    mean: float | None
    distribution: list[tuple[Decimal, int]]  # every half star 0.5 … 5, with how many ratings
    genres_above: list[GenreTaste]
    genres_below: list[GenreTaste]
    loved_more: list[Rating]  # with .movie and .difference (your stars − the movie's mean)
    liked_less: list[Rating]
    list_change: ListChange | None  # None without an active run or without ratings


def ratings_about_for_user(*, user) -> RatingsAbout:
    """Everything on the page, in a fixed number of queries whatever the number of ratings.

    One read of the user's ratings (their values and dates: the distribution and the last ratings),
    one aggregate per genre, two for the movies they differ most on, and for the list change the
    active run, their hidden movies and the movies named (the run's factors are cached per process).
    """
    ratings = list(
        Rating.objects.filter(user=user).order_by("-rated_at", "-movie_id").values_list("movie_id", "value", "rated_at")
    )
    if not ratings:
        return RatingsAbout(0, None, _distribution([]), [], [], [], [], None)
    values = [value for _, value, _ in ratings]
    genres = _genre_taste(user)
    return RatingsAbout(
        count=len(ratings),
        mean=float(sum(values) / len(values)),
        distribution=_distribution(values),
        genres_above=[g for g in sorted(genres, key=lambda g: -g.difference) if g.difference > 0][:GENRES_SHOWN],
        genres_below=[g for g in sorted(genres, key=lambda g: g.difference) if g.difference < 0][:GENRES_SHOWN],
        loved_more=list(
            _differences(user).filter(difference__gt=0).order_by("-difference", "movie__title")[:DIFFERENCES_SHOWN]
        ),
        liked_less=list(
            _differences(user).filter(difference__lt=0).order_by("difference", "movie__title")[:DIFFERENCES_SHOWN]
        ),
        list_change=_list_change(user, ratings),
    )


def _distribution(values) -> list[tuple[Decimal, int]]:
    counts = Counter(values)
    return [(value, counts.get(value, 0)) for value, _ in RATING_CHOICES]


def _genre_taste(user) -> list[GenreTaste]:
    """Per genre: the person's mean against the mean of the same movies' means (so someone who only
    watches acclaimed dramas does not "rate dramas high" for it)."""
    rows = (
        Rating.objects.filter(
            user=user,
            movie__rating_count__gte=MIN_RATERS,
            movie__rating_mean__isnull=False,
            movie__genres__isnull=False,
        )
        .values("movie__genres__name")
        .annotate(n=Count("movie_id"), yours=Avg("value"), everyone=Avg("movie__rating_mean"))
        .filter(n__gte=MIN_GENRE_RATINGS)
        .order_by()
    )
    return [
        GenreTaste(row["movie__genres__name"], row["n"], float(row["yours"]), float(row["everyone"]))
        for row in rows
        if row["movie__genres__name"] != "(no genres listed)"
    ]


def _differences(user) -> QuerySet[Rating]:
    difference = Cast("value", FloatField()) - F("movie__rating_mean")
    return (
        Rating.objects.filter(user=user, movie__rating_count__gte=MIN_RATERS, movie__rating_mean__isnull=False)
        .select_related("movie")
        .annotate(difference=difference)
    )


def _list_change(user, ratings: list[tuple]) -> ListChange | None:
    run = training_run_serving()
    if run is None:
        return None
    last, earlier = ratings[:LAST_RATINGS], ratings[LAST_RATINGS:]
    hidden = not_interested_movie_ids(user=user)

    def fold(rated) -> list | None:
        return recommend_for_user(
            user=user,
            run=run,
            ratings={movie_id: float(value) for movie_id, value, _ in rated},
            exclude_movie_ids=hidden,
            limit=LIST_SHOWN,
            min_ratings=LIST_MIN_RATINGS,
        )

    after = fold(ratings) or []
    before = fold(earlier) if earlier else None
    named = {m.movie_id for m in after} | {m.movie_id for m in before or ()} | {movie_id for movie_id, _, _ in last}
    movies = movie_in_bulk(movie_ids=named)
    after_ranks = {m.movie_id: rank for rank, m in enumerate(after, start=1)}
    before_ranks = {m.movie_id: rank for rank, m in enumerate(before or (), start=1)}
    last_ids = {movie_id for movie_id, _, _ in last}

    def entries(scored, other_ranks) -> list[ListEntry]:
        return [
            ListEntry(movies[m.movie_id], rank, m.score, other_ranks.get(m.movie_id), m.movie_id in last_ids)
            for rank, m in enumerate(scored, start=1)
            if m.movie_id in movies
        ]

    return ListChange(
        last_ratings=[(movies[movie_id], value, at) for movie_id, value, at in last if movie_id in movies],
        before=None if before is None else entries(before, after_ranks),
        after=entries(after, before_ranks),
    )
