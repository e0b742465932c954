"""Reading exported ratings files into rows: IMDb, Letterboxd, Trakt and MovieRec's own export.

Pure: bytes in, `ParsedFile` out, no Django. Columns are found by their header names (any
order, any case); a file that is not what it claims, or not one we know, raises
`ImportFileError` with a message naming the expected columns. One bad row (a rating out of
range, a TV series) does not stop the file: it comes back with a `skip_reason`.

The formats:

- imdb: IMDb's "Your Ratings" export, `Const,Your Rating,Date Rated,Title,…,Title Type,…,Year,…`;
  `Const` (tt0114709) names the movie, stars = rating / 2 (1–10 -> 0.5–5). Series, episodes,
  video games, podcasts and music videos are skipped; films of any other type (feature, TV movie,
  video, short) are looked up, and only films are in the catalogue.
- letterboxd: Letterboxd's `ratings.csv` (`Date,Name,Year,Letterboxd URI,Rating`, 0.5–5 in half
  steps; `diary.csv` and `watched.csv` read too, rows without a rating skipped). No ids: title and year.
- trakt: Trakt's ratings JSON, `[{"rated_at", "rating" (1–10), "type": "movie", "movie": {"title",
  "year", "ids": {"imdb", "tmdb", …}}}]`; shows, seasons and episodes are skipped.
- movierec: this site's export, `movie_id,imdb_id,tmdb_id,title,year,rating,rated_at` (0.5–5).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from ..csvcells import spreadsheet_unsafe

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
TITLE_MAX = 500  # catalog.Movie.title

AUTO = "auto"
IMDB = "imdb"
LETTERBOXD = "letterboxd"
TRAKT = "trakt"
MOVIEREC = "movierec"


@dataclass(frozen=True)
class FormatSpec:
    label: str
    required: tuple[str, ...]  # header names (CSV) or keys (JSON) a file of this format must have
    optional: tuple[str, ...] = ()
    by_id: bool = False  # rows name the movie by an id (IMDb, TMDB, MovieRec) rather than only a title


FORMATS: dict[str, FormatSpec] = {
    IMDB: FormatSpec(
        "IMDb ratings export (CSV)",
        ("Const", "Your Rating", "Title", "Title Type"),
        ("Year", "Date Rated"),
        by_id=True,
    ),
    LETTERBOXD: FormatSpec("Letterboxd ratings.csv", ("Name", "Year", "Rating"), ("Date", "Letterboxd URI")),
    TRAKT: FormatSpec(
        "Trakt ratings (JSON)", ("rating", "movie"), ("rated_at", "type", "movie.title", "movie.year", "movie.ids")
    ),
    MOVIEREC: FormatSpec(
        "MovieRec export (CSV)", ("movie_id", "title", "rating"), ("imdb_id", "tmdb_id", "year", "rated_at"), by_id=True
    ),
}
FORMAT_CHOICES = [(AUTO, "Find out from the file"), *((key, spec.label) for key, spec in FORMATS.items())]
# The header MovieRec's ratings export writes (and this importer reads back).
MOVIEREC_HEADER = ("movie_id", "imdb_id", "tmdb_id", "title", "year", "rating", "rated_at")

# IMDb title types that are never a film; everything else ("movie", "tvMovie", "video", "short",
# "TV Special"…) is looked up by its id, and the catalogue only has films.
IMDB_NOT_FILMS = {
    "tvseries": "a TV series",
    "tvminiseries": "a TV mini-series",
    "tvepisode": "a TV episode",
    "videogame": "a video game",
    "podcastseries": "a podcast",
    "podcastepisode": "a podcast episode",
    "musicvideo": "a music video",
}


class ImportFileError(ValueError):
    """The file cannot be imported at all; the message says why, for the person who uploaded it."""


@dataclass(frozen=True, slots=True)
class ParsedRow:
    """One rating as the file has it. `value` is None exactly when `skip_reason` says why the row is skipped."""

    line: int  # line of the file (CSV) or position from 1 (JSON)
    title: str
    year: int | None
    value: Decimal | None
    rated_at: datetime | None = None
    imdb_id: int | None = None  # the digits of tt0114709, as a number
    tmdb_id: int | None = None
    movie_id: int | None = None  # MovieRec's own id (its MovieLens id)
    skip_reason: str = ""


@dataclass(frozen=True)
class ParsedFile:
    format: str
    encoding: str
    rows: list[ParsedRow]


# --- Bytes to text -------------------------------------------------------------------------------

_SIGNATURES = (
    (b"PK\x03\x04", "This is a zip archive, not a ratings file: unzip it and upload the CSV (or JSON) file inside."),
    (b"PK\x05\x06", "This is an (empty) zip archive, not a ratings file."),
    (b"\x1f\x8b", "This is a gzip-compressed file: decompress it and upload the file inside."),
    (b"%PDF", "This is a PDF document, not a ratings file: upload the CSV or JSON export."),
    (b"\x89PNG", "This is an image, not a ratings file: upload the CSV or JSON export."),
    (b"\xff\xd8\xff", "This is an image, not a ratings file: upload the CSV or JSON export."),
    (codecs.BOM_UTF16_LE, "This file is UTF-16 text: save it as UTF-8 (CSV UTF-8 in spreadsheet programs) and retry."),
    (codecs.BOM_UTF16_BE, "This file is UTF-16 text: save it as UTF-8 (CSV UTF-8 in spreadsheet programs) and retry."),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding) of an upload: UTF-8 with or without BOM, else Windows-1252 / Latin-1.

    Raises ImportFileError for an empty or oversized file, an archive, a known binary format, or
    anything with control characters a text export never has.
    """
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is {len(data) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB.")
    if not data.strip():
        raise ImportFileError("The file is empty.")
    for signature, message in _SIGNATURES:
        if data.startswith(signature):
            raise ImportFileError(message)
    if b"\x00" in data:
        raise ImportFileError("This is a binary file, not a CSV or JSON ratings export.")
    if data.startswith(codecs.BOM_UTF8):
        data, encoding = data[len(codecs.BOM_UTF8) :], "utf-8-sig"
    else:
        encoding = "utf-8"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        if encoding == "utf-8-sig":
            raise ImportFileError("The file says it is UTF-8 but is not: save it as UTF-8 and retry.") from None
        try:
            text, encoding = data.decode("cp1252"), "windows-1252"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
    if _CONTROL.search(text[:65536]):
        raise ImportFileError("This is a binary file, not a CSV or JSON ratings export.")
    if not text.strip():
        raise ImportFileError("The file is empty.")
    return text, encoding


# --- Format detection ----------------------------------------------------------------------------


def _norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).lower()


