"""Taking your data away: the CSV files, the Letterboxd file, the zip and the JSON document."""

import csv
import io
import json
import zipfile
from decimal import Decimal

import pytest
from django.urls import reverse

from catalog.titles import display_title
from ratings import takeaway
from ratings.csvcells import spreadsheet_unsafe
from ratings.imports.services import rating_import_apply, rating_import_preview
from ratings.models import Rating
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def _rows(chunks) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(chunks).decode(), newline="")))


def test_ratings_csv_has_every_column_oldest_first_and_only_the_users_ratings(alice_data, alice):
    rows = _rows(takeaway.ratings_csv(user=alice))
    assert rows == [
        ["movie_id", "imdb_id", "tmdb_id", "title", "year", "rating", "rated_at"],
        ["1", "tt0114709", "862", "Toy Story (1995)", "1995", "4.5", "2024-01-02T03:04:05Z"],
        ["2571", "tt0133093", "603", "Matrix, The (1999)", "1999", "0.5", "2024-02-01T10:00:00.123456Z"],
        ["7", "", "", '\'=HYPERLINK("http://evil.example","click") (2001)', "2001", "3.0", "2024-03-01T00:00:00Z"],
    ]


def test_the_ratings_header_is_exactly_the_movierec_export_format(alice):
    assert b"".join(takeaway.ratings_csv(user=alice)) == b"movie_id,imdb_id,tmdb_id,title,year,rating,rated_at\r\n"


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_cells_a_spreadsheet_would_run_get_an_apostrophe(start, alice):
    RatingFactory(user=alice, movie=MovieFactory(title=f"{start}1+1 (2000)"))
    title = _rows(takeaway.ratings_csv(user=alice))[1][3]
    assert title == f"'{start}1+1 (2000)"
    assert spreadsheet_unsafe(title) == f"{start}1+1 (2000)"


def test_numeric_columns_stay_plain_numbers(alice_data, alice):
    for row in _rows(takeaway.ratings_csv(user=alice))[1:]:
        movie_id, _, tmdb_id, _, year, rating, _ = row
        assert movie_id.isdigit() and (tmdb_id == "" or tmdb_id.isdigit()) and year.isdigit()
        assert Decimal(rating) in {Decimal(n) / 2 for n in range(1, 11)}


def test_wishlist_and_hidden_files(alice_data, alice):
    wishlist = _rows(takeaway.wishlist_csv(user=alice))
    assert wishlist[0] == ["movie_id", "imdb_id", "tmdb_id", "title", "year", "added_at"]
    assert wishlist[1][:5] == ["9", "", "", '\'@Home, with "quotes", and\nnewline', ""]
    assert wishlist[1][5].endswith("Z")
    hidden = _rows(takeaway.hidden_csv(user=alice))
    assert hidden[0] == ["movie_id", "imdb_id", "tmdb_id", "title", "year", "hidden_at"]
    assert hidden[1][:5] == ["11", "", "", "'+Plus (2010)", "2010"]


def test_a_user_with_no_data_gets_headers_only(alice):
    assert _rows(takeaway.ratings_csv(user=alice)) == [list(takeaway.RATINGS_COLUMNS)]
    assert _rows(takeaway.wishlist_csv(user=alice)) == [list(takeaway.WISHLIST_COLUMNS)]
    assert _rows(takeaway.hidden_csv(user=alice)) == [list(takeaway.HIDDEN_COLUMNS)]
    assert _rows(takeaway.letterboxd_csv(user=alice)) == [list(takeaway.LETTERBOXD_COLUMNS)]
    document = json.loads(b"".join(takeaway.takeaway_json(user=alice)))
    assert (document["ratings"], document["wishlist"], document["hidden"]) == ([], [], [])


def test_export_then_import_into_a_fresh_account_reproduces_the_ratings_exactly(alice_data, alice):
    """The round trip a person makes between two MovieRec sites: our export, read by our importer."""
    exported = b"".join(takeaway.ratings_csv(user=alice))
    newcomer = UserFactory(username="newcomer")
    preview = rating_import_preview(user=newcomer, data=exported, filename="ratings.csv")
    assert preview.format == "movierec"
    rating_import_apply(rating_import=preview)

    def ratings(user):
        return list(Rating.objects.filter(user=user).order_by("movie_id").values_list("movie_id", "value", "rated_at"))

    assert ratings(newcomer) == ratings(alice)
    assert len(ratings(newcomer)) == 3  # the formula-like title came back as written and matched too


def test_letterboxd_file(alice_data, alice):
    rows = _rows(takeaway.letterboxd_csv(user=alice))
    assert rows == [
        ["imdbID", "tmdbID", "Title", "Year", "Rating", "WatchedDate"],
        ["tt0114709", "862", "Toy Story", "1995", "4.5", "2024-01-02"],
        ["tt0133093", "603", "The Matrix", "1999", "0.5", "2024-02-01"],
        # Trailing "(...)" groups are alternative titles in MovieLens: Letterboxd gets the main name, still guarded.
        ["", "", "'=HYPERLINK", "2001", "3.0", "2024-03-01"],
    ]


