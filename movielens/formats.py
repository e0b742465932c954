"""MovieLens formats: which files a data set has, and streaming readers that validate every row.

Readers yield rows (movies, links, tags) or numpy batches (ratings) and report bad rows to an
`Issues` collector with the file and physical line number; they never hold a whole ratings file.
Supported: the CSV family (ml-latest, ml-latest-small, ml-20m, ml-25m), the `::` .dat files of
ml-1m and ml-10m, and ml-100k's u.data / u.item / u.genre.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .errors import Issues, MovieLensFormatError, MovieLensRowError
from .sources import READ_ERRORS, DataSource

MAX_ID = 2**31 - 1  # ids land in PostgreSQL integer columns
MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
TITLE_MAX = 500  # catalog.Movie.title
TAG_MAX = 255  # catalog.Tag.tag
GENRE_MAX = 64  # catalog.Genre.name
IMDB_MAX = 16  # catalog.Movie.imdb_id
NO_GENRES = "(no genres listed)"
RATING_BATCH = 100_000

# ml-100k's genre flags, in the order of its u.genre, for a copy without u.genre.
GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
UNKNOWN_GENRE_100K = "unknown"

# A trailing "(1995)", "(2006-2007)", "(2006–2007)" or "(2006– )", possibly followed by spaces.
YEAR_RE = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?\s*)?\)\s*$")
MIN_YEAR, MAX_YEAR = 1800, 32767  # the catalogue's check constraint; a smallint column

HALF_STARS: dict[str, int] = {}
for _half in range(1, 11):
    _value = Decimal(_half) / 2
    HALF_STARS[str(_value)] = _half
    HALF_STARS[f"{_value:.1f}"] = _half
    if _half % 2 == 0:
        HALF_STARS[str(_half // 2)] = _half


@dataclass(frozen=True)
class Format:
    """The files of one MovieLens layout. `ratings`/`movies` are required; the others optional."""

    name: str
    kind: str  # "csv", "dat" or "100k"
    movies: str
    ratings: str
    links: str | None
    tags: str | None
    encoding: str
    genre_list: str | None = None


# "latin-1" is how GroupLens wrote ml-1m and ml-100k; a line that is valid UTF-8 is read as UTF-8 though
# (see decode_line): the same files opened and saved again by an editor or a spreadsheet come back as UTF-8.
ML_CSV = Format("ml-latest (CSV)", "csv", "movies.csv", "ratings.csv", "links.csv", "tags.csv", "utf-8")
ML_10M = Format("ml-10m", "dat", "movies.dat", "ratings.dat", None, "tags.dat", "utf-8")
ML_1M = Format("ml-1m", "dat", "movies.dat", "ratings.dat", None, None, "latin-1")
ML_100K = Format("ml-100k", "100k", "u.item", "u.data", None, None, "latin-1", genre_list="u.genre")
UTF8_BOM = b"\xef\xbb\xbf"


def decode_line(raw: bytes, encoding: str, *, first: bool) -> str:
    """One line of a MovieLens file as text, without a byte order mark on the first line.

    A latin-1 file's line is read as UTF-8 when it is valid UTF-8: plain ASCII reads the same either
    way, and real latin-1 text (an "é" is the single byte 0xe9) is almost never valid UTF-8, while a
    copy saved again as UTF-8 would otherwise show "MisÃ©rables". Other encodings are strict: raises
    UnicodeDecodeError. The BOM is dropped as bytes, so a latin-1 file never reads it as "ï»¿".
    """
    if first and raw.startswith(UTF8_BOM):
        raw = raw[len(UTF8_BOM) :]
    if encoding == "latin-1":
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("latin-1")
    text = raw.decode(encoding)
    return text[1:] if first and text.startswith("\ufeff") else text


CSV_COLUMNS = {
    "movies": ("movieId", "title", "genres"),
    "ratings": ("userId", "movieId", "rating", "timestamp"),
    "links": ("movieId", "imdbId", "tmdbId"),
    "tags": ("userId", "movieId", "tag", "timestamp"),
}


def _format_of(names: set[str]) -> Format | None:
    if {"movies.csv", "ratings.csv"} <= names:
        return ML_CSV
    if {"movies.dat", "ratings.dat"} <= names:
        # ml-1m ships users.dat (and is latin-1); ml-10m ships tags.dat instead (and is UTF-8).
        return ML_1M if "users.dat" in names else ML_10M
    if {"u.item", "u.data"} <= names:
        return ML_100K
    return None


def detect_format(source: DataSource) -> Format:
    """Find the MovieLens data set in the source (the shallowest folder that has one) and select it.

    Raises MovieLensFormatError when there is none, or several at the same depth.
    """
    found = {folder: fmt for folder in source.folders if (fmt := _format_of(source.folders[folder])) is not None}
    if found:
        depth = min(_depth(folder) for folder in found)
        shallowest = sorted(folder for folder in found if _depth(folder) == depth)
        if len(shallowest) > 1:
            raise MovieLensFormatError(
                f"{source.path}: several data sets found ({', '.join(shallowest)}): point at one of them"
            )
        source.select(shallowest[0])
        return found[shallowest[0]]
    raise MovieLensFormatError(
        f"{source.path}: not a MovieLens data set: expected movies.csv and ratings.csv (ml-latest, ml-20m, "
        "ml-25m), movies.dat and ratings.dat (ml-1m, ml-10m) or u.item and u.data (ml-100k)"
    )


def _depth(folder: str) -> int:
    return folder.count("/") + 1 if folder else 0


SEPARATORS = {
    ",": "commas", "::": "'::'", "\t": "tabs", "|": "'|'", ";": "semicolons", ":": "single colons", " ": "spaces",
}  # fmt: skip


def separator_hint(text: str, expected: str, fields: int) -> str:
    """ " (it looks separated by semicolons; ...)" when a line that did not split on `expected` splits into
    exactly `fields` fields on another common separator (a spreadsheet's export, or another release's
    layout); "" otherwise."""
    for separator, name in SEPARATORS.items():
        if separator != expected and len(text.strip().split(separator)) == fields:
            return f" (it looks separated by {name}; this file must use {SEPARATORS[expected]})"
    return ""


def _check_header(label: str, line: int, names: list[str], required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in names]
    if missing:
        hint = separator_hint(names[0], ",", len(required)) if len(names) == 1 else ""
        raise MovieLensFormatError(
            f"{label}:{line}: missing column(s) {', '.join(missing)} "
            f"(found: {', '.join(names)}; required: {', '.join(required)}){hint}"
        )


def year_from_title(title: str) -> int | None:
    """The first year of a trailing "(YYYY)" or "(YYYY-YYYY)"; None without one or if implausible."""
    match = YEAR_RE.search(title)
    if not match:
        return None
    year = int(match.group(1))
    return year if MIN_YEAR <= year <= MAX_YEAR else None


# --- Rows ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class MovieRow:
    line: int
    id: int
    title: str
    year: int | None
    genres: tuple[str, ...]


@dataclass(slots=True)
class LinkRow:
    line: int
    movie_id: int
    imdb_id: str
    tmdb_id: int | None


@dataclass(slots=True)
class TagRow:
    line: int
    user_id: int
    movie_id: int
    tag: str
    timestamp: int


@dataclass(slots=True)
class RatingBatch:
    """Parallel numpy arrays: line number, MovieLens user and movie id, value in half stars, unix time."""

    line: np.ndarray
    user_id: np.ndarray
    movie_id: np.ndarray
    half_stars: np.ndarray
    timestamp: np.ndarray

    def __len__(self) -> int:
        return len(self.line)


class _Bad(Exception):
    """A field problem; the reader turns it into an issue with file and line."""


def _whole(text: str, what: str, *, low: int = 1, high: int = MAX_ID) -> int:
    if not (text.isascii() and text.isdigit()):
        stripped = text.strip()
        if not (stripped.isascii() and stripped.isdigit()):
            raise _Bad(f"{what} {text!r} is not a whole number" if text else f"{what} is empty")
        text = stripped
    value = int(text)
    if not low <= value <= high:
        raise _Bad(f"{what} {value} is out of range ({low}..{high})")
    return value


def _timestamp(text: str) -> int:
    return _whole(text, "timestamp", low=0, high=MAX_TIMESTAMP)


def _half_stars(text: str) -> int:
    half = HALF_STARS.get(text)
    if half is not None:
        return half
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise _Bad(f"rating {text!r} is not a number")
    if value.is_finite() and Decimal("0.5") <= value <= 5 and (value * 2) % 1 == 0:
        return int(value * 2)
    raise _Bad(f"rating {text!r} is not 0.5 to 5 stars in half steps")


class _Reader:
    """Reads one file of the data set line by line, decoding and numbering lines."""

    def __init__(self, source: DataSource, name: str, encoding: str, issues: Issues, bar: Any) -> None:
        self.source, self.name, self.encoding, self.issues, self.bar = source, name, encoding, issues, bar
        self.label = source.label(name)
        self.line = 0

    def report(self, line: int | None, reason: str) -> None:
        self.issues.report(self.label, line, reason)

    def fail(self, line: int | None, reason: str) -> MovieLensRowError:
        return MovieLensRowError(self.label, line, reason)

    def text_lines(self, handle: BinaryIO) -> Iterator[str]:
        """Decoded lines; undecodable ones are reported (and skipped when skipping is allowed)."""
        for raw in handle:
            self.line += 1
            try:
                text = decode_line(raw, self.encoding, first=self.line == 1)
            except UnicodeDecodeError as exc:
                byte = f"0x{exc.object[exc.start]:02x}"
                self.report(self.line, f"not valid {self.encoding} text (byte {byte} at column {exc.start + 1})")
                continue
            yield text

    def records(self, parse: Callable[[int, list[str]], Any]) -> Iterator[Any]:
        """Parse every row with `parse(line, fields)`; bad rows become issues; progress once per 10k rows."""
        pending = 0
        with self.source.open(self.name) as handle:
            try:
                for line, fields in self.rows_of(handle):
                    try:
                        record = parse(line, fields)
                    except _Bad as exc:
                        self.report(line, str(exc))
                        continue
                    pending += 1
                    if pending == 10_000:
                        self.bar.update(pending)
                        pending = 0
                    yield record
            except READ_ERRORS as exc:
                raise self.fail(self.line + 1, f"cannot read the file ({exc})") from exc
        self.bar.update(pending)

    def rows_of(self, handle: BinaryIO) -> Iterator[tuple[int, list[str]]]:
        raise NotImplementedError


class _CsvReader(_Reader):
    """CSV with a header; rows come back in the canonical column order of `columns`."""

    def __init__(self, *args: Any, columns: tuple[str, ...]) -> None:
        super().__init__(*args)
        self.columns = columns

    def rows_of(self, handle: BinaryIO) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(self.text_lines(handle), strict=True)
        header: list[str] | None = None
        while True:
            start = self.line + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                self.report(start, f"not valid CSV ({exc})")
                continue
            if not fields or fields == [""]:
                continue  # blank line
            if header is None:
                header = [name.strip() for name in fields]
                _check_header(self.label, start, header, self.columns)
                positions = [header.index(name) for name in self.columns]
                width = len(header)
                continue
            if len(fields) != width:
                self.report(start, f"expected {width} fields, found {len(fields)}")
                continue
            yield start, [fields[p] for p in positions]
        if header is None:
            raise MovieLensFormatError(f"{self.label}: empty file (no header line)")


class _SplitReader(_Reader):
    """Headerless lines split on a separator ('::' for .dat, tab for u.data, '|' for u.item).

    `free` is the index of the one field (a title or tag) that may itself contain the separator.
    """

    def __init__(self, *args: Any, separator: str, fields: int, free: int | None = None) -> None:
        super().__init__(*args)
        self.separator, self.fields, self.free = separator, fields, free

    def rows_of(self, handle: BinaryIO) -> Iterator[tuple[int, list[str]]]:
        sep, count, free = self.separator, self.fields, self.free
        for text in self.text_lines(handle):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            parts = text.split(sep)
            if len(parts) > count and free is not None:
                tail = len(parts) - (count - free - 1)
                parts = [*parts[:free], sep.join(parts[free:tail]), *parts[tail:]]
            if len(parts) != count:
                hint = separator_hint(text, sep, count) if len(parts) == 1 else ""
                self.report(self.line, f"expected {count} fields separated by {sep!r}, found {len(parts)}{hint}")
                continue
            yield self.line, parts


def _reader(source: DataSource, fmt: Format, kind: str, issues: Issues, bar: Any, **extra: Any) -> _Reader:
    name = getattr(fmt, kind)
    args = (source, name, fmt.encoding, issues, bar)
    if fmt.kind == "csv":
        return _CsvReader(*args, columns=CSV_COLUMNS[kind])
    if fmt.kind == "dat":
        count, free = {"movies": (3, 1), "tags": (4, 2)}[kind]
        return _SplitReader(*args, separator="::", fields=count, free=free)
    return _SplitReader(*args, separator="|", fields=extra["fields"])


# --- Movies ----------------------------------------------------------------------------------------


def _movie_fields(line: int, id_text: str, title: str) -> tuple[int, str]:
    movie_id = _whole(id_text, "movieId")
    if not title.strip():
        raise _Bad(f"movie {movie_id} has an empty title")
    if len(title) > TITLE_MAX:
        raise _Bad(f"title of movie {movie_id} is longer than {TITLE_MAX} characters")
    return movie_id, title


def _genre_names(text: str) -> tuple[str, ...]:
    names = [] if text.strip() in ("", NO_GENRES) else text.split("|")
    for name in names:
        if not name.strip():
            raise _Bad(f"empty genre name in {text!r}")
        if len(name) > GENRE_MAX:
            raise _Bad(f"genre {name!r} is longer than {GENRE_MAX} characters")
    return tuple(dict.fromkeys(names))


def read_movies(source: DataSource, fmt: Format, issues: Issues, bar: Any) -> Iterator[MovieRow]:
    """Movies of the data set, each movie id once (a repeated id is a bad row)."""
    seen: dict[int, int] = {}

    def unique(row: MovieRow) -> MovieRow:
        if row.id in seen:
            raise _Bad(f"movie {row.id} appears twice (first on line {seen[row.id]})")
        seen[row.id] = row.line
        return row

    if fmt.kind == "100k":
        genres = _genres_100k(source, fmt, issues)

        def parse(line: int, fields: list[str]) -> MovieRow:
            movie_id, title = _movie_fields(line, fields[0], fields[1])
            flags = fields[5:]
            if any(flag not in ("0", "1") for flag in flags):
                raise _Bad(f"genre flags of movie {movie_id} must be 0 or 1")
            names = tuple(g for g, flag in zip(genres, flags, strict=True) if flag == "1" and g != UNKNOWN_GENRE_100K)
            return unique(MovieRow(line, movie_id, title, year_from_title(title), names))

        reader = _reader(source, fmt, "movies", issues, bar, fields=5 + len(genres))
    else:

        def parse(line: int, fields: list[str]) -> MovieRow:
            movie_id, title = _movie_fields(line, fields[0], fields[1])
            return unique(MovieRow(line, movie_id, title, year_from_title(title), _genre_names(fields[2])))

        reader = _reader(source, fmt, "movies", issues, bar)
    yield from reader.records(parse)


def _genres_100k(source: DataSource, fmt: Format, issues: Issues) -> tuple[str, ...]:
    """ml-100k's genre list from u.genre (name|index), or the standard list without one."""
    if fmt.genre_list not in source.names:
        return GENRES_100K
    reader = _SplitReader(source, fmt.genre_list, fmt.encoding, Issues(), _NoBar(), separator="|", fields=2)
    by_index: dict[int, str] = {}
    for line, (name, index) in reader.records(lambda line, fields: (line, fields)):
        if not name.strip() or not (index.isascii() and index.isdigit()) or int(index) in by_index:
            raise MovieLensFormatError(f"{reader.label}:{line}: expected 'name|index' with a new index")
        by_index[int(index)] = name
    if sorted(by_index) != list(range(len(by_index))) or not by_index:
        raise MovieLensFormatError(f"{reader.label}: genre indexes must run 0, 1, 2, ... without gaps")
    return tuple(by_index[i] for i in range(len(by_index)))


