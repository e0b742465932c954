import pytest

from movienight.services import group_create, group_join
from tests.factories import GenreFactory, MovieFactory, UserFactory, make_active_run, two_taste_catalogue

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Liddell")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def carol(db):
    return UserFactory(username="carol")


@pytest.fixture
def outsider(db):
    return UserFactory(username="mallory")


def make_group(owner, *others, name: str = "Film club"):
    group = group_create(user=owner, name=name)
    for user in others:
        group_join(user=user, token=group.invite_token)
    return group


@pytest.fixture
def catalogue(db):
    """two_taste_catalogue (six comedies, six dramas), plus three crowd-pleasers liked by both tastes alike."""
    cat = two_taste_catalogue()
    family = GenreFactory(name="Family")
    middles = [
        MovieFactory(title=f"Crowd-pleaser {i} (200{i})", year=2000 + i, rating_count=50 - i, rating_mean=3.4)
        for i in range(3)
    ]
    for movie in middles:
        movie.genres.add(family)
    cat["middles"] = middles
    cat["factors"] |= {m: [1.0 - 0.05 * i, 1.0 - 0.05 * i] for i, m in enumerate(middles)}
    return cat


@pytest.fixture
def stars_run(catalogue):
    """A two-model run: the list model and the stars model share the catalogue's factors (no movie biases)."""
    return make_active_run(catalogue["factors"], stars={m: (0.0, f) for m, f in catalogue["factors"].items()})
