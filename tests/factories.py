from datetime import UTC, datetime
from decimal import Decimal

import factory

from accounts.models import User
from catalog.models import Genre, Movie
from ratings.models import Rating


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class MovieLensUserFactory(UserFactory):
    movielens_id = factory.Sequence(lambda n: n + 1)
    username = factory.LazyAttribute(lambda u: f"movielens-{u.movielens_id}")
    password = factory.LazyFunction(lambda: "!")


class GenreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Genre
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Genre {n}")


class MovieFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Movie

    id = factory.Sequence(lambda n: n + 1)
    title = factory.Sequence(lambda n: f"Movie {n} (2000)")
    year = 2000


class RatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rating

    user = factory.SubFactory(UserFactory)
    movie = factory.SubFactory(MovieFactory)
    value = Decimal("4.0")
    rated_at = factory.LazyFunction(lambda: datetime(2024, 1, 1, tzinfo=UTC))
