"""A group's movie list: the aggregation over every member's folded-in predictions, the fallbacks, the filters,
and the cache that reacts to any member's change at once."""

import random

import numpy as np
import pytest

from catalog.models import Genre, Movie
from catalog.selectors import movie_in_bulk_cached
from movienight.ranking import AVERAGE, LEAST_MISERY
from movienight.selectors import group_get_for_member, group_movie_list
from ratings.services import not_interested_add, rating_upsert
from recommendations import foldin
from recommendations.selectors import predicted_rating
from tests.factories import MovieFactory, UserFactory, make_active_run

from .conftest import make_group

pytestmark = pytest.mark.django_db


def _list(group, user, **kwargs):
    kwargs = {"aggregation": AVERAGE, "min_ratings": 0, "limit": 100} | kwargs
    return group_movie_list(view=group_get_for_member(user=user, group_id=group.pk), **kwargs)


def _ids(result) -> list[int]:
    return [item.movie.pk for item in result.items]


def _comedy_and_drama_fans(catalogue, alice, bob):
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]
    for movie, stars in [(comedies[0], 5), (comedies[1], 5), (dramas[0], 1)]:
        rating_upsert(user=alice, movie=movie, value=stars)
    for movie, stars in [(dramas[1], 5), (dramas[2], 4.5), (comedies[2], 1.5)]:
        rating_upsert(user=bob, movie=movie, value=stars)


def test_a_group_of_one_is_that_persons_own_predictions_without_their_rated_or_hidden_movies(
    catalogue, stars_run, alice
):
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]
    for movie, stars in [(comedies[0], 5), (comedies[1], 4.5), (dramas[0], 1)]:
        rating_upsert(user=alice, movie=movie, value=stars)
    not_interested_add(user=alice, movie=comedies[2])
    group = make_group(alice)

    result = _list(group, alice)

    assert result.personal and result.run == stars_run and result.not_counted == []
    left = [m for m in Movie.objects.all() if m not in (comedies[0], comedies[1], dramas[0], comedies[2])]
    mine = {m.pk: predicted_rating(user=alice, movie=m) for m in left}
    assert _ids(result) == sorted(mine, key=lambda pk: (-round(mine[pk], 9), pk))
    for item in result.items:
        (prediction,) = item.predictions
        assert prediction.member.username == "alice"
        assert prediction.stars == pytest.approx(mine[item.movie.pk])
        assert item.score == item.average == item.least == pytest.approx(mine[item.movie.pk])


def test_least_misery_puts_movies_everyone_likes_first_where_the_average_does_not(catalogue, stars_run, alice, bob):
    _comedy_and_drama_fans(catalogue, alice, bob)
    group = make_group(alice, bob)
    middles = {m.pk for m in catalogue["middles"]}

    average = _list(group, bob, aggregation=AVERAGE)
    misery = _list(group, bob, aggregation=LEAST_MISERY)

    assert set(_ids(average)) == set(_ids(misery))
    assert set(_ids(misery)[:3]) == middles  # nobody's favourite, nobody's misery
    assert not set(_ids(average)[:3]) & middles  # one member's delight outweighs the other's dislike
    for result, key in [(average, lambda i: (i.average, i.least)), (misery, lambda i: (i.least, i.average))]:
        for item in result.items:
            stars = [p.stars for p in item.predictions]
            assert [p.member.username for p in item.predictions] == ["alice", "bob"]
            assert item.average == pytest.approx(np.mean(stars)) and item.least == pytest.approx(min(stars))
        keys = [key(item) for item in result.items]
        assert keys == sorted(keys, reverse=True)
    assert [i.score for i in misery.items] == [i.least for i in misery.items]


def test_the_list_reacts_at_once_to_any_members_new_rating_or_hidden_movie(catalogue, stars_run, alice, bob):
    _comedy_and_drama_fans(catalogue, alice, bob)
    group = make_group(alice, bob)
    before = _list(group, alice)
    assert _list(group, alice) == before  # from the cache
    first = before.items[0].movie

    rating_upsert(user=bob, movie=first, value=0.5)
    after = _list(group, alice)
    assert first.pk not in _ids(after)
    changed = {i.movie.pk: i.predictions[1].stars for i in after.items}
    assert any(changed[i.movie.pk] != pytest.approx(i.predictions[1].stars) for i in before.items[1:])

    hidden = after.items[0].movie
    not_interested_add(user=alice, movie=hidden)
    assert hidden.pk not in _ids(_list(group, bob))


def test_a_member_joining_changes_the_list_at_once(catalogue, stars_run, alice, bob):
    _comedy_and_drama_fans(catalogue, alice, bob)
    group = make_group(alice)
    alone = _list(group, alice)
    from movienight.services import group_join

    group_join(user=bob, token=group.invite_token)
    together = _list(group, alice)
    assert [p.member.username for p in together.items[0].predictions] == ["alice", "bob"]
    assert _ids(together) != _ids(alone)