def _columns(names) -> str:
    return ", ".join(names)


def _expected(format_key: str) -> str:
    spec = FORMATS[format_key]
    text = f"{spec.label}: columns {_columns(spec.required)}"
    if format_key == TRAKT:
        text = (
            f"{spec.label}: a JSON list of objects with {_columns(spec.required)} "
            f'({{"rated_at", "rating" 1–10, "movie": {{"title", "year", "ids": {{"imdb", "tmdb"}}}}}})'
        )
    elif spec.optional:
        text += f" (also read: {_columns(spec.optional)})"
    return text


def _unknown_message(found: str) -> str:
    known = "; ".join(_expected(key) for key in FORMATS)
    return f"This is not a ratings export we know. {found} Expected one of — {known}."


def _detect_csv(header: list[str]) -> str | None:
    names = {_norm(name) for name in header}
    for key in (IMDB, LETTERBOXD, MOVIEREC):
        if {_norm(name) for name in FORMATS[key].required} <= names:
            return key
    return None


def _looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("[", "{")


def parse(data: bytes, *, format: str = AUTO) -> ParsedFile:  # noqa: A002 - the word people use
    """Read an upload as `format` (or the format its header or JSON shape shows, with AUTO).

    Returns every data row, skipped ones with their reason. Raises ImportFileError when the file
    cannot be read, is not `format`, has no data rows, or has more than MAX_ROWS of them.
    """
    if format != AUTO and format not in FORMATS:
        raise ImportFileError(f"Unknown format {format!r}: choose one of {_columns(FORMATS)}.")
    text, encoding = decode(data)
    if _looks_like_json(text):
        if format not in (AUTO, TRAKT):
            raise ImportFileError(f"This is a JSON file, not a {FORMATS[format].label}. Expected {_expected(format)}.")
        rows = _parse_trakt(text)
        detected = TRAKT
    else:
        if format == TRAKT:
            raise ImportFileError(f"This is not a JSON file. Expected {_expected(TRAKT)}.")
        detected, rows = _parse_csv(text, format)
    if not rows:
        raise ImportFileError("The file has a header but no ratings.")
    return ParsedFile(format=detected, encoding=encoding, rows=rows)


# --- CSV -----------------------------------------------------------------------------------------


def _dialect(first_line: str) -> str:
    # Spreadsheets in many European locales save "CSV" with semicolons; tab-separated exports exist too.
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=lambda sep: (counts[sep], sep == ","))