# --- Links -----------------------------------------------------------------------------------------


def read_links(source: DataSource, fmt: Format, known: KnownMovies, issues: Issues, bar: Any) -> Iterator[LinkRow]:
    """links.csv: imdbId kept as text (leading zeros matter), tmdbId optional."""
    seen: dict[int, int] = {}

    def parse(line: int, fields: list[str]) -> LinkRow:
        movie_id = _whole(fields[0], "movieId")
        if movie_id not in known:
            raise _Bad(f"link for unknown movie {movie_id} (not in {fmt.movies} nor in the database)")
        if movie_id in seen:
            raise _Bad(f"movie {movie_id} is linked twice (first on line {seen[movie_id]})")
        imdb = fields[1].strip()
        if imdb and not (imdb.isascii() and imdb.isdigit() and len(imdb) <= IMDB_MAX):
            raise _Bad(f"imdbId {fields[1]!r} is not a string of up to {IMDB_MAX} digits")
        tmdb = _whole(fields[2], "tmdbId", low=0) if fields[2].strip() else None
        seen[movie_id] = line
        return LinkRow(line, movie_id, imdb, tmdb)

    yield from _reader(source, fmt, "links", issues, bar).records(parse)


# --- Tags ------------------------------------------------------------------------------------------


def read_tags(source: DataSource, fmt: Format, known: KnownMovies, issues: Issues, bar: Any) -> Iterator[TagRow]:
    """Tag applications; repeats of (user, movie, tag) are left for the loader to reduce to the latest."""

    def parse(line: int, fields: list[str]) -> TagRow:
        user_id = _whole(fields[0], "userId")
        movie_id = _whole(fields[1], "movieId")
        tag = fields[2]
        if not tag.strip():
            raise _Bad("empty tag")
        if len(tag) > TAG_MAX:
            raise _Bad(f"tag is longer than {TAG_MAX} characters")
        timestamp = _timestamp(fields[3])
        if movie_id not in known:
            raise _Bad(f"tag for unknown movie {movie_id} (not in {fmt.movies} nor in the database)")
        return TagRow(line, user_id, movie_id, tag, timestamp)

    yield from _reader(source, fmt, "tags", issues, bar).records(parse)


