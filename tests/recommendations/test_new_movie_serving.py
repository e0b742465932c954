"""New movies served without a retrain (recommendations.cold_items): a movie the serving run has not trained gets
factors from the run's content map, then from its raters (the item fold-in), and shows up, labelled new, in the
recommendations of people it suits (stored top-N and fold-in alike), in similar-movie lists both ways, with
predicted stars; each rating moves it (its rating version changes the cache key)."""

import numpy as np
import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.selectors import user_taste_version
from catalog.models import Movie
from catalog.selectors import movie_content_list
from ratings.services import rating_upsert
from recommendations import cold_items
from recommendations.content import ContentParams, ModelTerms, content_map_learn
from recommendations.models import ContentMap, Recommendation, StarsUserFactor, UserFactor
from recommendations.selectors import (
    cold_item_counts,
    predicted_rating,
    recommendation_list_for_user_fresh,
    similar_movie_list,
)
from tests.factories import MovieFactory, UserFactory, make_active_run, two_taste_catalogue

pytestmark = pytest.mark.django_db
TOP_N = 6
# Users' list factors on the scale of the catalogue's item factors (1.8): a handful of ratings can move a movie.
COMEDY_FAN, DRAMA_FAN = [0.3, 0.015], [0.015, 0.3]


@pytest.fixture
def world():
    catalogue = two_taste_catalogue()
    movies = catalogue["comedies"] + catalogue["dramas"]
    stars = {m: (0.2, [0.6, 0.0]) for m in catalogue["comedies"]} | {m: (0.2, [0.0, 0.6]) for m in catalogue["dramas"]}
    similar = {catalogue["comedies"][0]: catalogue["comedies"][1:4]}
    run = make_active_run(catalogue["factors"], stars=stars, global_mean=3.0, similar=similar, list_alpha=2.0)
    run.parameters |= {"top_n": TOP_N, "bias_reg_item": 3.0}
    run.save(update_fields=["parameters"])
    # The run's content map, learned from its own trained movies (genres tell comedies from dramas).
    contents = {c.movie_id: c for c in movie_content_list(movie_ids=[m.pk for m in movies])}
    terms = ModelTerms(
        movie_ids=np.array([m.pk for m in movies], dtype=np.int64),
        list_factors=np.array([catalogue["factors"][m] for m in movies], dtype=np.float32),
        stars_factors=np.array([stars[m][1] for m in movies], dtype=np.float32),
        stars_biases=np.array([stars[m][0] for m in movies]),
    )
    content_map, reason = content_map_learn(
        terms=terms,
        rating_counts=np.full(len(movies), 100),
        contents=[contents[m.pk] for m in movies],
        params=ContentParams(min_movies=5, min_ratings=1, min_df=1),
    )
    assert content_map is not None, reason
    ContentMap.objects.create(
        run=run, data=content_map.to_bytes(), movies_learned=len(movies), features=len(content_map.vocabulary)
    )
    people = {}
    for name, taste in [("alice", COMEDY_FAN)] + [(f"fan{i}", COMEDY_FAN) for i in range(4)] + [("dora", DRAMA_FAN)]:
        person = UserFactory(username=name)
        favourite = catalogue["comedies"][5] if taste is COMEDY_FAN else catalogue["dramas"][5]
        rating_upsert(user=person, movie=favourite, value=5)
        UserFactor.objects.create(run=run, user=person, taste_version=user_taste_version(user=person), factors=taste)
        StarsUserFactor.objects.create(run=run, user=person, bias=0.1, factors=[6 * f for f in taste])
        people[name] = person
    # Alice's stored top-N: the run's best movies for her, those she has not rated (what the retrain published).
    Recommendation.objects.bulk_create(
        Recommendation(run=run, user=people["alice"], movie=movie, rank=rank, score=4.0)
        for rank, movie in enumerate(catalogue["comedies"][:5] + catalogue["dramas"][:1], start=1)
    )
    Recommendation.objects.bulk_create(
        Recommendation(run=run, user=people["dora"], movie=movie, rank=rank, score=4.0)
        for rank, movie in enumerate(catalogue["dramas"][:5] + catalogue["comedies"][:1], start=1)
    )
    comedy = catalogue["comedy"]
    new = MovieFactory(title="Brand New Comedy (2026)", year=2026)
    new.genres.add(comedy)
    return {**catalogue, "run": run, "new": new, "people": people}