def _parse_csv(text: str, format: str) -> tuple[str, list[ParsedRow]]:  # noqa: A002
    first_line = text.lstrip("\ufeff\r\n").split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff\r\n")), delimiter=_dialect(first_line), strict=False)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        raise ImportFileError("The file has no header line.") from None
    header = [name.replace("\ufeff", "").strip() for name in header]
    found = f"Its first line has: {_columns(name for name in header if name) or '(nothing)'}."
    detected = _detect_csv(header)
    if format == AUTO:
        if detected is None:
            raise ImportFileError(_unknown_message(found))
        format = detected
    else:
        present = {_norm(name) for name in header}
        missing = [name for name in FORMATS[format].required if _norm(name) not in present]
        if missing:
            raise ImportFileError(
                f"This is not a {FORMATS[format].label}: it lacks the column{'s' if len(missing) > 1 else ''} "
                f"{_columns(missing)}. Expected {_expected(format)}. {found}"
            )
    position = {}
    for index, name in enumerate(header):
        position.setdefault(_norm(name), index)
    parse_row = {IMDB: _imdb_row, LETTERBOXD: _letterboxd_row, MOVIEREC: _movierec_row}[format]
    rows: list[ParsedRow] = []
    try:
        for record in reader:
            if not any(field.strip() for field in record):
                continue
            if len(rows) == MAX_ROWS:
                raise ImportFileError(f"The file has more than {MAX_ROWS:,} ratings; split it into smaller files.")

            def field(name: str, record=record) -> str:
                index = position.get(_norm(name))
                return record[index].strip() if index is not None and index < len(record) else ""

            rows.append(parse_row(reader.line_num, field))
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num} is not valid CSV ({exc}).") from None
    return format, rows


def _skip(line: int, title: str, year: int | None, reason: str, **ids) -> ParsedRow:
    return ParsedRow(line=line, title=title, year=year, value=None, skip_reason=reason, **ids)


def _title(raw: str) -> str:
    # A title a careful exporter (ours) guarded against spreadsheet formulas comes back as written.
    return " ".join(spreadsheet_unsafe(raw).split())[:TITLE_MAX]


def _year(raw) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if 1800 <= raw <= 2999 else None
    match = re.match(r"^\s*(\d{4})", str(raw or ""))
    year = int(match.group(1)) if match else None
    return year if year is not None and 1800 <= year <= 2999 else None


