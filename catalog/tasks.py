"""django-q2 tasks of the catalogue: take primitive ids and call the same service as the command."""

from __future__ import annotations

import logging

from .enrichment import movie_details_enrich
from .tmdb import tmdb_enabled

logger = logging.getLogger(__name__)


def tmdb_enrich_task(movie_ids: list[int] | None = None, limit: int | None = None, force: bool = False) -> dict:
    """Fetch TMDB details (catalog.enrichment.movie_details_enrich) for `movie_ids`, or for up to `limit` due movies.

    Does nothing when TMDB is not configured. Raises when TMDB refuses the credentials, so the task is
    recorded as failed with the reason.
    """
    if not tmdb_enabled():
        logger.info("TMDB enrichment skipped: neither TMDB_API_KEY nor TMDB_READ_TOKEN is set")
        return {"skipped": "TMDB is not configured"}
    summary = movie_details_enrich(movie_ids=movie_ids, limit=limit, force=force)
    if summary.aborted:
        raise RuntimeError(summary.aborted)
    return summary.as_dict()
