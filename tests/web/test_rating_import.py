"""The import pages: upload, preview, confirm, undo, and who may see what."""

from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ratings.imports.formats import MAX_BYTES
from ratings.imports.models import RatingImport
from ratings.models import Rating
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db

LETTERBOXD = (
    "Date,Name,Year,Letterboxd URI,Rating\n"
    "2024-01-01,The Godfather,1972,u,5\n"
    "2024-01-01,Emma,1996,u,3.5\n"
    "2024-01-01,Heat,1995,u,1\n"
    "2024-01-01,Unknown Film,1990,u,2\n"
    "2024-01-01,Breaking Rating,1990,u,9\n"
)


@pytest.fixture
def movies():
    return {
        "godfather": MovieFactory(id=1, title="Godfather, The (1972)", year=1972),
        "emma_a": MovieFactory(id=2, title="Emma (1996)", year=1996),
        "emma_b": MovieFactory(id=3, title="Emma (1996)", year=1996),
        "heat": MovieFactory(id=4, title="Heat (1995)", year=1995),
    }


def upload(client, content: bytes | str = LETTERBOXD, name="ratings.csv", format="auto"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        reverse("rating_import_start"), {"file": SimpleUploadedFile(name, data, "text/csv"), "format": format}
    )


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pages_need_a_login(client, user, movies):
    rating_import = RatingImport.objects.create(user=user, format="letterboxd")
    for url, method in [
        (reverse("rating_import_start"), "get"),
        (reverse("rating_import_start"), "post"),
        (reverse("rating_import_detail", args=[rating_import.pk]), "get"),
        (reverse("rating_import_confirm", args=[rating_import.pk]), "post"),
        (reverse("rating_import_undo", args=[rating_import.pk]), "post"),
    ]:
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url


def test_the_import_link_is_on_my_ratings_and_the_welcome_page(logged_in):
    link = reverse("rating_import_start")
    assert link in logged_in.get(reverse("my_ratings")).content.decode()
    assert link in logged_in.get(reverse("welcome")).content.decode()


def test_upload_shows_a_preview_and_changes_nothing(logged_in, user, movies):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("4.0"))
    response = upload(logged_in)
    rating_import = RatingImport.objects.get(user=user)
    assert response.status_code == 302 and response.url == reverse("rating_import_detail", args=[rating_import.pk])
    assert list(Rating.objects.filter(user=user).values_list("movie_id", "value")) == [(4, Decimal("4.0"))]

    page = logged_in.get(response.url).content.decode()
    for text in (
        "Check your import",
        "Choose the right movie (1)",
        'name="choice-',
        "Emma (1996)",
        "Movies you have already rated (1)",
        "Not found (1)",
        "Unknown Film",
        "Skipped (1)",
        "Matched (2)",
        "The Godfather (1972)",  # shown as people read it
    ):
        assert text in page, text


def test_a_bad_file_is_refused_with_its_reason_and_stores_nothing(logged_in, user):
    response = upload(logged_in, "foo,bar\n1,2\n")
    assert response.status_code == 400
    assert "Name, Year, Rating" in response.content.decode()
    response = upload(logged_in, b"PK\x03\x04junk", name="export.zip")
    assert response.status_code == 400 and "zip archive" in response.content.decode()
    assert not RatingImport.objects.exists()


def test_an_oversize_upload_is_refused_before_reading_it(logged_in, user):
    response = upload(logged_in, b"a" * (MAX_BYTES + 100_000))
    assert response.status_code == 400 and "larger than 5 MB" in response.content.decode()
    assert not RatingImport.objects.exists()