# --- Ratings ---------------------------------------------------------------------------------------


def read_ratings(
    source: DataSource, fmt: Format, known: KnownMovies, issues: Issues, bar: Any
) -> Iterator[RatingBatch]:
    """Ratings in numpy batches of up to RATING_BATCH rows, validated row by row as they stream.

    The reader that explains every bad line (and skips it if allowed). A tight loop of its own:
    ratings have no text fields, so CSV lines without quotes are simply split.
    """
    label = source.label(fmt.ratings)
    movies, movies_file, encoding = known.ids, fmt.movies, fmt.encoding
    separator = {"csv": ",", "dat": "::", "100k": "\t"}[fmt.kind]
    lines: list[int] = []
    users: list[int] = []
    movie_ids: list[int] = []
    halves: list[int] = []
    stamps: list[int] = []

    def report(line: int, reason: str) -> None:
        issues.report(label, line, reason)

    def batch() -> RatingBatch:
        result = RatingBatch(
            np.array(lines, dtype=np.int32),
            np.array(users, dtype=np.int32),
            np.array(movie_ids, dtype=np.int32),
            np.array(halves, dtype=np.int16),
            np.array(stamps, dtype=np.int64),
        )
        for values in (lines, users, movie_ids, halves, stamps):
            values.clear()
        bar.update(len(result))
        return result

    line = 0
    with source.open(fmt.ratings) as handle:
        try:
            width, (pu, pm, pr, pt) = 4, (0, 1, 2, 3)
            if fmt.kind == "csv":
                line, width, (pu, pm, pr, pt) = _ratings_header(handle, label, encoding)
            for raw in handle:
                line += 1
                try:
                    text = decode_line(raw, encoding, first=line == 1).rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    byte = exc.object[exc.start]
                    report(line, f"not valid {encoding} text (byte 0x{byte:02x} at column {exc.start + 1})")
                    continue
                if not text or text.isspace():
                    continue
                if separator == "," and '"' in text:
                    try:
                        fields = next(csv.reader([text], strict=True))
                    except csv.Error as exc:
                        report(line, f"not valid CSV ({exc})")
                        continue
                else:
                    fields = text.split(separator)
                if len(fields) != width:
                    if separator == ",":
                        report(line, f"expected {width} fields, found {len(fields)}")
                    else:
                        hint = separator_hint(text, separator, width) if len(fields) == 1 else ""
                        report(line, f"expected {width} fields separated by {separator!r}, found {len(fields)}{hint}")
                    continue
                try:
                    # Plain digits take the short way; anything else gets the full check and message.
                    text = fields[pu]
                    user_id = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0
                    if user_id < 1:
                        user_id = _whole(text, "userId")
                    text = fields[pm]
                    movie_id = int(text) if text.isascii() and text.isdigit() and len(text) < 10 else 0
                    if movie_id < 1:
                        movie_id = _whole(text, "movieId")
                    half = HALF_STARS.get(fields[pr]) or _half_stars(fields[pr])
                    text = fields[pt]
                    stamp = int(text) if text.isascii() and text.isdigit() and len(text) < 12 else -1
                    if stamp < 0:
                        stamp = _timestamp(text)
                except _Bad as exc:
                    report(line, str(exc))
                    continue
                if movie_id not in movies:
                    report(line, f"rating for unknown movie {movie_id} (not in {movies_file} nor in the database)")
                    continue
                lines.append(line)
                users.append(user_id)
                movie_ids.append(movie_id)
                halves.append(half)
                stamps.append(stamp)
                if len(lines) >= RATING_BATCH:
                    yield batch()
        except READ_ERRORS as exc:
            raise MovieLensRowError(label, line + 1, f"cannot read the file ({exc})") from exc
    if lines:
        yield batch()