def _items(user, limit=TOP_N, **kwargs):
    result = recommendation_list_for_user_fresh(user=user, limit=limit, **kwargs)
    assert result.personal
    return result.items


def _place(items, movie):
    return next((i for i, item in enumerate(items) if item.movie.pk == movie.pk), None)


def test_a_new_movie_is_recommended_labelled_new_from_the_stored_top_n_and_the_fold_in(world):
    alice, dora, new = world["people"]["alice"], world["people"]["dora"], world["new"]
    stored = _items(alice)  # unchanged since the run: her stored rows, the new comedy merged in
    assert _place(stored, new) is not None and stored[_place(stored, new)].new
    assert [item.new for item in stored].count(True) == 1
    assert stored[_place(stored, new)].score is not None  # predicted stars from the stars model's prior
    folded = _items(alice, genre=world["comedy"])  # a genre filter always folds in
    assert _place(folded, new) is not None and folded[_place(folded, new)].new
    assert _place(_items(alice, genre=world["drama"]), new) is None  # the list stays correct with filters
    assert _place(_items(dora, limit=5), new) is None  # a drama fan gets her dramas first
    assert _place(_items(dora), new) == 5  # and the new comedy above the trained comedy she likes least
    assert predicted_rating(user=alice, movie=new) is not None


def test_similar_lists_both_ways_include_the_new_movie(world):
    new, first_comedy = world["new"], world["comedies"][0]
    of_new = similar_movie_list(movie=new, limit=5)
    assert of_new and {item.similar.pk for item in of_new} <= {m.pk for m in world["comedies"]}
    of_trained = similar_movie_list(movie=first_comedy, limit=3)
    assert new.pk in [item.similar.pk for item in of_trained]
    assert [item.new for item in of_trained if item.similar.pk == new.pk] == [True]
    assert [item.rank for item in of_trained] == [1, 2, 3]


def test_ratings_move_a_new_movie_and_a_deleted_one_is_gone(world):
    alice, new = world["people"]["alice"], world["new"]
    fans = [world["people"][f"fan{i}"] for i in range(4)]
    factors_before = cold_items.cold_items_for_run(world["run"]).list_matrix[0].copy()
    stars_before = predicted_rating(user=alice, movie=new)
    version_before = Movie.objects.values_list("rating_version", flat=True).get(pk=new.pk)
    assert _place(_items(alice), new) == 5  # from its content alone: below the comedies she was trained to love
    for fan in fans:  # people of her taste love it
        rating_upsert(user=fan, movie=new, value=5)
    assert Movie.objects.values_list("rating_version", flat=True).get(pk=new.pk) == version_before + len(fans)
    cold = cold_items.cold_items_for_run(world["run"])
    assert cold.ratings_used.tolist() == [len(fans)]
    assert cold.list_matrix[0][0] > factors_before[0]  # towards its raters' taste
    assert predicted_rating(user=alice, movie=new) > stars_before
    items = _items(alice)  # alice is unchanged since the run: her stored list, merged
    assert _place(items, new) == 0 and items[0].new
    assert cold_item_counts().folded_in == 1 and cold_item_counts().content_only == 0

    Movie.objects.filter(pk=new.pk).delete()
    assert all(item.movie.pk != new.pk for item in _items(alice, genre=world["comedy"]))
    assert all(item.movie.pk != new.pk for item in _items(alice))
    assert cold_item_counts().movies == 0