def test_twenty_members_match_one_fold_in_each_in_a_pinned_number_of_queries(db, django_assert_num_queries):
    rng = random.Random(15)
    movies = [MovieFactory(title=f"Film {i}", rating_count=30 + i % 50, rating_mean=3.5) for i in range(300)]
    factors = {m: [rng.uniform(-1, 1) for _ in range(4)] for m in movies}
    run = make_active_run(factors, stars={m: (rng.uniform(-0.5, 0.5), f) for m, f in factors.items()})
    members = [UserFactory(username=f"member{i:02}") for i in range(20)]
    for user in members[:19]:  # the last one has not rated anything: shown, not counted
        for movie in rng.sample(movies[:60], 5):
            rating_upsert(user=user, movie=movie, value=rng.choice([1, 2.5, 4, 5]))
    group = make_group(*members)
    view = group_get_for_member(user=members[0], group_id=group.pk)
    _list(group, members[0], aggregation=LEAST_MISERY)  # loads the factors and the filter mask
    movie_in_bulk_cached(movie_ids=[m.pk for m in movies])  # as earlier pages would have

    # the active run, its new movies; then, computing, all members' ratings and all members' hidden movies
    with django_assert_num_queries(4):
        result = group_movie_list(view=view, aggregation=AVERAGE, min_ratings=0, limit=100)
    with django_assert_num_queries(2):  # the active run, its new movies; the list comes from the cache
        assert group_movie_list(view=view, aggregation=AVERAGE, min_ratings=0, limit=100) == result

    model = foldin.stars_model_for_run(run)
    rated = {u.pk: {r.movie_id: float(r.value) for r in u.ratings.all()} for u in members[:19]}
    seen = set().union(*(r.keys() for r in rated.values()))
    candidates = [m.pk for m in movies if m.pk not in seen]
    assert len(candidates) >= 240
    by_member = np.array(
        [foldin.predict_stars(model=model, ratings=rated[u.pk], movie_ids=candidates) for u in members[:19]]
    )
    mean, least = by_member.mean(axis=0), by_member.min(axis=0)
    expected = sorted(range(len(candidates)), key=lambda j: (-round(mean[j], 9), -round(least[j], 9), candidates[j]))
    assert len(result.items) == 100
    assert _ids(result) == [candidates[j] for j in expected[:100]]
    for item, j in zip(result.items, expected, strict=False):
        assert [p.stars for p in item.predictions[:19]] == pytest.approx(by_member[:, j].tolist())
        assert item.predictions[19].stars is None
    assert [m.username for m in result.not_counted] == ["member19"]

    rating_upsert(user=members[5], movie=result.items[0].movie, value=3)
    view = group_get_for_member(user=members[0], group_id=group.pk)
    with django_assert_num_queries(4):  # a new taste version: computed again
        again = group_movie_list(view=view, aggregation=AVERAGE, min_ratings=0, limit=100)
    assert result.items[0].movie.pk not in _ids(again)


def test_without_a_serving_run_the_list_is_popular_movies_nobody_rated_or_hid(catalogue, alice, bob):
    comedies = catalogue["comedies"]
    rating_upsert(user=alice, movie=comedies[0], value=5)
    not_interested_add(user=bob, movie=comedies[1])
    result = _list(make_group(alice, bob), alice, limit=5)
    assert (result.personal, result.reason, result.run) == (False, "no_run", None)
    assert _ids(result) == [m.pk for m in comedies[2:6]] + [catalogue["dramas"][0].pk]
    assert all(i.score is None and i.predictions == [] for i in result.items)


def test_a_run_without_a_stars_model_gives_popular_movies(catalogue, alice):
    run = make_active_run(catalogue["factors"])  # one explicit model, as published before the stars model
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    result = _list(make_group(alice), alice)
    assert (result.personal, result.reason, result.run) == (False, "no_stars_model", run)


def test_while_no_member_has_ratings_the_list_is_popular(catalogue, stars_run, alice, bob):
    not_interested_add(user=bob, movie=catalogue["comedies"][0])
    result = _list(make_group(alice, bob), alice)
    assert (result.personal, result.reason) == (False, "no_ratings")
    assert catalogue["comedies"][0].pk not in _ids(result) and _ids(result)[0] == catalogue["comedies"][1].pk


def test_a_member_without_ratings_is_shown_but_not_counted(catalogue, stars_run, alice, bob):
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    group = make_group(alice, bob)
    result = _list(group, bob)
    solo = _list(make_group(alice, name="Alice alone"), alice)
    assert result.personal and [m.username for m in result.not_counted] == ["bob"]
    assert _ids(result) == _ids(solo)
    assert all(i.predictions[1].stars is None for i in result.items)


def test_a_group_that_rated_everything_popular_gets_what_is_left_or_nothing(catalogue, alice, bob):
    movies = list(Movie.objects.order_by("pk"))
    for i, movie in enumerate(movies):
        rating_upsert(user=alice if i % 2 else bob, movie=movie, value=4)
    group = make_group(alice, bob)
    assert _list(group, alice).items == []  # no run: no popular movie left
    run = make_active_run(catalogue["factors"], stars={m: (0.0, f) for m, f in catalogue["factors"].items()})
    result = _list(group, alice)
    assert result.personal and result.run == run and result.items == []


def test_the_genre_and_minimum_ratings_filters(catalogue, stars_run, alice, bob):
    _comedy_and_drama_fans(catalogue, alice, bob)
    group = make_group(alice, bob)
    family = Genre.objects.get(name="Family")
    assert set(_ids(_list(group, alice, genre=family))) == {m.pk for m in catalogue["middles"]}
    popular = _list(group, alice, min_ratings=95)
    assert set(_ids(popular)) == {m.pk for m in catalogue["comedies"][3:6]}  # rated by 97, 96 and 95
    assert _list(group, alice, genre=Genre(pk=0, name="Unknown")).items == []
    assert len(_list(group, alice, limit=4).items) == 4
