"""Reads of a user's ratings, wishlist and hidden movies."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import Count, QuerySet

from .models import NotInterested, Rating, WishlistEntry

# Public sort keys (as they appear in URLs) and their orderings; ties break on title.
RATING_SORTS: dict[str, tuple[str, ...]] = {
    "date": ("-rated_at", "movie__title"),
    "-date": ("rated_at", "movie__title"),
    "value": ("-value", "movie__title"),
    "-value": ("value", "movie__title"),
    "title": ("movie__title", "movie_id"),
    "-title": ("-movie__title", "-movie_id"),
}


def rating_list_for_user(*, user, sort: str = "date") -> QuerySet[Rating]:
    """The user's ratings with their movies; `sort` is a key of RATING_SORTS (newest first by default)."""
    ordering = RATING_SORTS.get(sort, RATING_SORTS["date"])
    return Rating.objects.filter(user=user).select_related("movie").order_by(*ordering)


def rating_get(*, user, movie_id: int) -> Rating | None:
    if not user.is_authenticated:
        return None
    return Rating.objects.filter(user=user, movie_id=movie_id).first()


def rating_values_for_movies(*, user, movie_ids) -> dict[int, Decimal]:
    """movie id -> the user's rating, for the given movies (one query; empty for anonymous users)."""
    if not user.is_authenticated:
        return {}
    return dict(Rating.objects.filter(user=user, movie_id__in=list(movie_ids)).values_list("movie_id", "value"))


def rating_values_for_user(*, user) -> dict[int, float]:
    """movie id -> value for every rating of the user, in one query."""
    return {
        movie_id: float(value) for movie_id, value in Rating.objects.filter(user=user).values_list("movie_id", "value")
    }


def wishlist_list_for_user(*, user) -> QuerySet[WishlistEntry]:
    return (
        WishlistEntry.objects.filter(user=user)
        .select_related("movie", "movie__details")  # the cards' posters
        .order_by("-added_at", "movie__title")
    )


def wishlist_movie_ids(*, user) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(WishlistEntry.objects.filter(user=user).values_list("movie_id", flat=True))


def not_interested_movie_ids(*, user) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(NotInterested.objects.filter(user=user).values_list("movie_id", flat=True))


def not_interested_list_for_user(*, user) -> QuerySet[NotInterested]:
    return NotInterested.objects.filter(user=user).select_related("movie").order_by("-created_at")


def rating_histograms(*, movie_ids) -> dict[int, list[int]]:
    """movie id -> counts of 0.5, 1.0, ... 5.0 stars (ten numbers) for those of `movie_ids` with ratings; one query."""
    histograms: dict[int, list[int]] = {}
    rows = (
        Rating.objects.filter(movie_id__in=list(movie_ids))
        .values_list("movie_id", "value")
        .annotate(count=Count("id"))
        .order_by()
    )
    for movie_id, value, count in rows:
        slot = min(max(int(round(float(value) * 2)) - 1, 0), 9)
        histograms.setdefault(movie_id, [0] * 10)[slot] += count
    return histograms


def rating_count_estimate() -> int:
    """About how many ratings there are, from the planner's statistics (instant at any size); an exact count when
    the table has never been analysed. Good for choosing settings by data size, not for display."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [Rating._meta.db_table])
        row = cursor.fetchone()
    if row is None or row[0] < 0:
        return Rating.objects.count()
    return int(row[0])
