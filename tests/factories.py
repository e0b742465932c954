from datetime import UTC, datetime
from decimal import Decimal

import factory

from accounts.models import User
from catalog.models import Genre, Movie
from ratings.models import Rating
from recommendations.models import ItemFactor, SimilarMovie, StarsItemFactor, TrainingRun


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

    # Far above the small ids tests give movies on purpose (1, 2571…): a sequence that reached one of them
    # collided with it, depending on how many tests ran before.
    id = factory.Sequence(lambda n: n + 1_000_000)
    title = factory.Sequence(lambda n: f"Movie {n} (2000)")
    year = 2000


class RatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rating

    user = factory.SubFactory(UserFactory)
    movie = factory.SubFactory(MovieFactory)
    value = Decimal("4.0")
    rated_at = factory.LazyFunction(lambda: datetime(2024, 1, 1, tzinfo=UTC))


def make_active_run(
    factors_by_movie: dict,
    *,
    reg_param: float = 0.1,
    similar: dict | None = None,
    stars: dict | None = None,
    global_mean: float = 3.5,
    list_alpha: float = 1.0,
    list_center: float = 3.0,
) -> TrainingRun:
    """An active succeeded run with the given item factors {movie: [floats]} and similar lists {movie: [movies]}.

    Without `stars`, a run of one explicit model (as published before the stars model). With `stars`
    {movie: (bias, [floats])}, a two-model run: the item factors are the implicit list model's (alpha
    `list_alpha`, centre `list_center`) and `stars` with `global_mean` the stars model's.
    """
    parameters = {"reg_param": reg_param, "rank": 2}
    if stars is not None:
        parameters |= {
            "bias_reg_user": 5.0,
            "list_rank": 2,
            "list_reg_param": reg_param,
            "list_alpha": list_alpha,
            "list_center": list_center,
        }
    run = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED,
        is_active=True,
        parameters=parameters,
        global_mean=global_mean if stars is not None else None,
    )
    StarsItemFactor.objects.bulk_create(
        [
            StarsItemFactor(run=run, movie=movie, bias=bias, factors=list(values))
            for movie, (bias, values) in (stars or {}).items()
        ]
    )
    ItemFactor.objects.bulk_create(
        [ItemFactor(run=run, movie=movie, factors=list(values)) for movie, values in factors_by_movie.items()]
    )
    SimilarMovie.objects.bulk_create(
        [
            SimilarMovie(run=run, movie=movie, similar=other, rank=rank, score=1.0 - rank / 10)
            for movie, others in (similar or {}).items()
            for rank, other in enumerate(others, start=1)
        ]
    )
    return run


def two_taste_catalogue() -> dict:
    """Six comedies whose factors point one way and six dramas pointing the other, all well rated."""
    comedy, drama = GenreFactory(name="Comedy"), GenreFactory(name="Drama")
    comedies = [
        MovieFactory(title=f"Comedy {i} (199{i})", year=1990 + i, rating_count=100 - i, rating_mean=3.5)
        for i in range(6)
    ]
    dramas = [
        MovieFactory(title=f"Drama {i} (198{i})", year=1980 + i, rating_count=90 - i, rating_mean=3.6) for i in range(6)
    ]
    for movie in comedies:
        movie.genres.add(comedy)
    for movie in dramas:
        movie.genres.add(drama)
    factors = {m: [1.8 - 0.05 * i, 0.1] for i, m in enumerate(comedies)}
    factors |= {m: [0.1, 1.8 - 0.05 * i] for i, m in enumerate(dramas)}
    return {"comedy": comedy, "drama": drama, "comedies": comedies, "dramas": dramas, "factors": factors}


def long_tail(factors: dict, count: int = 12) -> dict:
    """`factors` with `count` little-known movies (30 ratings each: past the pages' default minimum of 25; no genre)
    added, as a real catalogue's long tail: they bring the average rating count down and span the list model's
    scores (vectors pointing away from every taste), as the candidates of a real catalogue do."""
    tail = [
        MovieFactory(title=f"Little known {i} (2000)", year=2000, rating_count=30, rating_mean=3.0)
        for i in range(count)
    ]
    return factors | {movie: [-1.0, -1.0] for movie in tail}
