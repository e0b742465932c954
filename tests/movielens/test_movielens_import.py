"""The MovieLens import: every format, folder and zip, users, tags, idempotency and updates."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import is_password_usable
from django.core.management import call_command
from django.db import connection

from accounts.models import User
from catalog.models import Genre, Movie, Tag
from movielens import loader
from movielens.formats import year_from_title
from movielens.services import movielens_import
from ratings.models import Rating
from tests.movielens.conftest import MOVIELENS, append_line, database_snapshot, replace_line, zip_folder

pytestmark = pytest.mark.django_db

GODFATHER = "Godfather, The (1972)"
SEPTEMBER = "11'09\"01 - September 11 (2002)"


def genres_of(movie_id: int) -> list[str]:
    return sorted(Movie.objects.get(pk=movie_id).genres.values_list("name", flat=True))


def rating(user: int, movie: int) -> Rating:
    return Rating.objects.get(user__movielens_id=user, movie_id=movie)


@pytest.mark.parametrize(
    ("title", "year"),
    [
        ("Toy Story (1995)", 1995),
        ("Jumanji (1995) ", 1995),
        ("Death Note: Desu nôto (2006–2007)", 2006),
        ("Fawlty Towers (1975-1979)", 1975),
        ("Babylon 5", None),
        ("1984 (1956)", 1956),
        ("Movie (1066)", None),
        ("2001: A Space Odyssey", None),
    ],
)
def test_year_comes_from_a_trailing_year_or_range_in_the_title(title, year):
    assert year_from_title(title) == year


def test_csv_format_imports_movies_links_genres_users_ratings_and_tags():
    summary = movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)

    assert summary.format.startswith("ml-latest")
    assert (summary.movies_created, summary.users_created, summary.ratings_created) == (6, 4, 8)
    assert summary.genres_created == 8
    assert Movie.objects.get(pk=858).title == GODFATHER
    assert Movie.objects.get(pk=7789).title == SEPTEMBER
    assert Movie.objects.get(pk=2).title == "Jumanji (1995) "  # stored exactly as published
    assert Movie.objects.get(pk=171749).title == "Death Note: Desu nôto (2006–2007)"
    assert [Movie.objects.get(pk=pk).year for pk in (1, 2, 858, 40697, 171749)] == [1995, 1995, 1972, None, 2006]
    assert genres_of(858) == ["Crime", "Drama"]
    assert genres_of(171749) == []  # "(no genres listed)"
    assert not Genre.objects.filter(name__icontains="no genres").exists()
    toy_story = Movie.objects.get(pk=1)
    assert (toy_story.imdb_id, toy_story.tmdb_id) == ("0114709", 862)
    assert (Movie.objects.get(pk=40697).imdb_id, Movie.objects.get(pk=40697).tmdb_id) == ("0105946", None)
    assert rating(1, 7789).value == Decimal("0.5")
    assert rating(2, 2).value == Decimal("3.0")
    assert rating(1, 1).rated_at == datetime.fromtimestamp(964982703, tz=UTC)
    assert Rating.objects.count() == 8


def test_movie_statistics_are_refreshed_after_the_import():
    movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)

    godfather = Movie.objects.get(pk=858)
    assert (godfather.rating_count, godfather.rating_mean) == (2, 3.0)
    assert (Movie.objects.get(pk=1).rating_count, Movie.objects.get(pk=1).rating_mean) == (2, 3.75)
    assert (Movie.objects.get(pk=40697).rating_count, Movie.objects.get(pk=40697).rating_mean) == (1, 2.5)


def test_movielens_raters_become_users_who_can_never_log_in():
    User.objects.create_user(username="alice", password="correct horse battery staple")
    movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)

    raters = User.objects.filter(movielens_id__isnull=False).order_by("movielens_id")
    assert [(u.movielens_id, u.username) for u in raters] == [(i, f"movielens-{i}") for i in (1, 2, 3, 4)]
    assert all(not is_password_usable(u.password) and u.is_movielens for u in raters)
    assert not User.objects.get(username="alice").is_movielens
    assert not raters.filter(is_staff=True).exists()
    assert not raters.filter(is_superuser=True).exists()


def test_tags_keep_the_latest_of_repeated_applications_and_create_taggers_as_users():
    summary = movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)

    assert summary.tags_created == 4
    pixar = Tag.objects.get(user__movielens_id=4, movie_id=1, tag="pixar")
    assert pixar.tagged_at == datetime.fromtimestamp(1445716000, tz=UTC)
    assert Tag.objects.filter(user__movielens_id=2, tag='mafia, "family"').exists()
    assert User.objects.filter(movielens_id=4).exists()  # only in tags.csv


def test_ml_1m_reads_latin1_dat_files_with_whole_star_ratings():
    summary = movielens_import(path=MOVIELENS / "ml-1m-tiny", progress=False)

    assert summary.format == "ml-1m"
    assert Movie.objects.get(pk=858).title == GODFATHER
    assert Movie.objects.get(pk=7789).title == SEPTEMBER
    assert Movie.objects.get(pk=3).title == "Nénette et Boni (1996)"
    assert genres_of(1) == ["Animation", "Children's", "Comedy"]
    assert rating(1, 1).value == Decimal("5")
    assert (summary.users_created, summary.ratings_created, summary.tags_created) == (2, 5, 0)


def test_ml_10m_reads_utf8_dat_files_with_half_stars_and_tags():
    summary = movielens_import(path=MOVIELENS / "ml-10m-tiny", progress=False)

    assert summary.format == "ml-10m"
    assert Movie.objects.get(pk=4).title == "Nénette et Boni (1996)"
    assert Movie.objects.get(pk=7789).title == SEPTEMBER
    assert rating(1, 858).value == Decimal("4.5")
    assert rating(2, 7789).value == Decimal("0.5")
    assert set(Tag.objects.values_list("tag", flat=True)) == {"Marlon Brando", "sci-fi: not really", "a::b"}
    assert summary.users_created == 5  # raters 1, 2, 5 and taggers 15, 20


def test_ml_100k_reads_genre_flags_in_u_genre_order():
    summary = movielens_import(path=MOVIELENS / "ml-100k-tiny", progress=False)

    assert summary.format == "ml-100k"
    assert Movie.objects.get(pk=127).title == GODFATHER
    assert Movie.objects.get(pk=1300).title == SEPTEMBER
    assert Movie.objects.get(pk=1301).title == "Nénette et Boni (1996)"
    assert genres_of(1) == ["Animation", "Children's", "Comedy"]
    assert genres_of(127) == ["Action", "Crime", "Drama"]
    assert genres_of(267) == []  # the "unknown" flag means no genre
    assert Movie.objects.get(pk=267).year is None
    assert not Genre.objects.filter(name="unknown").exists()
    assert rating(186, 127).value == Decimal("5")
    assert summary.ratings_created == 5


def test_ml_100k_without_u_genre_uses_the_standard_genre_order(movielens_copy):
    folder = movielens_copy("ml-100k-tiny")
    (folder / "u.genre").unlink()

    movielens_import(path=folder, progress=False)

    assert genres_of(127) == ["Action", "Crime", "Drama"]


@pytest.mark.parametrize("name", ["ml-latest-tiny", "ml-1m-tiny", "ml-10m-tiny", "ml-100k-tiny"])
def test_a_zip_imports_the_same_as_its_folder(name, tmp_path):
    movielens_import(path=MOVIELENS / name, progress=False)
    from_folder = database_snapshot()
    Movie.objects.all().delete()
    Genre.objects.all().delete()
    User.objects.all().delete()

    movielens_import(path=zip_folder(MOVIELENS / name, tmp_path / f"{name}.zip"), progress=False)

    assert database_snapshot() == from_folder


def test_a_zip_without_a_top_folder_imports(tmp_path):
    flat = zip_folder(MOVIELENS / "ml-latest-tiny", tmp_path / "flat.zip", top="")

    assert movielens_import(path=flat, progress=False).ratings_created == 8


def test_a_folder_holding_the_data_set_folder_imports(movielens_copy, tmp_path):
    movielens_copy("ml-10m-tiny", "downloads/ml-10M100K")

    assert movielens_import(path=tmp_path / "downloads", progress=False).format == "ml-10m"


def test_importing_twice_changes_nothing():
    first = movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)
    before = database_snapshot()

    second = movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)

    assert database_snapshot() == before
    assert first.ratings_created == second.ratings_unchanged == 8
    assert (second.movies_created, second.movies_updated, second.users_created) == (0, 0, 0)
    assert (second.ratings_created, second.ratings_updated, second.genres_created) == (0, 0, 0)
    assert (second.tags_created, second.tags_updated, second.tags_unchanged) == (0, 0, 4)


def test_reimport_updates_changed_titles_genres_links_ratings_and_tags(movielens_copy):
    movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / "movies.csv", 2, "1,Toy Story (1995),Animation|Comedy|Family")
    replace_line(folder / "movies.csv", 4, '858,"Godfather, The (1972)",Crime|Drama|Thriller')
    replace_line(folder / "movies.csv", 6, "40697,Babylon 5 (1993),Sci-Fi")
    replace_line(folder / "links.csv", 2, "1,0114709,999")
    replace_line(folder / "ratings.csv", 2, "1,1,2.5,964982703")  # new value
    replace_line(folder / "ratings.csv", 3, "1,858,5.0,964990000")  # new time
    append_line(folder / "ratings.csv", "5,1,4.0,1500000000")
    replace_line(folder / "tags.csv", 2, "2,858,classic,1445799999")

    summary = movielens_import(path=folder, progress=False)

    assert (summary.movies_created, summary.movies_updated, summary.genres_created) == (0, 3, 2)
    assert genres_of(1) == ["Animation", "Comedy", "Family"]  # the file's set replaces the old one
    assert genres_of(858) == ["Crime", "Drama", "Thriller"]
    assert (Movie.objects.get(pk=40697).title, Movie.objects.get(pk=40697).year) == ("Babylon 5 (1993)", 1993)
    assert Movie.objects.get(pk=1).tmdb_id == 999
    assert rating(1, 1).value == Decimal("2.5")
    assert rating(1, 858).rated_at == datetime.fromtimestamp(964990000, tz=UTC)
    assert (summary.ratings_created, summary.ratings_updated, summary.ratings_unchanged) == (1, 2, 6)
    assert (summary.users_created, summary.tags_updated, summary.tags_unchanged) == (1, 1, 3)
    assert Movie.objects.get(pk=1).rating_count == 3
    assert Rating.objects.count() == 9


def test_ratings_may_refer_to_movies_already_in_the_database(movielens_copy):
    movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)
    folder = movielens_copy("ml-latest-tiny")
    (folder / "movies.csv").write_text("movieId,title,genres\n3,Grumpier Old Men (1995),Comedy|Romance\n")
    (folder / "links.csv").unlink()
    (folder / "tags.csv").unlink()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n9,858,4.0,1500000000\n9,3,3.5,1500000001\n")

    summary = movielens_import(path=folder, progress=False)

    assert (summary.movies_created, summary.ratings_created) == (1, 2)
    assert Movie.objects.get(pk=858).title == GODFATHER  # untouched: not in this file
    assert Movie.objects.get(pk=858).imdb_id == "0068646"  # no links.csv: links kept


def test_bulk_load_recreates_the_ratings_table_keys_indexes_and_constraints_exactly(monkeypatch):
    def schema():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint "
                "WHERE conrelid = 'ratings_rating'::regclass ORDER BY 1"
            )
            constraints = cursor.fetchall()
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'ratings_rating' ORDER BY 1")
            return constraints, cursor.fetchall()

    before = schema()
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)

    summary = movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)

    assert summary.bulk
    assert "rebuild ratings_rating_unique_user_movie" in summary.timings
    assert schema() == before
    assert Rating.objects.count() == 8


def test_bulk_load_of_new_ratings_next_to_stored_ones_updates_and_inserts(monkeypatch, movielens_copy):
    movielens_import(path=MOVIELENS / "ml-latest-tiny", progress=False)
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / "ratings.csv", 2, "1,1,1.5,964982703")
    for user in range(10, 20):
        append_line(folder / "ratings.csv", f"{user},858,4.0,1500000000")
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 5)
    monkeypatch.setattr(loader, "BULK_MIN_SHARE", 0.5)

    summary = movielens_import(path=folder, progress=False)

    assert summary.bulk  # 10 new ratings next to 8 stored ones
    assert (summary.ratings_created, summary.ratings_updated, summary.ratings_unchanged) == (10, 1, 7)
    assert rating(1, 1).value == Decimal("1.5")
    assert Movie.objects.get(pk=858).rating_count == 12


def test_unsorted_ratings_load_through_staging(monkeypatch, movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    lines = (folder / "ratings.csv").read_text().splitlines()
    (folder / "ratings.csv").write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 1)

    summary = movielens_import(path=folder, progress=False)

    assert summary.ratings_created == 8
    assert "scan ratings for users" in summary.timings  # the direct load was tried, then given up
    assert rating(3, 171749).value == Decimal("4.5")


def test_quoted_csv_fields_fall_back_to_the_row_by_row_reader(movielens_copy):
    folder = movielens_copy("ml-latest-tiny")
    replace_line(folder / "ratings.csv", 2, '"1","1","4.0","964982703"')

    summary = movielens_import(path=folder, progress=False)

    assert summary.ratings_created == 8
    assert rating(1, 1).value == Decimal("4.0")


def test_command_prints_a_summary(capsys):
    call_command("import_movielens", str(MOVIELENS / "ml-latest-tiny"), "--no-progress")

    out = capsys.readouterr().out
    assert "movies:  6 created, 0 updated" in out
    assert "ratings: 8 created, 0 updated, 0 unchanged" in out
    assert "users:   4 created" in out
    assert "tags:    4 created" in out


@pytest.mark.slow
def test_full_ml_latest_small_import(settings):
    summary = movielens_import(path=settings.MOVIELENS_BUNDLED_DIR, progress=False)

    assert (Movie.objects.count(), Rating.objects.count(), Tag.objects.count()) == (9742, 100836, 3683)
    assert User.objects.filter(movielens_id__isnull=False).count() == 610
    assert summary.ratings_created == 100836
    godfather = Movie.objects.get(title=GODFATHER)
    assert (godfather.year, godfather.imdb_id, godfather.rating_count) == (1972, "0068646", 192)
    assert Movie.objects.get(title=SEPTEMBER).year == 2002
    assert summary.seconds < 30
