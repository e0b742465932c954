"""The MovieLens import: one transaction that writes movies, genres, links, users, ratings and tags."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from django.db import connection, transaction
from tqdm import tqdm

from catalog.models import Movie
from ratings.services import movie_stats_refresh

from .download import DATASETS, movielens_download
from .errors import Issues, MovieLensError
from .formats import (
    KnownMovies,
    detect_format,
    read_links,
    read_movies,
    read_ratings,
    read_ratings_fast,
    read_tags,
    scan_rating_users,
)
from .loader import LoadCounts, MovieLensLoader
from .sources import open_source

__all__ = [
    "DATASETS",
    "ImportSummary",
    "MovieLensError",
    "movielens_fetch",
    "movielens_import",
]


@dataclass(kw_only=True)
class ImportSummary(LoadCounts):
    """What an import did: the loader's counts, plus `issues`, the first skipped rows as "file:line: reason"."""

    source: str
    format: str
    rows_read: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    issues: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ratings_total(self) -> int:
        return self.ratings_created + self.ratings_updated + self.ratings_unchanged

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _bar(name: str, *, progress: bool) -> tqdm:
    # disable=None: show the bar only on a terminal.
    return tqdm(desc=f"{name:<12}", unit=" rows", unit_scale=True, file=sys.stderr, disable=None if progress else True)


def movielens_import(*, path: Path | str, skip_invalid: bool = False, progress: bool = True) -> ImportSummary:
    """Import a MovieLens data set (folder or .zip) into movies, genres, users, ratings and tags.

    Detects the format from the files present (ml-latest/-small/-20m/-25m CSV, ml-10m and ml-1m
    .dat, ml-100k). Creates or updates movies (title, year, genres, IMDb/TMDb links), creates a
    user with an unusable password for every MovieLens userId, upserts ratings and tags (the latest
    of repeated tags wins), then refreshes Movie.rating_count/rating_mean. Re-importing the same data
    changes nothing. Everything happens in one transaction.

    Raises MovieLensError (nothing written) for an unreadable source, an unknown format, a missing
    column, a release whose movie ids name other films than the stored ones (ml-100k over another
    release, or the reverse), or, unless `skip_invalid`, the first bad row, named as file:line. With `skip_invalid`
    bad rows are skipped and listed in the summary. `progress` shows tqdm bars on a terminal.
    """
    started = time.monotonic()
    source = open_source(Path(path))
    try:
        fmt = detect_format(source)
        summary = ImportSummary(source=str(path), format=fmt.name)
        issues = Issues(skip_invalid=skip_invalid)
        with transaction.atomic(), connection.cursor() as cursor:
            loader = MovieLensLoader(cursor)
            loader.begin()
            known = KnownMovies(set(Movie.objects.values_list("id", flat=True)))
            with loader.phase(f"read {fmt.movies}"), _bar(fmt.movies, progress=progress) as bar:
                summary.rows_read[fmt.movies] = loader.copy_movies(read_movies(source, fmt, issues, bar), known)
            loader.check_same_numbering(source.label(fmt.movies))
            has_links = fmt.links is not None and fmt.links in source.names
            if has_links:
                with loader.phase(f"read {fmt.links}"), _bar(fmt.links, progress=progress) as bar:
                    summary.rows_read[fmt.links] = loader.copy_links(read_links(source, fmt, known, issues, bar))
            with loader.phase(f"read {fmt.ratings}"), _bar(fmt.ratings, progress=progress) as bar:
                summary.rows_read[fmt.ratings] = loader.stage_ratings(
                    fast=lambda: read_ratings_fast(source, fmt, known, issues, bar),
                    slow=lambda: read_ratings(source, fmt, known, issues, bar),
                    scan=lambda: scan_rating_users(source, fmt),
                    size=source.size(fmt.ratings),
                    issues=issues,
                    bar=bar,
                )
            loader.resolve_duplicate_ratings(issues, source.label(fmt.ratings))
            if fmt.tags is not None and fmt.tags in source.names:
                with loader.phase(f"read {fmt.tags}"), _bar(fmt.tags, progress=progress) as bar:
                    summary.rows_read[fmt.tags] = loader.copy_tags(read_tags(source, fmt, known, issues, bar))
            counts = loader.apply(has_links=has_links)
            with loader.phase("refresh movie statistics"):
                movie_stats_refresh()
            loader.drop_staging()
        summary.timings = loader.timings
    finally:
        source.close()
    _fill(summary, counts)
    summary.skipped = issues.count
    summary.issues = issues.kept
    summary.seconds = round(time.monotonic() - started, 2)
    return summary


def _fill(summary: ImportSummary, counts: LoadCounts) -> None:
    for name, value in asdict(counts).items():
        setattr(summary, name, value)


def movielens_fetch(*, name: str, progress: bool = True) -> Path:
    """Download the named MovieLens zip into settings.MOVIELENS_CACHE_DIR (or reuse it) and return its path.

    See `movielens.download.movielens_download` for verification; raises MovieLensError.
    """
    return movielens_download(name=name, progress=progress)
