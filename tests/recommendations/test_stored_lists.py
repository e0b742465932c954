"""The stored top-N serves users whose ratings and hidden movies are those of the run's export; anyone else is
folded in. (tests/spark_engine/test_pipeline.py checks on a real retrain that both paths give the same list.)"""

import pytest

from accounts.selectors import user_taste_version
from ratings.services import not_interested_add, rating_upsert
from recommendations.models import Recommendation, UserFactor
from recommendations.selectors import recommend_for_user, recommendation_list_for_user_fresh
from tests.factories import UserFactory, make_active_run, two_taste_catalogue

pytestmark = pytest.mark.django_db
TOP_N = 4


@pytest.fixture
def catalogue():
    return two_taste_catalogue()


@pytest.fixture
def run(catalogue):
    movies = catalogue["comedies"] + catalogue["dramas"]
    stars = {movie: (0.1 * i - 0.5, [0.0, 0.0]) for i, movie in enumerate(movies)}
    run = make_active_run(catalogue["factors"], stars=stars, global_mean=3.0)
    run.parameters |= {"top_n": TOP_N}
    run.save(update_fields=["parameters"])
    return run


@pytest.fixture
def alice(catalogue):
    alice = UserFactory(username="alice")
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    return alice


def _store(run, user, rows, *, taste_version="current"):
    """Publish `rows` [(movie, stars)] as the user's stored top-N, with their taste version as the export saw it."""
    version = user_taste_version(user=user) if taste_version == "current" else taste_version
    UserFactor.objects.create(run=run, user=user, taste_version=version, factors=[0.0, 0.0])
    Recommendation.objects.bulk_create(
        Recommendation(run=run, user=user, movie=movie, rank=rank, score=stars)
        for rank, (movie, stars) in enumerate(rows, start=1)
    )


def _served(user, **filters) -> list[tuple[int, float | None]]:
    result = recommendation_list_for_user_fresh(user=user, **{"min_ratings": 0, **filters})
    assert result.personal
    return [(item.movie.pk, item.score) for item in result.items]


def _marker(catalogue):
    """A stored list no fold-in would give (dramas for a comedy lover, one star each): shows which path served."""
    return [(movie, 1.0) for movie in catalogue["dramas"][:TOP_N]]


def _ids(rows) -> list[tuple[int, float]]:
    return [(movie.pk, stars) for movie, stars in rows]


def test_an_unchanged_user_gets_the_stored_rows_in_one_query(alice, catalogue, run, django_assert_num_queries):
    movies = {movie.pk: movie for movie in catalogue["comedies"] + catalogue["dramas"]}
    folded = recommend_for_user(user=alice, run=run, limit=TOP_N)
    _store(run, alice, [(movies[s.movie_id], s.score) for s in folded])
    version = user_taste_version(user=alice)
    recommendation_list_for_user_fresh(user=alice, limit=3, min_ratings=0)  # the movies into the movie cache

    # the active run, its new movies (one indexed query), the stored rows (with the check of the user's taste
    # version)
    with django_assert_num_queries(3):
        result = recommendation_list_for_user_fresh(user=alice, limit=3, min_ratings=0, taste_version=version)

    assert [(item.movie.pk, item.score) for item in result.items] == [(s.movie_id, s.score) for s in folded[:3]]
    assert result.personal and result.run == run
    assert all(item.because is None for item in result.items)  # the stored rows name no "because" movie


def test_a_user_who_rates_is_folded_in_at_once(alice, catalogue, run):
    _store(run, alice, _marker(catalogue))
    assert _served(alice, limit=3) == _ids(_marker(catalogue)[:3])

    rating_upsert(user=alice, movie=catalogue["comedies"][1], value=4.5)

    served = _served(alice, limit=3)
    assert served == [(s.movie_id, s.score) for s in recommend_for_user(user=alice, run=run, limit=3)]
    assert [movie_id for movie_id, _ in served] == [m.pk for m in catalogue["comedies"][2:5]]


def test_a_user_who_hides_a_movie_is_folded_in_at_once(alice, catalogue, run):
    _store(run, alice, _marker(catalogue))
    not_interested_add(user=alice, movie=catalogue["comedies"][1])

    served = [movie_id for movie_id, _ in _served(alice, limit=3)]
    assert served == [m.pk for m in catalogue["comedies"][2:5]]


def test_a_run_without_taste_versions_is_folded_in(alice, catalogue, run):
    _store(run, alice, _marker(catalogue), taste_version=None)  # published before versions were recorded

    assert [movie_id for movie_id, _ in _served(alice, limit=3)] == [m.pk for m in catalogue["comedies"][1:4]]


def test_a_genre_filter_is_folded_in(alice, catalogue, run):
    _store(run, alice, _marker(catalogue))

    served = _served(alice, limit=2, genre=catalogue["drama"])

    folded = recommend_for_user(user=alice, run=run, limit=2, genre_id=catalogue["drama"].pk)
    assert served == [(s.movie_id, s.score) for s in folded] != _ids(_marker(catalogue)[:2])


