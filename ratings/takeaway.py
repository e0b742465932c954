"""A person's own data as files they can take away: their ratings, wishlist and hidden movies.

Three formats, all streamed row by row (a user with tens of thousands of ratings never sits in memory):

- MovieRec CSV, one file per kind. The ratings file's header is exactly RATINGS_COLUMNS
  (`movie_id,imdb_id,tmdb_id,title,year,rating,rated_at`, rated_at ISO 8601 in UTC): the rating
  importer (ratings.imports) recognises it as a "MovieRec export" and reads it back.
- Letterboxd's import format (LETTERBOXD_COLUMNS; Rating 0.5–5, WatchedDate YYYY-MM-DD).
- JSON, one document with all three lists (the API's GET /api/v1/me/export/).

Text cells a spreadsheet would run as a formula (starting with = + - @, tab or carriage return)
get a leading apostrophe in the CSV files; numeric columns are written as plain numbers.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from django.utils import timezone

from catalog.titles import display_title

from .csvcells import spreadsheet_safe
from .imports.formats import MOVIEREC_HEADER
from .models import NotInterested, Rating, WishlistEntry

RATINGS_COLUMNS = MOVIEREC_HEADER
WISHLIST_COLUMNS = ("movie_id", "imdb_id", "tmdb_id", "title", "year", "added_at")
HIDDEN_COLUMNS = ("movie_id", "imdb_id", "tmdb_id", "title", "year", "hidden_at")
LETTERBOXD_COLUMNS = ("imdbID", "tmdbID", "Title", "Year", "Rating", "WatchedDate")

# Rows fetched per round trip (a server-side cursor) and written per streamed chunk.
CHUNK_ROWS = 2000

_MOVIE_FIELDS = ("movie_id", "movie__imdb_id", "movie__tmdb_id", "movie__title", "movie__year")


def _imdb(digits: str) -> str:
    return f"tt{digits}" if digits else ""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ordered_rows(queryset, *fields: str, order: tuple[str, ...]) -> Iterator[tuple]:
    return queryset.order_by(*order).values_list(*fields).iterator(chunk_size=CHUNK_ROWS)


# --- The rows: one query each, streamed from a server-side cursor, oldest first. ---


def takeaway_rating_rows(*, user) -> Iterator[tuple]:
    """(movie_id, imdb digits, tmdb_id, title, year, value Decimal, rated_at) of the user's ratings, oldest first."""
    return _ordered_rows(
        Rating.objects.filter(user=user), *_MOVIE_FIELDS, "value", "rated_at", order=("rated_at", "movie_id")
    )


def takeaway_wishlist_rows(*, user) -> Iterator[tuple]:
    """(movie_id, imdb digits, tmdb_id, title, year, added_at) of the user's wishlist, oldest first."""
    return _ordered_rows(
        WishlistEntry.objects.filter(user=user), *_MOVIE_FIELDS, "added_at", order=("added_at", "movie_id")
    )


def takeaway_hidden_rows(*, user) -> Iterator[tuple]:
    """(movie_id, imdb digits, tmdb_id, title, year, hidden_at) of the movies the user hid, oldest first."""
    return _ordered_rows(
        NotInterested.objects.filter(user=user), *_MOVIE_FIELDS, "created_at", order=("created_at", "movie_id")
    )


# --- CSV ---


def _movie_cells(movie_id, imdb, tmdb_id, title, year) -> list:
    return [movie_id, spreadsheet_safe(_imdb(imdb)), "" if tmdb_id is None else tmdb_id, spreadsheet_safe(title), year]


def _csv_chunks(header: Iterable[str], rows: Iterable[list]) -> Iterator[bytes]:
    """UTF-8 CSV (RFC 4180: quoted as needed, CRLF line ends), the header first, CHUNK_ROWS rows per chunk."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending == CHUNK_ROWS:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue().encode()


def ratings_csv(*, user) -> Iterator[bytes]:
    """The user's ratings in the MovieRec export format (RATINGS_COLUMNS), as chunks of a UTF-8 CSV file."""
    rows = (
        [*_movie_cells(*row[:5]), row[5], _iso(row[6])]  # Decimal: "4.5", "3.0"
        for row in takeaway_rating_rows(user=user)
    )
    return _csv_chunks(RATINGS_COLUMNS, rows)


