"""Writes for ratings and the per-user lists that sit beside them (wishlist, not interested), and the
movie statistics (Movie.rating_count, Movie.rating_mean) derived from the ratings."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from catalog.models import Movie

from .models import NotInterested, Rating, WishlistEntry, validate_rating_value


def rating_upsert(*, user, movie: Movie, value) -> Rating:
    """Set `user`'s rating of `movie` to `value` (0.5 to 5 in half steps), stamped now.

    Creates or replaces the one rating per user and movie. Rating a movie takes it off the
    user's wishlist (they have seen it). Raises django ValidationError with a readable
    message for any other value; nothing is written then.
    """
    validate_rating_value(value)
    value = Decimal(str(value))
    with transaction.atomic():
        rating, _ = Rating.objects.update_or_create(
            user=user, movie=movie, defaults={"value": value, "rated_at": timezone.now()}
        )
        WishlistEntry.objects.filter(user=user, movie=movie).delete()
    return rating


def rating_upsert_many(*, user, values: dict[Movie, object]) -> list[Rating]:
    """Set many of `user`'s ratings at once (movie -> value), all or nothing, stamped now.

    The same rules as `rating_upsert` (each value checked first; rated movies leave the wishlist) in
    one INSERT … ON CONFLICT DO UPDATE and one DELETE, whatever the number of movies. Returns the
    saved ratings in the order of `values`, with their movies attached.
    """
    checked = {}
    for movie, value in values.items():
        validate_rating_value(value)
        checked[movie] = Decimal(str(value))
    now = timezone.now()
    with transaction.atomic():
        saved = Rating.objects.bulk_create(
            [Rating(user=user, movie=movie, value=value, rated_at=now) for movie, value in checked.items()],
            update_conflicts=True,
            unique_fields=["user", "movie"],
            update_fields=["value", "rated_at"],
        )
        WishlistEntry.objects.filter(user=user, movie__in=list(checked)).delete()
    return saved


def rating_delete(*, user, movie: Movie) -> bool:
    """Remove `user`'s rating of `movie`; True if there was one."""
    deleted, _ = Rating.objects.filter(user=user, movie=movie).delete()
    return deleted > 0


def wishlist_add(*, user, movie: Movie) -> WishlistEntry:
    """Put `movie` on `user`'s wishlist (idempotent)."""
    entry, _ = WishlistEntry.objects.get_or_create(user=user, movie=movie)
    return entry


def wishlist_remove(*, user, movie: Movie) -> bool:
    """Take `movie` off `user`'s wishlist; True if it was on it."""
    deleted, _ = WishlistEntry.objects.filter(user=user, movie=movie).delete()
    return deleted > 0


def not_interested_add(*, user, movie: Movie) -> NotInterested:
    """Hide `movie` from `user`'s recommendations from now on (idempotent)."""
    entry, _ = NotInterested.objects.get_or_create(user=user, movie=movie)
    return entry


def not_interested_remove(*, user, movie: Movie) -> bool:
    """Let `movie` be recommended to `user` again; True if it was hidden."""
    deleted, _ = NotInterested.objects.filter(user=user, movie=movie).delete()
    return deleted > 0


def movie_stats_refresh() -> int:
    """Recompute Movie.rating_count and Movie.rating_mean from the ratings table for every movie.

    One set-based UPDATE; only movies whose figures change are written. Movies without ratings get
    count 0 and mean NULL. Returns the number of movies updated.
    """
    movie, rating = Movie._meta.db_table, Rating._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {movie} AS m SET rating_count = f.n, rating_mean = f.mean
            FROM (
                SELECT mm.id, coalesce(s.n, 0) AS n, s.mean
                FROM {movie} AS mm
                LEFT JOIN (
                    SELECT movie_id, count(*) AS n, (sum(value) / count(*))::double precision AS mean
                    FROM {rating} GROUP BY movie_id
                ) AS s ON s.movie_id = mm.id
            ) AS f
            WHERE m.id = f.id AND (m.rating_count, m.rating_mean) IS DISTINCT FROM (f.n, f.mean)
            """
        )
        return cursor.rowcount