def _ratings_header(handle: BinaryIO, label: str, encoding: str) -> tuple[int, int, list[int]]:
    """Read ratings.csv's header: (its line number, number of columns, positions of the four we need)."""
    line = 0
    for raw in handle:
        line += 1
        text = raw.decode(encoding, errors="replace").lstrip("\ufeff").strip()
        if not text:
            continue
        names = [name.strip() for name in next(csv.reader([text]))]
        _check_header(label, line, names, CSV_COLUMNS["ratings"])
        return line, len(names), [names.index(name) for name in CSV_COLUMNS["ratings"]]
    raise MovieLensFormatError(f"{label}: empty file (no header line)")


class FastPathUnavailable(Exception):
    """The vectorised ratings reader met something only the row-by-row reader can explain."""


def read_ratings_fast(
    source: DataSource, fmt: Format, known: KnownMovies, issues: Issues, bar: Any
) -> Iterator[RatingBatch]:
    """Ratings parsed by pyarrow's multi-threaded CSV reader and validated with numpy, per block.

    Accepts only plain files: one record per line, no quoting, no blank lines. Anything it cannot
    parse (a short row, a non-numeric field, quotes) or that fails a check (ids, half stars, known
    movie, timestamp) raises FastPathUnavailable, so the caller can start over with `read_ratings`,
    which names each bad line and its reason (and skips it if allowed).
    """
    label = source.label(fmt.ratings)
    known_ids = np.fromiter(known.ids, dtype=np.int64, count=len(known.ids))
    known_ids.sort()
    for lines, (user, movie, rating, stamp) in _arrow_blocks(source, fmt, ("user", "movie", "rating", "timestamp")):
        bar.update(len(lines))
        yield _checked_batch(lines, user, movie, rating, stamp, known_ids, label)


