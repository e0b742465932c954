from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ratings.models import NotInterested, WishlistEntry
from tests.factories import MovieFactory, RatingFactory, UserFactory

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def alice_data(alice, bob):
    """Alice's ratings (one a title a spreadsheet would run), wishlist and hidden movie; Bob rates too."""
    toy = MovieFactory(id=1, title="Toy Story (1995)", year=1995, imdb_id="0114709", tmdb_id=862)
    matrix = MovieFactory(id=2571, title="Matrix, The (1999)", year=1999, imdb_id="0133093", tmdb_id=603)
    formula = MovieFactory(id=7, title='=HYPERLINK("http://evil.example","click") (2001)', year=2001)
    unknown = MovieFactory(id=9, title='@Home, with "quotes", and\nnewline', year=None, imdb_id="", tmdb_id=None)
    RatingFactory(user=alice, movie=toy, value=Decimal("4.5"), rated_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC))
    RatingFactory(
        user=alice, movie=matrix, value=Decimal("0.5"), rated_at=datetime(2024, 2, 1, 10, 0, 0, 123456, tzinfo=UTC)
    )
    RatingFactory(user=alice, movie=formula, value=Decimal("3.0"), rated_at=datetime(2024, 3, 1, tzinfo=UTC))
    RatingFactory(user=bob, movie=toy, value=Decimal("1.0"))
    WishlistEntry.objects.create(user=alice, movie=unknown)
    NotInterested.objects.create(user=alice, movie=MovieFactory(id=11, title="+Plus (2010)", year=2010))
    return {"toy": toy, "matrix": matrix, "formula": formula, "unknown": unknown}
