import pytest

from recommendations import foldin
from recommendations.models import ItemFactor, TrainingRun
from tests.factories import GenreFactory, MovieFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_foldin_cache():
    foldin.foldin_cache_clear()
    yield
    foldin.foldin_cache_clear()


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def make_active_run(factors_by_movie: dict, *, reg_param: float = 0.1) -> TrainingRun:
    """An active succeeded run whose item factors are the given {movie: [floats]}."""
    run = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED, is_active=True, parameters={"reg_param": reg_param, "rank": 2}
    )
    ItemFactor.objects.bulk_create(
        [ItemFactor(run=run, movie=movie, factors=list(values)) for movie, values in factors_by_movie.items()]
    )
    return run


@pytest.fixture
def two_taste_catalogue(db):
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