def scan_rating_users(source: DataSource, fmt: Format) -> tuple[np.ndarray, int]:
    """The distinct userIds of the ratings file (sorted) and its number of rows, in one quick pass.

    Same parser as `read_ratings_fast` (and FastPathUnavailable when it cannot parse the file); the
    values are not validated here.
    """
    users: list[np.ndarray] = []
    rows = 0
    for lines, (user,) in _arrow_blocks(source, fmt, ("user",)):
        users.append(np.unique(user))
        rows += len(lines)
    if not users:
        return np.empty(0, dtype=np.int64), 0
    return np.unique(np.concatenate(users)), rows


def _arrow_blocks(
    source: DataSource, fmt: Format, wanted: tuple[str, ...]
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """(line numbers, [columns]) per block of the ratings file, for the columns in `wanted`."""
    label = source.label(fmt.ratings)
    with source.open(fmt.ratings) as handle:
        try:
            yield from _arrow_blocks_of(handle, label, fmt, wanted)
        except pa.ArrowInvalid as exc:
            raise FastPathUnavailable(f"{label}: {exc}") from exc
        except READ_ERRORS as exc:
            raise MovieLensRowError(label, None, f"cannot read the file ({exc})") from exc


def _arrow_blocks_of(
    handle: BinaryIO, label: str, fmt: Format, wanted: tuple[str, ...]
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    if fmt.kind == "csv":
        header = handle.readline().decode("utf-8-sig", errors="replace")
        names = [name.strip() for name in next(csv.reader([header]), [])]
        _check_header(label, 1, names, CSV_COLUMNS["ratings"])
        width, delimiter, first_line = len(names), ",", 2
        positions = [names.index(name) for name in CSV_COLUMNS["ratings"]]
        empty: list[int] = []
    elif fmt.kind == "dat":
        # "u::m::r::t" read as seven ':'-separated fields, the odd ones empty.
        width, delimiter, first_line, positions, empty = 7, ":", 1, [0, 2, 4, 6], [1, 3, 5]
    else:
        width, delimiter, first_line, positions, empty = 4, "\t", 1, [0, 1, 2, 3], []
    columns = [f"c{i}" for i in range(width)]
    kinds = {"user": pa.int64(), "movie": pa.int64(), "rating": pa.float64(), "timestamp": pa.int64()}
    picked = [columns[positions[list(kinds).index(name)]] for name in wanted]
    types = {column: kinds[name] for column, name in zip(picked, wanted, strict=True)}
    types.update({columns[p]: pa.string() for p in empty})
    reader = pa_csv.open_csv(
        handle,
        read_options=pa_csv.ReadOptions(column_names=columns, block_size=8 << 20),
        parse_options=pa_csv.ParseOptions(
            delimiter=delimiter,
            quote_char=False,
            double_quote=False,
            escape_char=False,
            newlines_in_values=False,
            ignore_empty_lines=False,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types=types, include_columns=list(types), null_values=[], strings_can_be_null=False
        ),
    )
    line = first_line
    for block in reader:
        if any(pc.any(pc.not_equal(block.column(columns[p]), "")).as_py() for p in empty):
            raise FastPathUnavailable(f"{label}: a row has more fields than expected")
        lines = np.arange(line, line + block.num_rows, dtype=np.int64)
        line += block.num_rows
        yield lines, [block.column(column).to_numpy() for column in picked]


def _checked_batch(lines, user, movie, rating, stamp, known_ids, label: str) -> RatingBatch:
    """Vectorised validation. Any bad row hands over to the row-by-row reader, which names it."""
    with np.errstate(invalid="ignore"):
        half = rating * 2
        position = np.minimum(np.searchsorted(known_ids, movie), max(len(known_ids) - 1, 0))
        good = (
            (user >= 1)
            & (user <= MAX_ID)
            & (half >= 1)
            & (half <= 10)
            & (half == np.floor(half))
            & (stamp >= 0)
            & (stamp <= MAX_TIMESTAMP)
            & (known_ids[position] == movie if len(known_ids) else False)
        )
    if not good.all():
        first = int(lines[np.argmin(good)])
        raise FastPathUnavailable(f"{label}:{first} and maybe other lines need a closer look")
    return RatingBatch(
        lines.astype(np.int32), user.astype(np.int32), movie.astype(np.int32), half.astype(np.int16), stamp
    )


@dataclass
class KnownMovies:
    """Movie ids a rating, tag or link may refer to: those of the file and those already stored."""

    ids: set[int]

    def __contains__(self, movie_id: int) -> bool:
        return movie_id in self.ids


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass
