"""Reading exported ratings files (ratings/imports/formats.py): pure, no database."""

import csv
import io
import json
import random
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ratings.imports.formats import (
    IMDB,
    LETTERBOXD,
    MAX_BYTES,
    MAX_ROWS,
    MOVIEREC,
    MOVIEREC_HEADER,
    TRAKT,
    ImportFileError,
    parse,
)

IMDB_HEADER = [
    "Const", "Your Rating", "Date Rated", "Title", "Original Title", "URL", "Title Type", "IMDb Rating",
    "Runtime (mins)", "Year", "Genres", "Num Votes", "Release Date", "Directors",
]  # fmt: skip
LETTERBOXD_HEADER = ["Date", "Name", "Year", "Letterboxd URI", "Rating"]


def csv_bytes(header: list[str], rows: list[dict], *, encoding: str = "utf-8", shuffle: int | None = None) -> bytes:
    """A CSV file with the given header; `shuffle` (a seed) puts the columns in another order."""
    header = list(header)
    if shuffle is not None:
        random.Random(shuffle).shuffle(header)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in header})
    return out.getvalue().encode(encoding)


def imdb_row(const="tt0114709", rating="8", title="Toy Story", kind="Movie", year="1995", date="2024-03-01"):
    return {"Const": const, "Your Rating": rating, "Title": title, "Title Type": kind, "Year": year, "Date Rated": date}


def letterboxd_row(name="Amélie", year="2001", rating="4.5", date="2024-03-01"):
    return {"Date": date, "Name": name, "Year": year, "Letterboxd URI": "https://boxd.it/abc", "Rating": rating}


# --- Each format, header in any order ---


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_imdb_export_by_header_names_in_any_order(seed):
    parsed = parse(csv_bytes(IMDB_HEADER, [imdb_row(), imdb_row("tt0113277", "10", "Heat")], shuffle=seed))
    assert parsed.format == IMDB
    toy, heat = parsed.rows
    assert (toy.imdb_id, toy.title, toy.year, toy.value) == (114709, "Toy Story", 1995, Decimal("4.0"))
    assert toy.rated_at == datetime(2024, 3, 1, tzinfo=UTC)
    assert heat.value == Decimal("5.0") and heat.line == 3


def test_imdb_stars_are_half_the_ten_point_rating():
    rows = parse(csv_bytes(IMDB_HEADER, [imdb_row(f"tt{n:07d}", str(n)) for n in range(1, 11)])).rows
    assert [row.value for row in rows] == [Decimal(n) / 2 for n in range(1, 11)]


def test_imdb_older_export_without_original_title_and_lowercase_types():
    header = [name for name in IMDB_HEADER if name != "Original Title"]
    rows = parse(csv_bytes(header, [imdb_row(kind="movie"), imdb_row("tt0000002", kind="tvMovie")])).rows
    assert [row.skip_reason for row in rows] == ["", ""]


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("TV Series", "a TV series, not a film"),
        ("tvEpisode", "a TV episode, not a film"),
        ("TV Mini Series", "a TV mini-series, not a film"),
        ("Video Game", "a video game, not a film"),
        ("videoGame", "a video game, not a film"),
    ],
)
def test_imdb_rows_that_are_not_films_are_skipped_with_the_reason(kind, reason):
    (row,) = parse(csv_bytes(IMDB_HEADER, [imdb_row(kind=kind)])).rows
    assert row.value is None and row.skip_reason == reason


@pytest.mark.parametrize("rating", ["0", "11", "7.5", "abc", ""])
def test_imdb_bad_ratings_skip_the_row_not_the_file(rating):
    rows = parse(csv_bytes(IMDB_HEADER, [imdb_row(rating=rating), imdb_row("tt0113277")])).rows
    assert rows[0].value is None and "1 to 10" in rows[0].skip_reason
    assert rows[1].value == Decimal("4.0")


def test_imdb_const_must_be_a_title_id():
    (row,) = parse(csv_bytes(IMDB_HEADER, [imdb_row(const="nm0000123")])).rows
    assert "not an IMDb title id" in row.skip_reason


