"""Bad MovieLens input: a clear error naming file and line, a non-zero exit, nothing written.

These tests commit for real (transaction=True): the import's own transaction must roll back.
"""

import zipfile

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from movielens.errors import MovieLensError, MovieLensFormatError, MovieLensRowError
from movielens.services import movielens_import
from tests.movielens.conftest import MOVIELENS, append_line, database_snapshot, replace_line, zip_folder

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stored():
    """The tiny CSV data set, imported: a failed import must leave exactly this."""
    movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)
    return database_snapshot()


def import_fails(path, *fragments) -> str:
    with pytest.raises(MovieLensError) as excinfo:
        movielens_import(path=path, progress=False)
    message = str(excinfo.value)
    for fragment in fragments:
        assert fragment in message
    return message


# (file, line, new text, expected reason) for the CSV format; line numbers are the file's own.
BAD_ROWS = [
    ("ratings.csv", 3, "1,858,5.0", "expected 4 fields, found 3"),
    ("ratings.csv", 4, "1,7789,0.5,964982224,extra", "expected 4 fields, found 5"),
    ("ratings.csv", 5, "two,1,3.5,1445714835", "userId 'two' is not a whole number"),
    ("ratings.csv", 5, "2,1.5,3.5,1445714835", "movieId '1.5' is not a whole number"),
    ("ratings.csv", 6, "2,2,6.0,1445714836", "rating '6.0' is not 0.5 to 5 stars in half steps"),
    ("ratings.csv", 6, "2,2,0,1445714836", "rating '0' is not 0.5 to 5 stars in half steps"),
    ("ratings.csv", 7, "2,40697,3.25,1445714200", "rating '3.25' is not 0.5 to 5 stars in half steps"),
    ("ratings.csv", 7, "2,40697,great,1445714200", "rating 'great' is not a number"),
    ("ratings.csv", 8, "3,999999,1.0,1493846400", "rating for unknown movie 999999"),
    ("ratings.csv", 9, "3,171749,4.5,yesterday", "timestamp 'yesterday' is not a whole number"),
    ("movies.csv", 3, "2,Jumanji (1995)", "expected 3 fields, found 2"),
    ("movies.csv", 5, "abc,Foo (2000),Drama", "movieId 'abc' is not a whole number"),
    ("movies.csv", 6, "858,Babylon 5,Sci-Fi", "movie 858 appears twice (first on line 4)"),
    ("links.csv", 3, "999999,0113497,8844", "link for unknown movie 999999"),
    ("links.csv", 4, "858,tt0068646,238", "imdbId 'tt0068646' is not a string of up to 16 digits"),
    ("tags.csv", 3, "2,999999,mafia,1445714996", "tag for unknown movie 999999"),
    ("tags.csv", 4, "4,1,,1445715000", "empty tag"),
]


@pytest.mark.parametrize(("name", "line", "text", "reason"), BAD_ROWS)
def test_bad_row_names_file_and_line_and_changes_nothing(stored, movielens_copy, name, line, text, reason):
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / name, line, text)
    # Also change a good row, so a partial import would show.
    replace_line(folder / "movies.csv", 2, "1,Toy Story Changed (1995),Comedy")

    import_fails(folder, f"{folder / name}:{line}: {reason}")

    assert database_snapshot() == stored


