"""Storing a preview, applying it in one transaction, undoing it (ratings/imports/services.py)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from accounts.models import User
from ratings.imports import selectors, services
from ratings.imports.models import RatingImport, RatingImportItem
from ratings.models import Rating, WishlistEntry
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "Date,Name,Year,Letterboxd URI,Rating\n"


def letterboxd(*rows: str) -> bytes:
    return (HEADER + "".join(f"{row}\n" for row in rows)).encode()


@pytest.fixture
def user():
    return UserFactory(username="importer")


@pytest.fixture
def movies():
    return {
        "godfather": MovieFactory(id=1, title="Godfather, The (1972)", year=1972, imdb_id="0068646"),
        "amelie": MovieFactory(id=2, title="Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", year=2001),
        "emma_a": MovieFactory(id=3, title="Emma (1996)", year=1996),
        "emma_b": MovieFactory(id=4, title="Emma (1996)", year=1996),
        "heat": MovieFactory(id=5, title="Heat (1995)", year=1995),
    }


def preview(user, *rows: str) -> RatingImport:
    return services.rating_import_preview(user=user, data=letterboxd(*rows), filename="ratings.csv")


def items(rating_import) -> dict[str, RatingImportItem]:
    return {item.title: item for item in rating_import.items.all()}


def test_preview_stores_every_row_and_changes_no_rating(user, movies):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("2.0"))
    before = list(Rating.objects.values_list("user_id", "movie_id", "value", "rated_at"))
    rating_import = preview(
        user,
        "2024-01-01,The Godfather,1972,u,5",
        "2024-01-01,Le Fabuleux Destin d'Amélie Poulain,2001,u,4.5",
        "2024-01-01,Emma,1996,u,3",
        "2024-01-01,Nothing Like It,1990,u,3",
        "2024-01-01,Heat,1995,u,7",
    )
    assert list(Rating.objects.values_list("user_id", "movie_id", "value", "rated_at")) == before
    assert (rating_import.status, rating_import.format, rating_import.filename) == (
        "preview",
        "letterboxd",
        "ratings.csv",
    )
    got = items(rating_import)
    assert got["The Godfather"].movie == movies["godfather"] and got["The Godfather"].match == "matched"
    assert got["Le Fabuleux Destin d'Amélie Poulain"].movie == movies["amelie"]
    assert got["Emma"].match == "choose" and got["Emma"].candidates == [3, 4]
    assert got["Nothing Like It"].match == "not_found"
    assert got["Heat"].match == "skipped" and "half steps" in got["Heat"].reason
    assert selectors.rating_import_counts(rating_import=rating_import) == {
        "matched": 2, "choose": 1, "not_found": 1, "skipped": 1,
    }  # fmt: skip


def test_rows_are_stored_as_written(user, movies):
    trakt = (
        '[{"rating": 8, "rated_at": "2024-01-02T03:04:05Z", "movie": {"title": "Back\\\\slash \\"Quoted\\" \\\\N",'
        ' "year": 1999, "ids": {"imdb": "tt0068646"}}}]'
    )
    rating_import = services.rating_import_preview(user=user, data=trakt.encode())
    (item,) = rating_import.items.all()
    assert item.title == 'Back\\slash "Quoted" \\N'
    assert (item.year, item.value, item.source_id, item.movie_id) == (1999, Decimal("4.0"), "tt0068646", 1)
    assert item.rated_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC) and item.candidates == []
    assert (item.outcome, item.was_on_wishlist, item.previous_value) == ("", False, None)


def test_a_file_that_cannot_be_read_stores_nothing(user):
    with pytest.raises(ValidationError) as error:
        services.rating_import_preview(user=user, data=b"PK\x03\x04zip", filename="x.zip")
    assert error.value.code == "invalid_file" and "zip" in error.value.messages[0]
    assert not RatingImport.objects.exists()


def test_preview_matches_against_a_dictionary_built_in_one_query(user, movies, django_assert_max_num_queries):
    rows = [f"2024-01-01,Heat,1995,u,{n % 10 / 2 + 0.5}" for n in range(300)]
    with django_assert_max_num_queries(6):  # catalogue, old previews, the import, its rows (one batch), savepoints
        preview(user, *rows)


def test_apply_writes_matched_and_chosen_rows_in_one_statement(user, movies):
    rating_import = preview(
        user,
        "2023-05-06,The Godfather,1972,u,5",
        "2023-05-06,Emma,1996,u,3.5",
        "2023-05-06,Amelie,2001,u,4",
    )
    emma = items(rating_import)["Emma"]
    version = User.objects.get(pk=user.pk).taste_version
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        services.rating_import_apply(rating_import=rating_import, choices={emma.pk: movies["emma_b"].pk})
    assert counter.inserts("ratings_rating") == 1
    mine = dict(Rating.objects.filter(user=user).values_list("movie_id", "value"))
    assert mine == {1: Decimal("5.0"), 4: Decimal("3.5"), 2: Decimal("4.0")}
    assert Rating.objects.get(user=user, movie_id=1).rated_at == datetime(2023, 5, 6, tzinfo=UTC)  # the file's date
    rating_import.refresh_from_db()
    assert rating_import.status == "applied" and rating_import.applied_counts == {"created": 3}
    # Recommendations see it at once: the taste_version triggers fired.
    assert User.objects.get(pk=user.pk).taste_version > version


class StatementCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)

    def inserts(self, table: str) -> int:
        return sum(1 for sql in self.statements if sql.startswith(f'INSERT INTO "{table}"'))


def test_unchosen_ambiguous_rows_are_left_out(user, movies):
    rating_import = preview(user, "2023-05-06,Emma,1996,u,3.5")
    services.rating_import_apply(rating_import=rating_import)
    assert not Rating.objects.filter(user=user).exists()


def test_a_choice_must_be_one_of_the_rows_candidates(user, movies):
    rating_import = preview(user, "2023-05-06,Emma,1996,u,3.5", "2023-05-06,Heat,1995,u,3")
    emma, heat = items(rating_import)["Emma"], items(rating_import)["Heat"]
    for choices in ({emma.pk: movies["heat"].pk}, {heat.pk: movies["heat"].pk}, {10**9: 1}):
        with pytest.raises(ValidationError):
            services.rating_import_apply(rating_import=rating_import, choices=choices)
    assert not Rating.objects.exists()
    assert RatingImport.objects.get(pk=rating_import.pk).status == "preview"


@pytest.mark.parametrize(
    "policy, file_date, expected",
    [
        ("newest", "2024-06-01", Decimal("1.0")),  # the file's rating is newer: it wins
        ("newest", "2020-06-01", Decimal("4.5")),  # mine is newer: kept
        ("mine", "2024-06-01", Decimal("4.5")),
        ("theirs", "2020-06-01", Decimal("1.0")),
    ],
)
def test_conflicts_follow_the_policy(user, movies, policy, file_date, expected):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("4.5"), rated_at=datetime(2022, 1, 1, tzinfo=UTC))
    rating_import = preview(user, f"{file_date},Heat,1995,u,1")
    (conflict,) = selectors.rating_import_conflicts(rating_import=rating_import)
    assert conflict.my_value == Decimal("4.5")
    assert conflict.newest == ("theirs" if file_date > "2022" else "mine")
    services.rating_import_apply(rating_import=rating_import, conflict_policy=policy)
    assert Rating.objects.get(user=user, movie=movies["heat"]).value == expected


def test_newest_wins_keeps_mine_against_an_undated_row(user, movies):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("4.5"), rated_at=datetime(2001, 1, 1, tzinfo=UTC))
    rating_import = services.rating_import_preview(user=user, data=b"Name,Year,Rating\nHeat,1995,1\n")
    assert selectors.rating_import_conflicts(rating_import=rating_import)[0].newest == "mine"
    services.rating_import_apply(rating_import=rating_import)
    assert Rating.objects.get(user=user, movie=movies["heat"]).value == Decimal("4.5")


def test_a_per_row_override_beats_the_policy(user, movies):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("4.5"))
    RatingFactory(user=user, movie=movies["godfather"], value=Decimal("4.5"))
    rating_import = preview(user, "2030-01-01,Heat,1995,u,1", "2030-01-01,The Godfather,1972,u,1")
    heat = items(rating_import)["Heat"]
    services.rating_import_apply(
        rating_import=rating_import, conflict_policy="theirs", conflict_overrides={heat.pk: "mine"}
    )
    assert Rating.objects.get(user=user, movie=movies["heat"]).value == Decimal("4.5")
    assert Rating.objects.get(user=user, movie=movies["godfather"]).value == Decimal("1.0")


def test_undo_removes_what_it_added_and_restores_what_it_overwrote(user, movies):
    old_date = datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("2.5"), rated_at=old_date)
    RatingFactory(user=user, movie=movies["amelie"], value=Decimal("3.0"), rated_at=old_date)
    WishlistEntry.objects.create(user=user, movie=movies["godfather"])
    rating_import = preview(
        user, "2024-01-01,The Godfather,1972,u,5", "2024-01-01,Heat,1995,u,4", "2020-01-01,Amelie,2001,u,1"
    )
    services.rating_import_apply(rating_import=rating_import)
    assert not WishlistEntry.objects.exists()  # rated movies leave the wishlist
    assert dict(Rating.objects.filter(user=user).values_list("movie_id", "value")) == {
        1: Decimal("5.0"), 5: Decimal("4.0"), 2: Decimal("3.0"),  # Amélie: mine was newer, kept
    }  # fmt: skip

    services.rating_import_undo(rating_import=rating_import)
    ratings = {r.movie_id: (r.value, r.rated_at) for r in Rating.objects.filter(user=user)}
    assert ratings == {5: (Decimal("2.5"), old_date), 2: (Decimal("3.0"), old_date)}
    assert WishlistEntry.objects.filter(user=user, movie=movies["godfather"]).exists()
    rating_import.refresh_from_db()
    assert rating_import.status == "undone" and rating_import.undone_counts == {"removed": 1, "restored": 1}


def test_undo_leaves_ratings_changed_since_the_import(user, movies):
    rating_import = preview(user, "2024-01-01,The Godfather,1972,u,5", "2024-01-01,Heat,1995,u,4")
    services.rating_import_apply(rating_import=rating_import)
    Rating.objects.filter(user=user, movie=movies["heat"]).update(value=Decimal("1.5"), rated_at=timezone.now())
    services.rating_import_undo(rating_import=rating_import)
    assert dict(Rating.objects.filter(user=user).values_list("movie_id", "value")) == {5: Decimal("1.5")}
    assert RatingImport.objects.get(pk=rating_import.pk).undone_counts == {
        "changed_since": 1,
        "removed": 1,
        "restored": 0,
    }


def test_apply_and_undo_only_once_each(user, movies):
    rating_import = preview(user, "2024-01-01,Heat,1995,u,4")
    with pytest.raises(ValidationError, match="only a applied import|only an applied|undone"):
        services.rating_import_undo(rating_import=rating_import)
    services.rating_import_apply(rating_import=rating_import)
    with pytest.raises(ValidationError) as error:
        services.rating_import_apply(rating_import=rating_import)
    assert error.value.code == "not_preview"
    services.rating_import_undo(rating_import=rating_import)
    with pytest.raises(ValidationError):
        services.rating_import_undo(rating_import=rating_import)
    with pytest.raises(ValidationError):
        services.rating_import_apply(rating_import=rating_import)


def test_apply_is_all_or_nothing(user, movies, monkeypatch):
    RatingFactory(user=user, movie=movies["heat"], value=Decimal("2.5"))
    rating_import = preview(user, "2030-01-01,The Godfather,1972,u,5", "2030-01-01,Heat,1995,u,4")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "_update_items", fail)
    with pytest.raises(RuntimeError):
        services.rating_import_apply(rating_import=rating_import)
    assert dict(Rating.objects.filter(user=user).values_list("movie_id", "value")) == {5: Decimal("2.5")}
    assert RatingImport.objects.get(pk=rating_import.pk).status == "preview"


def test_future_dates_are_stamped_now_and_undated_rows_take_now(user, movies):
    rating_import = services.rating_import_preview(
        user=user, data=b"Name,Year,Rating\nHeat,1995,4\nThe Godfather,1972,5\n", format="letterboxd"
    )
    services.rating_import_apply(rating_import=rating_import)
    assert all(r.rated_at <= timezone.now() for r in Rating.objects.filter(user=user))


def test_discard_deletes_a_preview_only(user, movies):
    rating_import = preview(user, "2024-01-01,Heat,1995,u,4")
    services.rating_import_discard(rating_import=rating_import)
    assert not RatingImport.objects.exists() and not RatingImportItem.objects.exists()
    applied = services.rating_import_apply(rating_import=preview(user, "2024-01-01,Heat,1995,u,4"))
    with pytest.raises(ValidationError):
        services.rating_import_discard(rating_import=applied)


def test_another_users_import_is_not_found(user, movies):
    rating_import = preview(user, "2024-01-01,Heat,1995,u,4")
    other = UserFactory(username="other")
    assert selectors.rating_import_get(user=other, import_id=rating_import.pk) is None
    assert selectors.rating_import_get(user=user, import_id=rating_import.pk) == rating_import