def test_min_ratings_filters_the_stored_rows_and_folds_in_when_too_few_are_left(alice, catalogue, run):
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]  # rated by 100-i and 90-i people
    stored = [(dramas[0], 1.0), (comedies[5], 1.5), (dramas[1], 2.0), (comedies[4], 2.5)]
    _store(run, alice, stored)

    assert _served(alice, limit=2, min_ratings=95) == [(comedies[5].pk, 1.5), (comedies[4].pk, 2.5)]
    # Three wanted, two left, and the stored list was cut at top_n: the third is not known, so fold in.
    assert [movie_id for movie_id, _ in _served(alice, limit=3, min_ratings=95)] == [m.pk for m in comedies[1:4]]
    # More than the stored list holds: fold in too.
    assert len(_served(alice, limit=TOP_N + 1)) == TOP_N + 1


def test_a_stored_list_shorter_than_top_n_is_complete(alice, catalogue, run):
    """Fewer rows than top_n means the user had no other unrated movie: the list is whole, whatever the limit."""
    _store(run, alice, _marker(catalogue)[:2])

    assert _served(alice, limit=10) == _ids(_marker(catalogue)[:2])


def test_a_user_with_every_movie_rated_keeps_an_empty_personal_list(alice, catalogue, run):
    _store(run, alice, [])

    result = recommendation_list_for_user_fresh(user=alice, limit=3)

    assert result.personal and result.items == []


def test_the_page_asks_stored_lists_to_name_the_rated_movie_behind_each_pick(alice, catalogue, run):
    """The web page explains itself on the stored path too: the same `because` as the fold-in, one query more."""
    rating_upsert(user=alice, movie=catalogue["dramas"][0], value=4)
    movies = {movie.pk: movie for movie in catalogue["comedies"] + catalogue["dramas"]}
    folded = recommend_for_user(user=alice, run=run, limit=TOP_N)
    _store(run, alice, [(movies[s.movie_id], s.score) for s in folded])

    plain = recommendation_list_for_user_fresh(user=alice, limit=TOP_N, min_ratings=0)
    explained = recommendation_list_for_user_fresh(user=alice, limit=TOP_N, min_ratings=0, explain=True)
    assert [item.because for item in plain.items] == [None] * TOP_N  # the API's stored path: no reason given
    assert [item.movie.pk for item in explained.items] == [s.movie_id for s in folded]
    assert [item.because.pk if item.because else None for item in explained.items] == [
        s.because_movie_id for s in folded
    ]
    assert any(item.because for item in explained.items)


def _read_with_token(user):
    from rest_framework.authtoken.models import Token

    from accounts.authentication import token_get_with_user
    from recommendations.selectors import SERVING_LIST_WITH_TOKEN

    key = Token.objects.get_or_create(user=user)[0].key
    return token_get_with_user(key=key, addition=SERVING_LIST_WITH_TOKEN).serving_read


def test_the_token_query_reads_the_stored_list_as_its_own_query_does(alice, catalogue, run):
    rows = _marker(catalogue)
    _store(run, alice, rows)
    read = _read_with_token(alice)
    assert read.run == run
    assert (read.stored.run_id, read.stored.user_id, read.stored.taste_version) == (
        run.pk,
        alice.pk,
        user_taste_version(user=alice),
    )
    assert read.stored.found and read.stored.rows == _ids(rows) and read.stored.user_factors == [0.0, 0.0]
    # Served from what the token read: the same answer as the selector's own query gives.
    assert (
        _served(alice, stored=read.stored, serving_run=read.run, limit=TOP_N)
        == _ids(rows)
        == _served(alice, limit=TOP_N)
    )

    rating_upsert(user=alice, movie=catalogue["comedies"][1], value=4)  # her taste moved on: the rows are not read
    read = _read_with_token(alice)
    assert not read.stored.found and read.stored.rows == [] and read.stored.user_factors is None
    folded = [(s.movie_id, s.score) for s in recommend_for_user(user=alice, run=run, limit=TOP_N)]
    assert _served(alice, stored=read.stored, serving_run=read.run, limit=TOP_N) == folded


def test_a_user_whose_every_movie_is_rated_or_hidden_has_a_stored_list_of_none(alice, catalogue, run):
    _store(run, alice, [])  # a factor row, no stored row
    read = _read_with_token(alice)
    assert read.stored.found and read.stored.rows == []


def test_a_stored_list_read_for_someone_else_is_never_served(alice, catalogue, run, django_assert_num_queries):
    bob = UserFactory(username="bob")
    rating_upsert(user=bob, movie=catalogue["dramas"][0], value=5)
    _store(run, bob, _marker(catalogue))
    bobs = _read_with_token(bob).stored
    folded = [(s.movie_id, s.score) for s in recommend_for_user(user=alice, run=run, limit=TOP_N)]
    assert _served(alice, stored=bobs, serving_run=run, limit=TOP_N) == folded
    # Nor at another taste version of the same user.
    _store(run, alice, _marker(catalogue))
    stale = _read_with_token(alice).stored
    rating_upsert(user=alice, movie=catalogue["comedies"][1], value=4)
    folded = [(s.movie_id, s.score) for s in recommend_for_user(user=alice, run=run, limit=TOP_N)]
    assert _served(alice, stored=stale, serving_run=run, limit=TOP_N) == folded


def test_the_token_query_names_the_users_columns_only():
    from accounts.authentication import token_user_column

    assert token_user_column("taste_version") == 'token."taste_version"'
    with pytest.raises(LookupError):
        token_user_column("key")  # not a field of the user model
