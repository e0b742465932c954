"""The taste version: bumped by database triggers on every change to a user's ratings or hidden movies."""

import pytest

from accounts.selectors import user_taste_version
from ratings.models import Rating
from ratings.services import (
    not_interested_add,
    not_interested_remove,
    rating_delete,
    rating_upsert,
    wishlist_add,
)
from tests.factories import MovieFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_every_rating_and_hidden_change_bumps_only_that_users_version():
    alice, bob = UserFactory(), UserFactory()
    movie, other = MovieFactory(), MovieFactory()
    seen = [user_taste_version(user=alice)]

    def changed() -> bool:
        seen.append(user_taste_version(user=alice))
        return seen[-1] > seen[-2]

    rating_upsert(user=alice, movie=movie, value=4)
    assert changed()
    rating_upsert(user=alice, movie=movie, value=2.5)
    assert changed()
    not_interested_add(user=alice, movie=other)
    assert changed()
    not_interested_remove(user=alice, movie=other)
    assert changed()
    rating_delete(user=alice, movie=movie)
    assert changed()
    wishlist_add(user=alice, movie=other)  # a wishlist does not change what is recommended
    assert not changed()
    assert user_taste_version(user=bob) == 0


def test_bulk_and_cascading_writes_bump_every_affected_user_once_per_statement():
    users = UserFactory.create_batch(3)
    movies = MovieFactory.create_batch(2)
    Rating.objects.bulk_create(
        [Rating(user=u, movie=m, value=3, rated_at="2020-01-01T00:00:00Z") for u in users for m in movies]
    )
    assert [user_taste_version(user=u) for u in users] == [1, 1, 1]

    movies[0].delete()  # cascades to the ratings of every user
    assert [user_taste_version(user=u) for u in users] == [2, 2, 2]
