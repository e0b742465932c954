from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from ratings.models import Rating, WishlistEntry
from ratings.selectors import rating_list_for_user
from ratings.services import (
    not_interested_add,
    not_interested_remove,
    rating_delete,
    rating_upsert,
    wishlist_add,
    wishlist_remove,
)
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_rating_upsert_creates_then_replaces_the_one_rating():
    user, movie = UserFactory(), MovieFactory()
    first = rating_upsert(user=user, movie=movie, value="3.5")
    second = rating_upsert(user=user, movie=movie, value=Decimal("4"))
    assert first.pk == second.pk
    assert Rating.objects.get(user=user, movie=movie).value == Decimal("4.0")
    assert second.rated_at >= first.rated_at


@pytest.mark.parametrize("value", ["0", "5.5", "3.3", "abc", "", None])
def test_rating_upsert_rejects_invalid_values_and_writes_nothing(value):
    rating = RatingFactory(value=Decimal("2.0"))
    with pytest.raises(ValidationError) as excinfo:
        rating_upsert(user=rating.user, movie=rating.movie, value=value)
    assert "half" in " ".join(excinfo.value.messages)
    assert Rating.objects.get(pk=rating.pk).value == Decimal("2.0")


def test_rating_delete_reports_whether_there_was_a_rating():
    rating = RatingFactory()
    assert rating_delete(user=rating.user, movie=rating.movie) is True
    assert rating_delete(user=rating.user, movie=rating.movie) is False


def test_rating_a_movie_takes_it_off_the_wishlist():
    user, movie = UserFactory(), MovieFactory()
    wishlist_add(user=user, movie=movie)
    wishlist_add(user=user, movie=movie)  # idempotent
    rating_upsert(user=user, movie=movie, value=4)
    assert not WishlistEntry.objects.filter(user=user).exists()
    assert wishlist_remove(user=user, movie=movie) is False


def test_not_interested_is_idempotent_and_reversible():
    user, movie = UserFactory(), MovieFactory()
    not_interested_add(user=user, movie=movie)
    not_interested_add(user=user, movie=movie)
    assert not_interested_remove(user=user, movie=movie) is True
    assert not_interested_remove(user=user, movie=movie) is False


@pytest.mark.parametrize(
    ("sort", "expected"),
    [("title", ["A", "B", "C"]), ("-title", ["C", "B", "A"]), ("value", ["B", "C", "A"]), ("date", ["C", "A", "B"])],
)
def test_rating_list_for_user_sorts(sort, expected):
    user = UserFactory()
    for title, value, day in [("A", "1", 2), ("B", "5", 1), ("C", "3", 3)]:
        RatingFactory(
            user=user, movie=MovieFactory(title=title), value=Decimal(value), rated_at=f"2024-01-0{day}T00:00Z"
        )
    RatingFactory(movie=MovieFactory(title="Someone else's"))
    assert [r.movie.title for r in rating_list_for_user(user=user, sort=sort)] == expected
