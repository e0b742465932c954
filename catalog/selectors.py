"""Reads for the catalogue: search and browse, a movie's details, popular movies."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models import CharField, Count, F, Func, Min, QuerySet, Value

from .models import Fold, Genre, Movie, Tag

# Sorting by average rating among movies with a handful of ratings would put obscure 5.0s first.
AVERAGE_SORT_MIN_RATINGS = 25

MOVIE_SORTS: dict[str, tuple] = {
    "popular": (F("rating_count").desc(), "title", "id"),
    "rating": (F("rating_mean").desc(nulls_last=True), F("rating_count").desc(), "id"),
    "newest": (F("year").desc(nulls_last=True), F("rating_count").desc(), "id"),
    "oldest": (F("year").asc(nulls_last=True), F("rating_count").desc(), "id"),
    "title": ("title", "id"),
}
FIRST_DECADE = 1890


@dataclass(frozen=True)
class MovieFilters:
    query: str = ""
    genre: Genre | None = None
    decade: int | None = None
    sort: str = "popular"
    min_ratings: int | None = None


def movie_search(*, filters: MovieFilters) -> QuerySet[Movie]:
    """Movies matching the filters, ordered by `filters.sort` (a key of MOVIE_SORTS).

    The query matches titles ignoring case and accents; every word must appear ("the matrix"
    finds "Matrix, The (1999)"). Sorting by average rating leaves out movies with fewer than
    AVERAGE_SORT_MIN_RATINGS ratings unless a minimum is given.
    """
    movies = Movie.objects.all()
    words = filters.query.split()[:8]
    # The stored folded title (Movie.title_folded), never movierec_fold(title) per row: see the model.
    for word in words:
        movies = movies.filter(title_folded__contains=Fold(Value(word)))
    if filters.genre is not None:
        movies = movies.filter(genres=filters.genre)
    if filters.decade is not None:
        movies = movies.filter(year__gte=filters.decade, year__lte=filters.decade + 9)
    min_ratings = _min_ratings(filters)
    if min_ratings:
        movies = movies.filter(rating_count__gte=min_ratings)
    ordering = MOVIE_SORTS.get(filters.sort, MOVIE_SORTS["popular"])
    return movies.order_by(*ordering).with_genres()


def _min_ratings(filters: MovieFilters) -> int | None:
    if filters.min_ratings is None and filters.sort == "rating":
        return AVERAGE_SORT_MIN_RATINGS
    return filters.min_ratings


def movie_search_count_kept(*, filters: MovieFilters) -> int | None:
    """The number of movies `movie_search(filters=filters)` returns when the database keeps it, else None (count
    the query). Kept: a genre with no other filter (Genre.movie_count, maintained by triggers; `filters.genre` must
    have been read from the database in this request, as the filter form's cleaning does)."""
    if filters.genre is None or filters.query.split() or filters.decade is not None or _min_ratings(filters):
        return None
    return filters.genre.movie_count


def decade_choices(*, until_year: int) -> list[int]:
    return list(range(until_year // 10 * 10, FIRST_DECADE - 1, -10))


def genre_list() -> list[Genre]:
    return list(Genre.objects.order_by("name"))


# The genre names the filter forms offer, in the default cache: a query and a model instance per genre on every
# browse and recommendations page, for a list that changes when staff add a genre or an import brings one.
# Forgotten at once by the process that changes them (catalog.apps connects Genre's signals; the MovieLens loader
# calls genre_names_forget), by every process when CACHE_URL names a shared cache, else within GENRE_NAMES_SECONDS.
GENRE_NAMES_KEY = "genre-names"
GENRE_NAMES_SECONDS = 60


def genre_names() -> list[str]:
    """Every genre's name, in name order; at most GENRE_NAMES_SECONDS old in other processes (see above)."""
    names = cache.get(GENRE_NAMES_KEY)
    if names is None:
        names = list(Genre.objects.order_by("name").values_list("name", flat=True))
        cache.set(GENRE_NAMES_KEY, names, GENRE_NAMES_SECONDS)
    return names


def genre_names_forget(**_signal_kwargs) -> None:
    """Drop the cached genre names now and again when the current transaction commits (a request in between
    could cache the names it still saw). Also a receiver for Genre's post_save and post_delete."""
    cache.delete(GENRE_NAMES_KEY)
    transaction.on_commit(lambda: cache.delete(GENRE_NAMES_KEY))


def movie_get(*, movie_id: int) -> Movie | None:
    return Movie.objects.with_genres().filter(pk=movie_id).first()


def tag_counts_for_movie(*, movie: Movie, limit: int = 30) -> list[tuple[str, int]]:
    """Distinct tag texts on the movie (case-insensitively merged), most used first."""
    rows = (
        Tag.objects.filter(movie=movie)
        .annotate(key=Func(F("tag"), function="lower", output_field=CharField()))
        .values("key")
        .annotate(count=Count("id"), text=Min("tag"))
        .order_by("-count", "key")[:limit]
    )
    return [(row["text"], row["count"]) for row in rows]


def movie_list_popular(
    *,
    limit: int = 50,
    genre: Genre | None = None,
    min_ratings: int = 0,
    exclude_movie_ids: Iterable[int] = (),
    exclude_subquery: QuerySet | None = None,
) -> list[Movie]:
    """The most-rated movies (ties: higher average first), genres prefetched.

    Leaves out `exclude_movie_ids` and the ids a one-column `exclude_subquery` yields (such as
    a user's rated movies, so the ids never travel to Python).
    """
    movies = Movie.objects.with_genres().filter(rating_count__gt=0, rating_count__gte=min_ratings)
    if genre is not None:
        movies = movies.filter(genres=genre)
    if exclude_subquery is not None:
        movies = movies.exclude(pk__in=exclude_subquery)
    exclude_movie_ids = list(exclude_movie_ids)
    if exclude_movie_ids:
        movies = movies.exclude(pk__in=exclude_movie_ids)
    return list(movies.order_by("-rating_count", "-rating_mean", "pk")[:limit])


def movie_in_bulk(*, movie_ids: Iterable[int]) -> dict[int, Movie]:
    """id -> Movie for those of `movie_ids` that exist, in one query (no genres prefetched)."""
    return Movie.objects.in_bulk(list(movie_ids))


# --- Movies for recommendation lists, cached per process. ---
# A recommendations response names up to 100 movies with their genres; loading them took two
# queries and ~10 ms of ORM work per request. Titles, genres and rating counts change rarely
# (admin edits, the stats refresh after an import), so a short-lived per-process copy serves.
MOVIE_CACHE_SECONDS = 60.0
MOVIE_CACHE_MAX = 100_000
_movie_cache: dict[int, tuple[float, Movie]] = {}
_movie_cache_lock = threading.Lock()


def movie_in_bulk_cached(*, movie_ids: Iterable[int]) -> dict[int, Movie]:
    """id -> Movie (genres prefetched) for those of `movie_ids` that exist; at most MOVIE_CACHE_SECONDS old.

    The Movie objects are shared between requests of the process: read them, never modify them.
    """
    now = time.monotonic()
    found: dict[int, Movie] = {}
    missing = []
    for movie_id in movie_ids:
        hit = _movie_cache.get(movie_id)
        if hit is not None and now - hit[0] < MOVIE_CACHE_SECONDS:
            found[movie_id] = hit[1]
        else:
            missing.append(movie_id)
    if missing:
        loaded = Movie.objects.with_genres().in_bulk(missing)
        with _movie_cache_lock:
            if len(_movie_cache) + len(loaded) > MOVIE_CACHE_MAX:
                _movie_cache.clear()
            for movie_id, movie in loaded.items():
                _movie_cache[movie_id] = (now, movie)
        found.update(loaded)
    return found


def movie_cache_clear() -> None:
    with _movie_cache_lock:
        _movie_cache.clear()


# --- What a movie is about, for the content map (recommendations.content). ---


@dataclass(frozen=True)
class MovieContent:
    """A movie's content: genres, year, title, its MovieLens tags (lower-cased text -> applications) and, when TMDB
    details were fetched, the overview, directors and top cast."""

    movie_id: int
    title: str
    year: int | None
    genres: tuple[str, ...]
    tags: dict[str, int]
    overview: str = ""
    directors: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()


def movie_content_list(*, movie_ids: Iterable[int] | None = None) -> list[MovieContent]:
    """The content of `movie_ids` (None: the whole catalogue) that exist, by id; four queries whatever the count."""
    from .models import MovieDetails

    movies = Movie.objects.all()
    genres = Movie.genres.through.objects.all()
    tags = Tag.objects.all()
    details = MovieDetails.objects.filter(status=MovieDetails.Status.OK)
    if movie_ids is not None:
        ids = sorted({int(movie_id) for movie_id in movie_ids})
        movies = movies.filter(pk__in=ids)
        genres = genres.filter(movie_id__in=ids)
        tags = tags.filter(movie_id__in=ids)
        details = details.filter(movie_id__in=ids)
    genre_names: dict[int, list[str]] = {}
    for movie_id, name in genres.values_list("movie_id", "genre__name"):
        genre_names.setdefault(movie_id, []).append(name)
    tag_counts: dict[int, dict[str, int]] = {}
    tag_rows = (
        tags.annotate(key=Func(F("tag"), function="lower", output_field=CharField()))
        .values_list("movie_id", "key")
        .annotate(count=Count("id"))
        .order_by()
    )
    for movie_id, key, count in tag_rows:
        tag_counts.setdefault(movie_id, {})[key] = count
    detail_rows = {
        movie_id: (overview, tuple(directors or ()), tuple(cast or ()))
        for movie_id, overview, directors, cast in details.values_list("movie_id", "overview", "directors", "cast")
    }
    return [
        MovieContent(
            movie_id=movie_id,
            title=title,
            year=year,
            genres=tuple(sorted(genre_names.get(movie_id, ()))),
            tags=tag_counts.get(movie_id, {}),
            overview=detail_rows.get(movie_id, ("", (), ()))[0],
            directors=detail_rows.get(movie_id, ("", (), ()))[1],
            cast=detail_rows.get(movie_id, ("", (), ()))[2],
        )
        for movie_id, title, year in movies.order_by("pk").values_list("pk", "title", "year")
    ]
