"""python manage.py enrich_tmdb [--limit N] [--movie ID ...] [--force]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from catalog.enrichment import movie_details_enrich
from catalog.tmdb import tmdb_enabled


class Command(BaseCommand):
    help = (
        "Fetch posters, overviews, runtimes and credits from TMDB for movies with a TMDB id whose details are "
        "missing or older than TMDB_REFRESH_DAYS (TMDB_API_KEY or TMDB_READ_TOKEN must be set)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, metavar="N", help="at most N movies (the longest unfetched first)")
        parser.add_argument(
            "--movie", type=int, action="append", dest="movie_ids", metavar="ID", help="only this movie (repeatable)"
        )
        parser.add_argument("--force", action="store_true", help="with --movie: fetch even if the details are fresh")

    def handle(self, *args, limit: int | None, movie_ids: list[int] | None, force: bool, **options):
        if not tmdb_enabled():
            raise CommandError("TMDB is not configured: set TMDB_API_KEY (v3 key) or TMDB_READ_TOKEN (v4 token)")
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        verbose = options["verbosity"] > 1

        def progress(movie, details) -> None:
            if verbose:
                note = f" ({details.error})" if details.error else ""
                self.stdout.write(f"  {movie.pk} {movie.title}: {details.status}{note}")

        summary = movie_details_enrich(limit=limit, movie_ids=movie_ids, force=force, on_progress=progress)
        line = f"TMDB details: {summary.ok} fetched, {summary.not_found} not found, {summary.errors} failed"
        if summary.aborted:
            raise CommandError(f"{line}; stopped: {summary.aborted}")
        self.stdout.write(self.style.SUCCESS(line) if not summary.errors else self.style.WARNING(line))