def wishlist_csv(*, user) -> Iterator[bytes]:
    rows = ([*_movie_cells(*row[:5]), _iso(row[5])] for row in takeaway_wishlist_rows(user=user))
    return _csv_chunks(WISHLIST_COLUMNS, rows)


def hidden_csv(*, user) -> Iterator[bytes]:
    rows = ([*_movie_cells(*row[:5]), _iso(row[5])] for row in takeaway_hidden_rows(user=user))
    return _csv_chunks(HIDDEN_COLUMNS, rows)


def letterboxd_csv(*, user) -> Iterator[bytes]:
    """The user's ratings as a file Letterboxd's importer takes (letterboxd.com/import/).

    Letterboxd matches films by imdbID or tmdbID, then by Title and Year; Rating is 0.5–5 in half
    stars, as here. WatchedDate (the day of the rating, site time zone) logs a diary entry on that day.
    """
    rows = (
        [
            spreadsheet_safe(_imdb(imdb)),
            "" if tmdb_id is None else tmdb_id,
            spreadsheet_safe(display_title(title)),
            year,
            value,
            timezone.localtime(rated_at).date().isoformat(),
        ]
        for _, imdb, tmdb_id, title, year, value, rated_at in takeaway_rating_rows(user=user)
    )
    return _csv_chunks(LETTERBOXD_COLUMNS, rows)


# --- JSON ---


def _movie_json(movie_id, imdb, tmdb_id, title, year) -> dict:
    return {"movie_id": movie_id, "imdb_id": _imdb(imdb), "tmdb_id": tmdb_id, "title": title, "year": year}


def takeaway_json(*, user) -> Iterator[bytes]:
    """Everything of the user's as one JSON document, streamed: who they are, ratings, wishlist, hidden movies.

    {"format": "movierec-export", "version": 1, "exported_at", "user": {...}, "ratings": [{...RATINGS_COLUMNS,
    rating a number}], "wishlist": [{..., "added_at"}], "hidden": [{..., "hidden_at"}]}; times ISO 8601 UTC.
    """
    head = {
        "format": "movierec-export",
        "version": 1,
        "exported_at": _iso(timezone.now()),
        "user": {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "date_joined": _iso(user.date_joined),
        },
    }
    lists = {
        "ratings": (
            {**_movie_json(*row[:5]), "rating": float(row[5]), "rated_at": _iso(row[6])}
            for row in takeaway_rating_rows(user=user)
        ),
        "wishlist": ({**_movie_json(*row[:5]), "added_at": _iso(row[5])} for row in takeaway_wishlist_rows(user=user)),
        "hidden": ({**_movie_json(*row[:5]), "hidden_at": _iso(row[5])} for row in takeaway_hidden_rows(user=user)),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1].encode()  # without its closing brace
    for name, items in lists.items():
        parts = [f', "{name}": [']
        for i, item in enumerate(items):
            parts.append(("," if i else "") + json.dumps(item, ensure_ascii=False))
            if len(parts) >= CHUNK_ROWS:
                yield "".join(parts).encode()
                parts = []
        parts.append("]")
        yield "".join(parts).encode()
    yield b"}"


# --- Everything in one zip ---


class _Sink(io.RawIOBase):
    """Where zipfile writes: collects the bytes until the stream hands them on (it cannot seek)."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.data += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self.data)
        self.data.clear()
        return out


def takeaway_zip(*, user) -> Iterator[bytes]:
    """ratings.csv, wishlist.csv, hidden.csv and ratings-letterboxd.csv in one zip file, streamed."""
    files = {
        "ratings.csv": ratings_csv,
        "wishlist.csv": wishlist_csv,
        "hidden.csv": hidden_csv,
        "ratings-letterboxd.csv": letterboxd_csv,
    }
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, chunks in files.items():
            info = zipfile.ZipInfo(name, date_time=timezone.localtime().timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, mode="w") as entry:
                for chunk in chunks(user=user):
                    entry.write(chunk)
                    if len(sink.data) >= 1 << 16:
                        yield sink.take()
            yield sink.take()
    yield sink.take()
