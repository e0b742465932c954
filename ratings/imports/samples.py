"""Export files written from a catalogue the way each site writes them, for the tests, the bench and demos.

Pure: catalogue tuples (id, MovieLens title, year, IMDb digits, TMDB id) in, file bytes out.
Letterboxd writes titles as people do ("The Godfather", accents kept, no alternative titles), so
its file exercises the title rules; the others carry ids.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from catalog.titles import display_title

from .formats import MOVIEREC_HEADER

CatalogueRow = tuple[int, str, int | None, str, int | None]
START = datetime(2015, 1, 1, tzinfo=UTC)


def _stars(rng: random.Random) -> float:
    return rng.randint(1, 10) / 2


def _date(rng: random.Random) -> datetime:
    return START + timedelta(days=rng.randint(0, 3000), seconds=rng.randint(0, 86399))


def _csv(header: Sequence[str], rows: list[Sequence]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def letterboxd_csv(movies: Sequence[CatalogueRow], *, seed: int = 0) -> bytes:
    """Letterboxd's ratings.csv: Date,Name,Year,Letterboxd URI,Rating."""
    rng = random.Random(seed)
    rows = [
        (_date(rng).date().isoformat(), display_title(title), year or "", f"https://boxd.it/{movie_id:x}", _stars(rng))
        for movie_id, title, year, _, _ in movies
    ]
    return _csv(("Date", "Name", "Year", "Letterboxd URI", "Rating"), rows)


IMDB_HEADER = (
    "Const", "Your Rating", "Date Rated", "Title", "Original Title", "URL", "Title Type", "IMDb Rating",
    "Runtime (mins)", "Year", "Genres", "Num Votes", "Release Date", "Directors",
)  # fmt: skip


def imdb_csv(movies: Sequence[CatalogueRow], *, seed: int = 0) -> bytes:
    """IMDb's "Your Ratings" export (the newer one, with Original Title); movies without an IMDb id are left out."""
    rng = random.Random(seed)
    rows = []
    for _, title, year, imdb_id, _ in movies:
        if not imdb_id:
            continue
        const = f"tt{int(imdb_id):07d}"
        name = display_title(title)
        rows.append(
            (const, rng.randint(1, 10), _date(rng).date().isoformat(), name, name, f"https://www.imdb.com/title/{const}/",
             "Movie", "7.1", "101", year or "", "Drama", "12345", f"{year or 2000}-01-01", "Someone")
        )  # fmt: skip
    return _csv(IMDB_HEADER, rows)


def trakt_json(movies: Sequence[CatalogueRow], *, seed: int = 0) -> bytes:
    """Trakt's ratings-movies.json."""
    rng = random.Random(seed)
    items = [
        {
            "rated_at": _date(rng).isoformat().replace("+00:00", ".000Z"),
            "rating": rng.randint(1, 10),
            "type": "movie",
            "movie": {
                "title": display_title(title),
                "year": year,
                "ids": {"trakt": movie_id, "imdb": f"tt{int(imdb_id):07d}" if imdb_id else None, "tmdb": tmdb_id},
            },
        }
        for movie_id, title, year, imdb_id, tmdb_id in movies
    ]
    return json.dumps(items).encode()


def movierec_csv(movies: Sequence[CatalogueRow], *, seed: int = 0) -> bytes:
    """This site's export: movie_id,imdb_id,tmdb_id,title,year,rating,rated_at."""
    rng = random.Random(seed)
    rows = [
        (movie_id, imdb_id, tmdb_id or "", title, year or "", _stars(rng), _date(rng).isoformat())
        for movie_id, title, year, imdb_id, tmdb_id in movies
    ]
    return _csv(MOVIEREC_HEADER, rows)


def movielens_catalogue(folder) -> list[CatalogueRow]:
    """Catalogue tuples straight from a MovieLens CSV folder (movies.csv, links.csv), without a database."""
    from pathlib import Path

    from catalog.titles import split_year

    folder = Path(folder)
    with open(folder / "links.csv", newline="", encoding="utf-8") as handle:
        links = {row["movieId"]: row for row in csv.DictReader(handle)}
    with open(folder / "movies.csv", newline="", encoding="utf-8") as handle:
        movies = []
        for row in csv.DictReader(handle):
            link = links.get(row["movieId"], {})
            tmdb = link.get("tmdbId") or ""
            movies.append(
                (int(row["movieId"]), row["title"], split_year(row["title"])[1], link.get("imdbId") or "",
                 int(tmdb) if tmdb.isdigit() else None)
            )  # fmt: skip
    return movies