@pytest.mark.parametrize("seed", [None, 4, 5])
def test_letterboxd_ratings_csv(seed):
    parsed = parse(
        csv_bytes(LETTERBOXD_HEADER, [letterboxd_row(), letterboxd_row("Heat", "1995", "0.5")], shuffle=seed)
    )
    assert parsed.format == LETTERBOXD
    amelie, heat = parsed.rows
    assert (amelie.title, amelie.year, amelie.value, amelie.imdb_id) == ("Amélie", 2001, Decimal("4.5"), None)
    assert heat.value == Decimal("0.5")


@pytest.mark.parametrize("rating", ["0", "5.5", "4.25", "x", "-1", "NaN", "Infinity"])
def test_letterboxd_bad_ratings_are_skipped(rating):
    (row,) = parse(csv_bytes(LETTERBOXD_HEADER, [letterboxd_row(rating=rating)])).rows
    assert row.value is None and "half steps" in row.skip_reason


def test_letterboxd_diary_rows_without_stars_are_skipped():
    header = [*LETTERBOXD_HEADER, "Rewatch", "Tags", "Watched Date"]
    rows = parse(csv_bytes(header, [letterboxd_row(rating=""), letterboxd_row()])).rows
    assert rows[0].skip_reason.startswith("no rating") and rows[1].value == Decimal("4.5")


def test_trakt_json():
    data = [
        {
            "rated_at": "2024-02-03T20:15:00.000Z",
            "rating": 7,
            "type": "movie",
            "movie": {"title": "Heat", "year": 1995, "ids": {"trakt": 1, "imdb": "tt0113277", "tmdb": 949}},
        },
        {"rated_at": "2024-02-03T20:15:00.000Z", "rating": 9, "type": "show", "show": {"title": "The Wire"}},
        {"rating": 10, "type": "episode", "episode": {"title": "Pilot"}, "show": {"title": "Lost"}},
        {"rating": 11, "type": "movie", "movie": {"title": "Bad", "year": 2000, "ids": {}}},
    ]
    parsed = parse(json.dumps(data).encode())
    assert parsed.format == TRAKT
    heat, wire, pilot, bad = parsed.rows
    assert (heat.imdb_id, heat.tmdb_id, heat.value) == (113277, 949, Decimal("3.5"))
    assert heat.rated_at == datetime(2024, 2, 3, 20, 15, tzinfo=UTC)
    assert wire.skip_reason == "a TV show, not a film" and wire.title == "The Wire"
    assert pilot.skip_reason == "a TV episode, not a film"
    assert "1 to 10" in bad.skip_reason


@pytest.mark.parametrize(
    "data",
    [{"ratings": 1}, [1, 2], [{"title": "x"}], {"a": [{"b": 1}]}],
    ids=["object", "numbers", "no-rating", "wrapped-other"],
)
def test_json_that_is_not_trakt_names_the_expected_shape(data):
    with pytest.raises(ImportFileError, match="rated_at"):
        parse(json.dumps(data).encode())


def test_invalid_json():
    with pytest.raises(ImportFileError, match="not valid JSON"):
        parse(b'[{"rating": 5,')


@pytest.mark.parametrize("seed", [None, 6])
def test_movierec_export(seed):
    rows = [
        {"movie_id": "1", "imdb_id": "0114709", "tmdb_id": "862", "title": "Toy Story (1995)", "year": "1995",
         "rating": "4.5", "rated_at": "2024-01-02T03:04:05+00:00"},
        {"movie_id": "2", "imdb_id": "", "tmdb_id": "", "title": "Jumanji (1995)", "year": "", "rating": "6",
         "rated_at": ""},
    ]  # fmt: skip
    parsed = parse(csv_bytes(list(MOVIEREC_HEADER), rows, shuffle=seed))
    assert parsed.format == MOVIEREC
    toy, jumanji = parsed.rows
    assert (toy.movie_id, toy.imdb_id, toy.tmdb_id, toy.value) == (1, 114709, 862, Decimal("4.5"))
    assert toy.rated_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert jumanji.value is None and "half steps" in jumanji.skip_reason


# --- Encodings ---


def test_utf8_with_bom():
    parsed = parse(b"\xef\xbb\xbf" + csv_bytes(LETTERBOXD_HEADER, [letterboxd_row()]))
    assert parsed.encoding == "utf-8-sig" and parsed.rows[0].title == "Amélie"


def test_latin1_fallback():
    parsed = parse(csv_bytes(LETTERBOXD_HEADER, [letterboxd_row("Les Misérables", "1998")], encoding="latin-1"))
    assert parsed.rows[0].title == "Les Misérables"
    assert parsed.encoding in ("windows-1252", "latin-1")