def test_confirm_with_a_choice_then_undo(logged_in, user, movies):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("4.0"))
    upload(logged_in)
    rating_import = RatingImport.objects.get(user=user)
    emma = rating_import.items.get(title="Emma")
    response = logged_in.post(
        reverse("rating_import_confirm", args=[rating_import.pk]),
        {f"choice-{emma.pk}": str(movies["emma_b"].pk), "conflict_policy": "theirs"},
    )
    assert response.status_code == 302
    assert _messages(response) == ["Imported 3 ratings. You can undo this import below."]
    assert dict(Rating.objects.filter(user=user).values_list("movie_id", "value")) == {
        1: Decimal("5.0"), 3: Decimal("3.5"), 4: Decimal("1.0"),
    }  # fmt: skip
    page = logged_in.get(response.url).content.decode()
    assert "Undo this import" in page and "Replaced your rating" in page

    response = logged_in.post(reverse("rating_import_undo", args=[rating_import.pk]))
    assert _messages(response) == ["Undone: removed 2 and restored 1 ratings."]
    assert dict(Rating.objects.filter(user=user).values_list("movie_id", "value")) == {4: Decimal("4.0")}
    assert "Undo this import" not in logged_in.get(response.url).content.decode()


def test_per_row_conflict_choice(logged_in, user, movies):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("4.0"))
    upload(logged_in)
    rating_import = RatingImport.objects.get(user=user)
    heat = rating_import.items.get(title="Heat")
    logged_in.post(
        reverse("rating_import_confirm", args=[rating_import.pk]),
        {"conflict_policy": "theirs", f"conflict-{heat.pk}": "mine"},
    )
    assert Rating.objects.get(user=user, movie=movies["heat"]).value == Decimal("4.0")


def test_a_forged_choice_changes_nothing_and_says_why(logged_in, user, movies):
    upload(logged_in)
    rating_import = RatingImport.objects.get(user=user)
    emma = rating_import.items.get(title="Emma")
    response = logged_in.post(
        reverse("rating_import_confirm", args=[rating_import.pk]), {f"choice-{emma.pk}": str(movies["heat"].pk)}
    )
    assert "is not one of the movies offered" in _messages(response)[0]
    assert not Rating.objects.filter(user=user).exists()
    assert RatingImport.objects.get(pk=rating_import.pk).status == "preview"


def test_confirming_twice_applies_once(logged_in, user, movies):
    upload(logged_in)
    rating_import = RatingImport.objects.get(user=user)
    url = reverse("rating_import_confirm", args=[rating_import.pk])
    logged_in.post(url)
    response = logged_in.post(url)
    assert any("only a preview import can be confirmed" in message for message in _messages(response))
    assert RatingImport.objects.get(pk=rating_import.pk).applied_counts == {"created": 2}


def test_another_users_import_is_a_404(client, user, movies):
    other = UserFactory(username="mallory")
    upload_client = client
    upload_client.force_login(user)
    upload(upload_client, name="alice-secret.csv")
    rating_import = RatingImport.objects.get(user=user)
    client.force_login(other)
    for name, method in [
        ("rating_import_detail", "get"),
        ("rating_import_confirm", "post"),
        ("rating_import_undo", "post"),
        ("rating_import_discard", "post"),
    ]:
        assert getattr(client, method)(reverse(name, args=[rating_import.pk])).status_code == 404, name
    assert RatingImport.objects.get(pk=rating_import.pk).status == "preview"
    assert not Rating.objects.exists()
    assert "alice-secret.csv" not in client.get(reverse("rating_import_start")).content.decode()


def test_cancel_deletes_the_preview(logged_in, user, movies):
    upload(logged_in)
    rating_import = RatingImport.objects.get(user=user)
    response = logged_in.post(reverse("rating_import_discard", args=[rating_import.pk]))
    assert response.url == reverse("rating_import_start")
    assert not RatingImport.objects.exists()


def test_the_preview_page_costs_the_same_queries_whatever_the_number_of_rows(logged_in, user, movies):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(rows: int) -> int:
        lines = ["Date,Name,Year,Letterboxd URI,Rating"]
        for n in range(rows):
            lines += ["2024-01-01,Emma,1996,u,3", "2024-01-01,Heat,1995,u,4", f"2024-01-01,Missing {n},1990,u,1"]
        upload(logged_in, "\n".join(lines) + "\n")
        rating_import = RatingImport.objects.filter(user=user).latest("id")
        with CaptureQueriesContext(connection) as captured:
            assert logged_in.get(reverse("rating_import_detail", args=[rating_import.pk])).status_code == 200
        return len(captured)

    assert queries_for(2) == queries_for(40)
