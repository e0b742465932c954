from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ratings.models import Rating, validate_rating_value
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["0.5", "1", "2.5", "5.0"])
def test_half_star_values_are_accepted(value):
    rating = RatingFactory(value=Decimal(value))
    rating.full_clean()
    assert Rating.objects.get(pk=rating.pk).value == Decimal(value)


@pytest.mark.parametrize("value", ["0", "0.7", "5.5", "-1", "4.25"])
def test_database_rejects_values_outside_half_steps(value):
    user, movie = UserFactory(), MovieFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(user=user, movie=movie, value=Decimal(value), rated_at="2024-01-01T00:00Z")


@pytest.mark.parametrize("value", ["0", "0.7", "5.5", "abc", "nan", None])
def test_validation_explains_the_half_star_rule(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_rating_value(value)
    assert "half" in str(excinfo.value)


def test_one_rating_per_user_and_movie():
    rating = RatingFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(user=rating.user, movie=rating.movie, value=3, rated_at=rating.rated_at)
