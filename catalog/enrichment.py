"""Posters, overviews and credits from TMDB: which movies are due, fetching them, storing the answers.

One service (`movie_details_enrich`) serves the `enrich_tmdb` command, the django-q2 task
(catalog.tasks.tmdb_enrich_task) and the admin action. MovieDetails is a cache of what TMDB answered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .models import Movie, MovieDetails
from .tmdb import TmdbAuthError, TmdbClient, TmdbError, TmdbMovie, TmdbNotFound, tmdb_enabled

logger = logging.getLogger(__name__)

# A failed fetch (TMDB down, an odd answer) is tried again by the next batch after this long.
ERROR_RETRY = timedelta(hours=1)
Status = MovieDetails.Status


@dataclass
class EnrichmentSummary:
    ok: int = 0
    not_found: int = 0
    errors: int = 0
    # Why the batch stopped before the end (TMDB refused the credentials), else "".
    aborted: str = ""

    @property
    def fetched(self) -> int:
        return self.ok + self.not_found + self.errors

    def as_dict(self) -> dict:
        return asdict(self)


def movie_details_due(*, now: datetime | None = None) -> QuerySet[Movie]:
    """Movies with a TMDB id whose details should be fetched, never fetched first, then the oldest.

    Due: no details yet; details for another TMDB id; `ok` older than TMDB_REFRESH_DAYS; `not_found`
    older than TMDB_NOT_FOUND_RETRY_DAYS; `error` older than ERROR_RETRY.
    """
    now = now or timezone.now()
    stale = (
        Q(details__status=Status.OK, details__fetched_at__lt=now - timedelta(days=settings.TMDB_REFRESH_DAYS))
        | Q(
            details__status=Status.NOT_FOUND,
            details__fetched_at__lt=now - timedelta(days=settings.TMDB_NOT_FOUND_RETRY_DAYS),
        )
        | Q(details__status=Status.ERROR, details__fetched_at__lt=now - ERROR_RETRY)
    )
    other_id = Q(details__isnull=False) & ~Q(details__tmdb_id=F("tmdb_id"))
    return (
        Movie.objects.filter(tmdb_id__isnull=False)
        .filter(Q(details__isnull=True) | other_id | stale)
        .order_by(F("details__fetched_at").asc(nulls_first=True), "pk")
    )


def movie_details_store(*, movie: Movie, found: TmdbMovie | None, status: str, error: str = "") -> MovieDetails:
    """Write what TMDB answered for `movie` (its current tmdb_id) and return the row.

    `ok` replaces everything; `not_found` clears the content; `error` keeps earlier good content (only the
    message is recorded, and the movie stays due) or records the failed attempt when there was none.
    """
    now = timezone.now()
    if status == Status.ERROR:
        kept = MovieDetails.objects.filter(movie=movie, tmdb_id=movie.tmdb_id, status=Status.OK).first()
        if kept is not None:
            kept.error = error[:500]
            kept.save(update_fields=["error"])
            return kept
    content = {
        "poster_path": found.poster_path if found else "",
        "overview": found.overview if found else "",
        "runtime": found.runtime if found else None,
        "directors": found.directors if found else [],
        "cast": found.cast if found else [],
    }
    details, _ = MovieDetails.objects.update_or_create(
        movie=movie,
        defaults={"tmdb_id": movie.tmdb_id, "status": status, "fetched_at": now, "error": error[:500], **content},
    )
    return details


def movie_details_fetch(*, movie: Movie, client: TmdbClient) -> MovieDetails:
    """Ask TMDB about one movie (it must have a tmdb_id) and store the answer: ok, not_found or error.

    Raises TmdbAuthError, storing nothing: bad credentials say nothing about the movie.
    """
    try:
        found = client.movie(movie.tmdb_id)
    except TmdbAuthError:
        raise
    except TmdbNotFound:
        return movie_details_store(movie=movie, found=None, status=Status.NOT_FOUND)
    except TmdbError as error:
        logger.warning("TMDB details for movie %s (TMDB %s) failed: %s", movie.pk, movie.tmdb_id, error)
        return movie_details_store(movie=movie, found=None, status=Status.ERROR, error=str(error))
    return movie_details_store(movie=movie, found=found, status=Status.OK)


def movie_details_enrich(
    *,
    limit: int | None = None,
    movie_ids: Iterable[int] | None = None,
    force: bool = False,
    client: TmdbClient | None = None,
    on_progress: Callable[[Movie, MovieDetails], None] | None = None,
) -> EnrichmentSummary:
    """Fetch and store TMDB details for the due movies (`movie_details_due`), at most `limit` of them.

    With `movie_ids`, only those (with a tmdb_id); `force` fetches them even if their details are fresh.
    Details of movies that no longer have a tmdb_id are deleted first. One request per movie, paced by
    the client's rate limiter. A 401 from TMDB stops the batch: the summary's `aborted` says why (what
    was fetched before stays). Raises TmdbAuthError when TMDB is not configured.
    """
    client = client or TmdbClient.from_settings()
    MovieDetails.objects.filter(movie__tmdb_id__isnull=True).delete()
    if movie_ids is not None:
        movies = Movie.objects.filter(pk__in=list(movie_ids), tmdb_id__isnull=False)
        if not force:
            movies = movies.filter(pk__in=movie_details_due().values("pk"))
        movies = movies.order_by("pk")
    else:
        movies = movie_details_due()
    movies = movies.only("id", "tmdb_id", "title")
    batch = list(movies[:limit] if limit is not None else movies)
    summary = EnrichmentSummary()
    for movie in batch:
        try:
            details = movie_details_fetch(movie=movie, client=client)
        except TmdbAuthError as error:
            summary.aborted = str(error)
            logger.error("TMDB enrichment stopped: %s", error)
            break
        if details.status == Status.OK and not details.error:
            summary.ok += 1
        elif details.status == Status.NOT_FOUND:
            summary.not_found += 1
        else:
            summary.errors += 1
        if on_progress is not None:
            on_progress(movie, details)
    return summary


def movie_details_enqueue(*, movie_ids: list[int], force: bool = False) -> bool:
    """When TMDB is configured, queue catalog.tasks.tmdb_enrich_task for these movies once the transaction
    commits (so the worker sees them). Returns whether anything was queued."""
    if not tmdb_enabled() or not movie_ids:
        return False
    from django_q.tasks import async_task

    ids = [int(pk) for pk in movie_ids]
    transaction.on_commit(lambda: async_task("catalog.tasks.tmdb_enrich_task", ids, None, force))
    return True