def test_the_staff_page_counts_the_new_movies_served(world, client):
    client.force_login(UserFactory(username="staff", is_staff=True))
    rating_upsert(user=world["people"]["fan0"], movie=world["new"], value=4)
    MovieFactory(title="Another New One (2026)")  # no rating: its content alone
    body = client.get(reverse("staff_runs")).content.decode()
    assert "New movies it serves without having trained them: <strong>2</strong>" in body
    assert "(1 from the content map alone, 1 folded in from their ratings since)" in body


def _api_items(client, **params):
    body = client.get(reverse("api:my_recommendations"), {"n": TOP_N, "min_ratings": 0, **params}).json()
    assert body["personal"]
    return [(item["movie"]["id"], item["new"]) for item in body["results"]]


def test_the_api_asks_for_new_movies_in_the_token_query_and_never_serves_them_stale(world, django_assert_num_queries):
    """The recommendations API reads the run's new movies in the token's query (cold_items.cold_probe_sql): no
    query of their own, and a movie added or rated since is in the very next answer, as the selector's own query
    gives it."""
    alice, new = world["people"]["alice"], world["new"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    first = _api_items(client)  # the process's first look: which movies the run has not trained
    assert (new.pk, True) in first
    # token (with the user, the active run, its new movies and her stored rows), her hidden movies (a new movie
    # enters the list); no query for the new movies or the stored rows
    with django_assert_num_queries(2):
        assert _api_items(client) == first

    newer = MovieFactory(title="Newer Comedy (2026)", year=2026)  # added since: a higher id
    newer.genres.add(world["comedy"])
    items = _api_items(client, n=TOP_N + 1)  # the two new comedies tie: below the five she was trained to love
    assert items[-2:] == [(new.pk, True), (newer.pk, True)]
    selector = _items(alice, limit=TOP_N + 1, min_ratings=0)  # asks for the new movies with a query of its own
    assert items == [(item.movie.pk, item.new) for item in selector]

    for fan in [world["people"][f"fan{i}"] for i in range(4)]:  # its rating version changes: its terms move
        rating_upsert(user=fan, movie=newer, value=5)
    assert _api_items(client)[0] == (newer.pk, True)

    Movie.objects.filter(pk=newer.pk).delete()
    assert all(movie_id != newer.pk for movie_id, _ in _api_items(client))


def test_the_api_serves_new_movies_after_the_base_is_refreshed_and_none_without_a_run(world):
    """A probe built on a base since refreshed is not used (the process asks again); no active run, no probe."""
    alice, new = world["people"]["alice"], world["new"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    _api_items(client)
    generation = cold_items._bases[world["run"].pk][3]
    cold_items._bases[world["run"].pk] = (0.0, *cold_items._bases[world["run"].pk][1:])  # expired
    assert (new.pk, True) in _api_items(client)
    assert cold_items._bases[world["run"].pk][3] != generation  # refreshed, and the new movie still served
    world["run"].__class__.objects.filter(pk=world["run"].pk).update(is_active=False)
    assert client.get(reverse("api:my_recommendations")).json()["run"] is None


def test_the_staff_counts_do_not_check_the_whole_catalogue_on_every_view(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommendations.models import ItemFactor

    cold_items.cold_items_cache_clear()
    assert cold_item_counts() == cold_item_counts()  # the first reads the process's base of untrained movies
    with CaptureQueriesContext(connection) as queries:
        counts = cold_item_counts()
    assert counts.movies == 1 and counts.content_only == 1 and counts.folded_in == 0  # the new movie, no raters yet
    # The anti-join of every movie against the run's factors (59,047 probes at ML-25M) is not run per view.
    assert not [q["sql"] for q in queries.captured_queries if ItemFactor._meta.db_table in q["sql"]]
    added = MovieFactory()  # added since: counted at once, not after the base's 60 s
    assert cold_item_counts().movies == 2 and added.pk in cold_items.untrained_movie_ids(world["run"])
