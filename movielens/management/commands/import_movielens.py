"""python manage.py import_movielens PATH | --download NAME [--skip-invalid] [--no-progress]"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from movielens.services import DATASETS, ImportSummary, MovieLensError, movielens_fetch, movielens_import

ISSUES_SHOWN = 20


class Command(BaseCommand):
    help = (
        "Import a MovieLens data set (folder or .zip: ml-latest, ml-latest-small, ml-32m, ml-25m, ml-20m, ml-10m, "
        "ml-1m, ml-100k) into movies, genres, users, ratings and tags. Safe to run again: only changes are written."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", help="MovieLens folder or .zip")
        parser.add_argument("--download", metavar="NAME", choices=DATASETS, help="fetch NAME.zip from GroupLens first")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="skip bad rows (and list them) instead of failing"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")

    def handle(self, *args, path: str | None, download: str | None, skip_invalid: bool, no_progress: bool, **options):
        if bool(path) == bool(download):
            raise CommandError("give either a PATH to a MovieLens folder or zip, or --download NAME")
        try:
            if download:
                path = str(movielens_fetch(name=download, progress=not no_progress))
                self.stdout.write(f"Using {path}")
            summary = movielens_import(path=path, skip_invalid=skip_invalid, progress=not no_progress)
        except MovieLensError as exc:
            raise CommandError(f"Import failed, nothing was changed: {exc}") from exc
        self._report(summary)

    def _report(self, s: ImportSummary) -> None:
        if s.skipped:
            self.stderr.write(self.style.WARNING(f"Skipped {s.skipped} invalid row(s):"))
            for issue in s.issues[:ISSUES_SHOWN]:
                self.stderr.write(f"  {issue}")
            if s.skipped > ISSUES_SHOWN:
                self.stderr.write(f"  ... and {s.skipped - ISSUES_SHOWN} more")
        lines = [
            f"Imported {s.source} ({s.format}) in {s.seconds:.1f} s{' (bulk load)' if s.bulk else ''}",
            f"  movies:  {s.movies_created} created, {s.movies_updated} updated",
            f"  genres:  {s.genres_created} created",
            f"  users:   {s.users_created} created",
            f"  ratings: {s.ratings_created} created, {s.ratings_updated} updated, {s.ratings_unchanged} unchanged",
            f"  tags:    {s.tags_created} created, {s.tags_updated} updated, {s.tags_unchanged} unchanged",
        ]
        if s.skipped:
            lines.append(f"  skipped: {s.skipped} invalid row(s)")
        self.stdout.write(self.style.SUCCESS(lines[0]))
        self.stdout.write("\n".join(lines[1:]))