def test_semicolon_separated_csv_from_a_spreadsheet():
    text = "Date;Name;Year;Letterboxd URI;Rating\n2024-01-01;Heat;1995;x;4,5\n"
    (row,) = parse(text.encode()).rows
    assert (row.title, row.value) == ("Heat", Decimal("4.5"))


# --- Files that are not what they claim ---


def test_chosen_format_with_missing_columns_names_the_expected_columns():
    data = csv_bytes(["Name", "Rating"], [{"Name": "Heat", "Rating": "4"}])
    with pytest.raises(ImportFileError) as error:
        parse(data, format=LETTERBOXD)
    message = str(error.value)
    assert (
        "lacks the column Year" in message
        and "Name, Year, Rating" in message
        and "first line has: Name, Rating" in message
    )


def test_a_letterboxd_file_uploaded_as_imdb_is_refused():
    with pytest.raises(ImportFileError, match="Const, Your Rating"):
        parse(csv_bytes(LETTERBOXD_HEADER, [letterboxd_row()]), format=IMDB)


def test_unknown_csv_lists_every_format_and_its_columns():
    with pytest.raises(ImportFileError) as error:
        parse(b"foo,bar\n1,2\n")
    message = str(error.value)
    for expected in ("Const, Your Rating", "Name, Year, Rating", "movie_id, title, rating", "rated_at", "foo, bar"):
        assert expected in message


def test_json_uploaded_as_csv_format_and_csv_as_trakt():
    with pytest.raises(ImportFileError, match="JSON file"):
        parse(b"[]", format=LETTERBOXD)
    with pytest.raises(ImportFileError, match="not a JSON file"):
        parse(csv_bytes(LETTERBOXD_HEADER, [letterboxd_row()]), format=TRAKT)


@pytest.mark.parametrize("data", [b"", b"   \r\n\n", b"\xef\xbb\xbf"])
def test_empty_file(data):
    with pytest.raises(ImportFileError, match="empty"):
        parse(data)


def test_header_only():
    with pytest.raises(ImportFileError, match="no ratings"):
        parse(csv_bytes(LETTERBOXD_HEADER, []))
    with pytest.raises(ImportFileError, match="no ratings"):
        parse(b"[]")


def test_zip_archive_is_refused_without_opening_it():
    # A zip bomb looks like any other zip: it is refused by its signature, never decompressed.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ratings.csv", b"0" * 10_000_000)
    with pytest.raises(ImportFileError, match="zip archive"):
        parse(buffer.getvalue())


@pytest.mark.parametrize(
    "data, message",
    [
        (bytes(range(256)) * 4, "binary"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image"),
        (b"\x1f\x8b\x08\x00", "gzip"),
        (b"%PDF-1.7\n", "PDF"),
        ("Name,Year,Rating\n".encode("utf-16"), "UTF-16"),
        (b"Name,Year,Rating\n\x01\x02\x03,\x04,\x05\n", "binary"),
    ],
)
def test_binary_files_get_a_clear_message(data, message):
    with pytest.raises(ImportFileError, match=message):
        parse(data)


def test_oversize_file():
    with pytest.raises(ImportFileError, match="limit is 5 MB"):
        parse(b"x" * (MAX_BYTES + 1))


def test_too_many_rows():
    rows = [letterboxd_row(f"Movie {n}", "2000", "3") for n in range(MAX_ROWS + 1)]
    with pytest.raises(ImportFileError, match="more than 20,000"):
        parse(csv_bytes(LETTERBOXD_HEADER, rows))
    assert len(parse(csv_bytes(LETTERBOXD_HEADER, rows[:MAX_ROWS])).rows) == MAX_ROWS


def test_too_many_json_rows():
    data = json.dumps([{"rating": 5, "movie": {"title": "x"}}] * (MAX_ROWS + 1)).encode()
    with pytest.raises(ImportFileError, match="more than 20,000"):
        parse(data)


def test_blank_lines_are_ignored_and_line_numbers_are_the_files():
    text = 'Date,Name,Year,Letterboxd URI,Rating\n\n2024-01-01,Heat,1995,x,4\n,,,,\n2024-01-01,"Multi\nLine",1995,x,3\n'
    rows = parse(text.encode()).rows
    assert [row.line for row in rows] == [3, 6]