@pytest.mark.parametrize(
    ("name", "files", "line", "text", "reason"),
    [
        ("ml-1m-tiny", "ratings.dat", 2, "1::858::3", "expected 4 fields separated by '::', found 3"),
        ("ml-1m-tiny", "ratings.dat", 3, "1::3::7::978301968", "rating '7' is not 0.5 to 5 stars"),
        ("ml-10m-tiny", "ratings.dat", 4, "2::4::3.3::1162160300", "rating '3.3' is not 0.5 to 5 stars"),
        ("ml-10m-tiny", "tags.dat", 2, "15::x::tag::1215184631", "movieId 'x' is not a whole number"),
        ("ml-100k-tiny", "u.data", 5, "22\t1\t4", "expected 4 fields separated by '\\t', found 3"),
        ("ml-100k-tiny", "u.data", 2, "186\t4242\t5\t891717742", "rating for unknown movie 4242"),
        ("ml-100k-tiny", "u.item", 1, "1|Toy Story (1995)|01-Jan-1995", "expected 24 fields separated by '|'"),
    ],
)
def test_bad_rows_in_other_formats_name_file_and_line(movielens_copy, name, files, line, text, reason):
    folder = movielens_copy(name)
    encoding = "latin-1" if name in ("ml-1m-tiny", "ml-100k-tiny") else "utf-8"
    replace_line(folder / files, line, text, encoding=encoding)

    import_fails(folder, f"{folder / files}:{line}: {reason}")

    assert not User.objects.exists()


def test_the_first_bad_line_is_reported(movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / "ratings.csv", 7, "2,40697,3.25,1445714200")
    replace_line(folder / "ratings.csv", 4, "1,999999,0.5,964982224")

    import_fails(folder, "ratings.csv:4: rating for unknown movie 999999")


def test_a_missing_column_is_named(stored, movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / "ratings.csv", 1, "userId,movieId,score,timestamp")

    message = import_fails(folder, f"{folder / 'ratings.csv'}:1: missing column(s) rating")

    assert "found: userId, movieId, score, timestamp" in message
    assert database_snapshot() == stored


def test_a_missing_tags_column_fails_even_with_skip_invalid(stored, movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / "tags.csv", 1, "userId,movieId,timestamp")

    with pytest.raises(MovieLensFormatError, match=r"tags.csv:1: missing column\(s\) tag"):
        movielens_import(path=folder, skip_invalid=True, progress=False)
    assert database_snapshot() == stored


def test_invalid_utf8_names_file_and_line(stored, movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    movies = folder / "movies.csv"
    movies.write_bytes(movies.read_bytes().replace("nôto".encode(), b"n\xf4to"))

    import_fails(folder, f"{movies}:7: not valid utf-8 text (byte 0xf4")

    assert database_snapshot() == stored


def test_invalid_utf8_in_ratings_is_reported_too(movielens_copy):
    folder = movielens_copy("ml-10m-tiny")
    ratings = folder / "ratings.dat"
    ratings.write_bytes(ratings.read_bytes().replace(b"2::4::3", b"2::4\xff::3"))

    import_fails(folder, f"{ratings}:4: not valid utf-8 text (byte 0xff")


def test_a_duplicate_rating_in_an_unsorted_file_names_both_lines(stored, movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    append_line(folder / "ratings.csv", "1,858,2.0,1500000000")  # line 10; also on line 3

    import_fails(folder, f"{folder / 'ratings.csv'}:10: user 1 rated movie 858 again (first on line 3)")

    assert database_snapshot() == stored


@pytest.mark.parametrize("content", [b"", b"not a zip at all" * 100])
def test_a_broken_zip_is_reported(stored, tmp_path, content):
    broken = tmp_path / "ml-latest-small.zip"
    broken.write_bytes(content)

    import_fails(broken, str(broken), "not a readable zip file")

    assert database_snapshot() == stored


def test_a_truncated_zip_is_reported(stored, tmp_path):
    good = zip_folder(MOVIELENS / "ml-latest-tiny", tmp_path / "good.zip")
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])

    import_fails(truncated, str(truncated))

    assert database_snapshot() == stored