def _ten_point(raw) -> Decimal | None:
    """IMDb's and Trakt's 1–10 as 0.5–5 stars; None for anything else."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        raw = str(raw)
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    if not number.is_finite() or number % 1 != 0 or not 1 <= number <= 10:
        return None
    return (number / 2).quantize(Decimal("0.1"))


def _stars(raw: str) -> Decimal | None:
    """0.5–5 in half steps (Letterboxd, MovieRec); None for anything else."""
    try:
        number = Decimal(raw.strip().replace(",", "."))
    except InvalidOperation:
        return None
    if not number.is_finite() or not Decimal("0.5") <= number <= 5 or (number * 2) % 1 != 0:
        return None
    return number.quantize(Decimal("0.1"))


_DATE_FORMATS = ("%Y-%m-%d", "%a %b %d %H:%M:%S %Y", "%d/%m/%Y", "%Y/%m/%d")


def _when(raw) -> datetime | None:
    """An ISO 8601 date or time (a date alone is midnight UTC); None when absent or unreadable."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    raw = raw.strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        for pattern in _DATE_FORMATS:
            try:
                moment = datetime.strptime(raw, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    if isinstance(moment, date) and not isinstance(moment, datetime):
        moment = datetime.combine(moment, time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not 1900 <= moment.year <= 2999:
        return None
    return moment.astimezone(UTC)


def _positive_int(raw) -> int | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        number = raw
    elif isinstance(raw, str) and re.fullmatch(r"\s*\d{1,10}\s*", raw):
        number = int(raw)
    else:
        return None
    return number if 0 < number < 2**31 else None


def _imdb_number(raw) -> int | None:
    """tt0114709 / 0114709 / 114709 -> 114709."""
    if not isinstance(raw, str):
        return _positive_int(raw)
    match = re.fullmatch(r"\s*(?:tt)?0*(\d{1,10})\s*", raw, re.IGNORECASE)
    return _positive_int(match.group(1)) if match else None


def _imdb_row(line: int, field) -> ParsedRow:
    title, year = _title(field("Title")), _year(field("Year"))
    const = field("Const")
    imdb_id = _imdb_number(const) if re.fullmatch(r"tt\d{7,10}", const, re.IGNORECASE) else None
    kind = re.sub(r"[\s_-]", "", field("Title Type")).lower()
    if kind in IMDB_NOT_FILMS:
        return _skip(line, title, year, f"{IMDB_NOT_FILMS[kind]}, not a film", imdb_id=imdb_id)
    if imdb_id is None:
        return _skip(line, title, year, f"Const {const!r} is not an IMDb title id (tt1234567)")
    value = _ten_point(field("Your Rating"))
    if value is None:
        return _skip(line, title, year, f"rating {field('Your Rating')!r} is not a whole number from 1 to 10")
    return ParsedRow(line, title, year, value, _when(field("Date Rated")), imdb_id=imdb_id)


def _letterboxd_row(line: int, field) -> ParsedRow:
    title, year = _title(field("Name")), _year(field("Year"))
    if not title:
        return _skip(line, title, year, "no title")
    raw = field("Rating")
    if not raw:
        return _skip(line, title, year, "no rating (watched or logged without stars)")
    value = _stars(raw)
    if value is None:
        return _skip(line, title, year, f"rating {raw!r} is not 0.5 to 5 stars in half steps")
    return ParsedRow(line, title, year, value, _when(field("Date")))


def _movierec_row(line: int, field) -> ParsedRow:
    title, year = _title(field("title")), _year(field("year"))
    ids = {
        "movie_id": _positive_int(field("movie_id")),
        "imdb_id": _imdb_number(field("imdb_id")) if field("imdb_id") else None,
        "tmdb_id": _positive_int(field("tmdb_id")),
    }
    if not any(ids.values()) and not title:
        return _skip(line, title, year, "no movie id and no title")
    value = _stars(field("rating"))
    if value is None:
        return _skip(line, title, year, f"rating {field('rating')!r} is not 0.5 to 5 stars in half steps", **ids)
    return ParsedRow(line, title, year, value, _when(field("rated_at")), **ids)


# --- Trakt JSON ----------------------------------------------------------------------------------


TRAKT_NOT_FILMS = {"show": "a TV show", "season": "a TV season", "episode": "a TV episode", "person": "a person"}


def _parse_trakt(text: str) -> list[ParsedRow]:
    try:
        items = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ImportFileError(f"The file is not valid JSON ({exc}).") from None
    if isinstance(items, dict):
        # Some tools wrap the list: {"ratings": [...]} or {"movies": [...]}.
        lists = [value for value in items.values() if isinstance(value, list)]
        items = lists[0] if len(lists) == 1 else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ImportFileError(f"This JSON is not a ratings export we know. Expected {_expected(TRAKT)}.")
    if items and not any("rating" in item and any(k in item for k in ("movie", "show", "episode")) for item in items):
        keys = _columns(sorted({key for item in items[:20] for key in item})[:12]) or "(nothing)"
        raise ImportFileError(f"This JSON has none of Trakt's ratings. Expected {_expected(TRAKT)}. It has: {keys}.")
    if len(items) > MAX_ROWS:
        raise ImportFileError(f"The file has more than {MAX_ROWS:,} ratings; split it into smaller files.")
    return [_trakt_row(position, item) for position, item in enumerate(items, start=1)]


def _trakt_row(line: int, item: dict) -> ParsedRow:
    kind = item.get("type") if isinstance(item.get("type"), str) else "movie"
    thing = item.get(kind) if isinstance(item.get(kind), dict) else item.get("movie")
    thing = thing if isinstance(thing, dict) else {}
    title = _title(thing["title"]) if isinstance(thing.get("title"), str) else ""
    year = _year(thing.get("year"))
    if kind != "movie" or "movie" not in item:
        return _skip(line, title, year, f"{TRAKT_NOT_FILMS.get(kind, 'not a movie')}, not a film")
    ids = thing.get("ids") if isinstance(thing.get("ids"), dict) else {}
    parsed_ids = {"imdb_id": _imdb_number(ids.get("imdb")), "tmdb_id": _positive_int(ids.get("tmdb"))}
    if not title and not any(parsed_ids.values()):
        return _skip(line, title, year, "no title and no ids")
    value = _ten_point(item.get("rating"))
    if value is None:
        return _skip(
            line, title, year, f"rating {item.get('rating')!r} is not a whole number from 1 to 10", **parsed_ids
        )
    return ParsedRow(line, title, year, value, _when(item.get("rated_at")), **parsed_ids)