@pytest.mark.parametrize(
    "title, plain",
    [
        ("Matrix, The (1999)", "The Matrix"),
        ("Misérables, Les (1995)", "Les Misérables"),
        ("Homme, L' (2000)", "L'Homme"),
        ("Babe (1995)", "Babe"),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto"),
        ("Yes, Minister", "Yes, Minister"),
    ],
)
def test_letterboxd_titles_read_as_people_write_them(title, plain):
    assert display_title(title) == plain


def test_json_document(alice_data, alice):
    document = json.loads(b"".join(takeaway.takeaway_json(user=alice)))
    assert document["format"] == "movierec-export" and document["version"] == 1
    assert document["user"] == {
        "id": alice.pk,
        "username": "alice",
        "email": "alice@example.com",
        "date_joined": document["user"]["date_joined"],
    }
    assert document["ratings"][0] == {
        "movie_id": 1,
        "imdb_id": "tt0114709",
        "tmdb_id": 862,
        "title": "Toy Story (1995)",
        "year": 1995,
        "rating": 4.5,
        "rated_at": "2024-01-02T03:04:05Z",
    }
    assert [r["movie_id"] for r in document["ratings"]] == [1, 2571, 7]
    assert document["ratings"][2]["title"].startswith("=HYPERLINK")  # JSON is not a spreadsheet: no apostrophe
    assert [w["movie_id"] for w in document["wishlist"]] == [9]
    assert [h["movie_id"] for h in document["hidden"]] == [11]


def test_large_exports_stream_in_chunks(alice, monkeypatch):
    monkeypatch.setattr(takeaway, "CHUNK_ROWS", 50)
    movies = MovieFactory.create_batch(240)
    Rating.objects.bulk_create(
        Rating(user=alice, movie=m, value=Decimal("3.5"), rated_at="2024-01-01T00:00:00Z") for m in movies
    )
    chunks = list(takeaway.ratings_csv(user=alice))
    assert len(chunks) == 5
    assert len(_rows(chunks)) == 241
    document = json.loads(b"".join(takeaway.takeaway_json(user=alice)))
    assert len(document["ratings"]) == 240


def test_zip_holds_the_four_files(alice_data, alice):
    archive = zipfile.ZipFile(io.BytesIO(b"".join(takeaway.takeaway_zip(user=alice))))
    assert archive.namelist() == ["ratings.csv", "wishlist.csv", "hidden.csv", "ratings-letterboxd.csv"]
    assert archive.read("ratings.csv") == b"".join(takeaway.ratings_csv(user=alice))
    assert archive.read("ratings-letterboxd.csv") == b"".join(takeaway.letterboxd_csv(user=alice))
    assert archive.testzip() is None


# --- Pages and API ---


@pytest.mark.parametrize(
    "name, content_type, suffix",
    [
        ("download_ratings_csv", "text/csv; charset=utf-8", "ratings.csv"),
        ("download_wishlist_csv", "text/csv; charset=utf-8", "wishlist.csv"),
        ("download_hidden_csv", "text/csv; charset=utf-8", "hidden.csv"),
        ("download_letterboxd_csv", "text/csv; charset=utf-8", "ratings-letterboxd.csv"),
        ("download_all_zip", "application/zip", "all.zip"),
    ],
)
def test_downloads_stream_the_signed_in_users_own_file(client, alice_data, alice, name, content_type, suffix):
    assert client.get(reverse(name)).status_code == 302  # log in first
    client.force_login(alice)
    response = client.get(reverse(name))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment; filename=")
    assert response["Content-Disposition"].endswith(f'-{suffix}"')
    assert "no-store" in response["Cache-Control"]
    body = b"".join(response.streaming_content)
    if name == "download_ratings_csv":
        assert body == b"".join(takeaway.ratings_csv(user=alice))


def test_your_data_page_links_every_download(client, alice_data, alice):
    client.force_login(alice)
    response = client.get(reverse("your_data"))
    assert response.status_code == 200
    for name in ("download_ratings_csv", "download_letterboxd_csv", "download_all_zip", "api:my_export"):
        assert reverse(name) in response.content.decode()
    assert response.context["counts"] == {"ratings": 3, "wishlist": 1, "hidden": 1}


def test_the_account_menu_and_my_ratings_link_here(client, alice):
    client.force_login(alice)
    page = client.get(reverse("my_ratings")).content.decode()
    assert reverse("your_data") in page and reverse("about_ratings") in page


def test_api_export_is_the_callers_own_data(alice_data, alice, bob):
    from tests.api.conftest import client_for

    response = client_for(bob).get(reverse("api:my_export"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/json"
    document = json.loads(b"".join(response.streaming_content))
    assert document["user"]["username"] == "bob"
    assert [r["movie_id"] for r in document["ratings"]] == [1]
    assert document["wishlist"] == [] and document["hidden"] == []


def test_api_export_needs_a_signed_in_user(client, alice_data):
    from rest_framework.test import APIClient

    response = APIClient().get(reverse("api:my_export"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