def test_a_zip_with_corrupt_data_names_the_member(stored, tmp_path, movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n" + "1,1,4.0,964982703\n" * 2000)
    good = zip_folder(folder, tmp_path / "good.zip")
    with zipfile.ZipFile(good) as archive:
        info = archive.getinfo("ml-latest-tiny/ratings.csv")
    data = bytearray(good.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for offset in range(start + 20, start + 60):
        data[offset] ^= 0x5A
    corrupt = tmp_path / "corrupt.zip"
    corrupt.write_bytes(bytes(data))

    import_fails(corrupt, "ml-latest-tiny/ratings.csv")

    assert database_snapshot() == stored


@pytest.mark.parametrize("files", [{}, {"README.txt": "hello"}, {"ratings.csv": "userId,movieId,rating,timestamp\n"}])
def test_an_unknown_format_is_reported(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)

    import_fails(tmp_path, "not a MovieLens data set", "movies.csv and ratings.csv")


def test_an_unknown_format_in_a_zip_is_reported(tmp_path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("photos/cat.jpg", b"\xff\xd8")

    import_fails(archive, str(archive), "not a MovieLens data set")


def test_several_data_sets_in_one_folder_are_refused():
    import_fails(MOVIELENS, "several data sets found")


def test_a_missing_path_is_reported(tmp_path):
    import_fails(tmp_path / "nowhere", "no such folder or zip file")


def test_a_username_taken_by_a_person_is_refused(movielens_copy):
    User.objects.create_user(username="movielens-3", password="correct horse battery staple")

    import_fails(MOVIELENS / "ml-latest-tiny", "movielens-3", "not MovieLens raters")

    assert User.objects.count() == 1


def test_skip_invalid_skips_and_lists_bad_rows(stored, movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / "ratings.csv", 6, "2,2,6.0,1445714836")
    replace_line(folder / "ratings.csv", 8, "3,999999,1.0,1493846400")
    replace_line(folder / "movies.csv", 6, "40697,Babylon 5")
    append_line(folder / "ratings.csv", "7,1,3.0,1500000000")
    append_line(folder / "tags.csv", "2,858,,1445714996")

    summary = movielens_import(path=folder, skip_invalid=True, progress=False)

    assert summary.skipped == 4
    assert summary.issues == [
        f"{folder / 'movies.csv'}:6: expected 3 fields, found 2",
        f"{folder / 'ratings.csv'}:6: rating '6.0' is not 0.5 to 5 stars in half steps",
        f"{folder / 'ratings.csv'}:8: rating for unknown movie 999999 (not in movies.csv nor in the database)",
        f"{folder / 'tags.csv'}:7: empty tag",
    ]
    assert summary.ratings_created == 1  # user 7
    assert User.objects.filter(movielens_id=7).exists()


def test_skip_invalid_keeps_the_latest_of_duplicate_ratings(movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    append_line(folder / "ratings.csv", "1,858,2.0,1500000000")

    summary = movielens_import(path=folder, skip_invalid=True, progress=False)

    assert summary.skipped == 1
    assert summary.issues == [f"{folder / 'ratings.csv'}:3: user 1 rated movie 858 more than once (the latest is kept)"]
    assert str(User.objects.get(movielens_id=1).ratings.get(movie_id=858).value) == "2.0"


def test_command_fails_with_a_clear_error_and_lists_skipped_rows(stored, movielens_copy, capsys):
    folder = movielens_copy("ml-latest-tiny")
    for user in range(100, 130):
        append_line(folder / "ratings.csv", f"{user},424242,3.0,1500000000")

    with pytest.raises(CommandError, match=r"ratings.csv:10: rating for unknown movie 424242"):
        call_command("import_movielens", str(folder), "--no-progress")
    assert database_snapshot() == stored

    call_command("import_movielens", str(folder), "--no-progress", "--skip-invalid")
    err = capsys.readouterr().err
    assert "Skipped 30 invalid row(s):" in err
    assert f"{folder / 'ratings.csv'}:10: rating for unknown movie 424242" in err
    assert "... and 10 more" in err


def test_command_needs_a_path_or_a_download():
    with pytest.raises(CommandError, match="either a PATH"):
        call_command("import_movielens")


def test_row_errors_carry_file_and_line():
    error = MovieLensRowError("ratings.csv", 12, "bad")
    assert (error.file, error.line, str(error)) == ("ratings.csv", 12, "ratings.csv:12: bad")
