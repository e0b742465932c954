import pytest
from django.core.cache import cache
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from recommendations import foldin
from recommendations.models import ItemFactor, SimilarMovie, TrainingRun
from tests.factories import GenreFactory, MovieFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_caches():
    # Throttle counters live in the default cache and fold-in keeps factors per process: start clean.
    cache.clear()
    foldin.foldin_cache_clear()
    yield
    cache.clear()
    foldin.foldin_cache_clear()


@pytest.fixture
def anon():
    return APIClient()


def client_for(user) -> APIClient:
    """An API client authenticating with the user's token, as a real client would."""
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def staff(db):
    return UserFactory(username="root", is_staff=True)


@pytest.fixture
def alice_client(alice):
    return client_for(alice)


@pytest.fixture
def bob_client(bob):
    return client_for(bob)


@pytest.fixture
def staff_client(staff):
    return client_for(staff)


def make_active_run(factors_by_movie: dict, *, reg_param: float = 0.1, similar: dict | None = None) -> TrainingRun:
    """An active succeeded run with the given item factors {movie: [floats]} and similar lists {movie: [movies]}."""
    run = TrainingRun.objects.create(
        status=TrainingRun.Status.SUCCEEDED, is_active=True, parameters={"reg_param": reg_param, "rank": 2}
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


@pytest.fixture
def catalogue(db):
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


@pytest.fixture
def active_run(catalogue):
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]
    return make_active_run(catalogue["factors"], similar={comedies[0]: comedies[1:4], dramas[0]: dramas[1:3]})
