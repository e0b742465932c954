"""The content map: features, learning, its bytes, the item fold-in and a run's priors."""

from datetime import UTC, datetime

import numpy as np
import pytest

from catalog.models import MovieDetails, Tag
from catalog.selectors import MovieContent, movie_content_list
from recommendations.content import (
    ContentMap,
    ContentParams,
    ModelTerms,
    content_features,
    content_map_for_run,
    content_map_learn,
    content_prior,
    item_fold_in_list,
    item_fold_in_stars,
    vocabulary_learn,
)
from recommendations.foldin import foldin_cache_clear
from recommendations.models import ContentMap as ContentMapRecord
from tests.factories import GenreFactory, MovieFactory, MovieLensUserFactory, make_active_run

GENRES = ("Action", "Comedy", "Drama", "Horror")
PARAMS = ContentParams(min_movies=20, min_ratings=5, min_df=2)


def _content(movie_id, genres, *, year=2000, tags=None, title=None, overview="", directors=(), cast=()):
    return MovieContent(
        movie_id=movie_id,
        title=title or f"Movie {movie_id} (2000)",
        year=year,
        genres=tuple(genres),
        tags=tags or {},
        overview=overview,
        directors=tuple(directors),
        cast=tuple(cast),
    )


def _genre_world(n=200, seed=0):
    """Movies whose factors are a sum of per-genre vectors (and a year trend) plus a little noise."""
    rng = np.random.default_rng(seed)
    genre_vectors = {genre: rng.normal(size=4) for genre in GENRES}
    contents, factors, biases = [], [], []
    for movie_id in range(1, n + 1):
        genres = sorted(rng.choice(GENRES, size=rng.integers(1, 3), replace=False).tolist())
        year = int(rng.integers(1950, 2020))
        contents.append(_content(movie_id, genres, year=year, tags={genres[0].lower() + " classic": 2}))
        vector = sum(genre_vectors[g] for g in genres) / np.sqrt(len(genres)) + 0.02 * (year - 2000) / 25
        factors.append(vector + rng.normal(scale=0.05, size=4))
        biases.append(0.3 * ("Drama" in genres) - 0.4 * ("Horror" in genres) + rng.normal(scale=0.02))
    terms = ModelTerms(
        movie_ids=np.arange(1, n + 1, dtype=np.int64),
        list_factors=np.asarray(factors, dtype=np.float32),
        stars_factors=np.asarray(factors, dtype=np.float32)[:, :3] * 0.5,
        stars_biases=np.asarray(biases),
    )
    return contents, terms


def test_features_are_genres_decades_year_and_tfidf_words_unknown_terms_ignored():
    contents = [
        _content(1, ["Comedy"], year=1995, tags={"dark comedy": 3}),
        _content(2, ["Comedy", "Drama"], year=2003, tags={"dark": 1}, overview="A dark tale of war."),
        _content(3, ["Drama"], year=None, overview="War again."),
    ]
    vocabulary = vocabulary_learn(contents=contents, params=ContentParams(min_df=2))
    names = set(vocabulary.names)
    assert {"genre:Comedy", "genre:Drama", "decade:1990", "decade:2000", "decade:none", "year"} <= names
    assert "tag:dark" in names and "overview:war" in names
    assert "tag:comedy" not in names  # one movie only: below min_df
    features = content_features(contents=contents, vocabulary=vocabulary, params=ContentParams(min_df=2))
    index = vocabulary.index
    assert features[1, index["genre:Comedy"]] == pytest.approx(1 / np.sqrt(2))
    assert features[0, index["genre:Drama"]] == 0
    assert features[0, index["year"]] < 0 < features[1, index["year"]]
    assert features[2, index["year"]] == 0 and features[2, index["decade:none"]] > 0
    # one known word in the block: normalised to the block's weight
    assert features[0, index["tag:dark"]] == pytest.approx(ContentParams().tag_weight)
    unknown = content_features(
        contents=[_content(9, ["Western"], year=1890, tags={"zzz": 1})], vocabulary=vocabulary, params=ContentParams()
    )
    assert np.flatnonzero(unknown[0]).tolist() == [index["year"]]  # only the year: no known genre, decade or tag


def test_learned_map_predicts_factors_of_movies_it_never_saw():
    contents, terms = _genre_world(n=300)
    learn_rows = slice(0, 250)
    learning = ModelTerms(
        movie_ids=terms.movie_ids[learn_rows],
        list_factors=terms.list_factors[learn_rows],
        stars_factors=terms.stars_factors[learn_rows],
        stars_biases=terms.stars_biases[learn_rows],
    )
    content_map, reason = content_map_learn(
        terms=learning, rating_counts=np.full(250, 50), contents=contents[:250], params=PARAMS
    )
    assert reason == "" and content_map is not None
    assert content_map.movies_learned == 250 and content_map.has_stars
    assert content_map.fit["list_r2"] > 0.9 and content_map.fit["bias_r2"] > 0.8
    list_factors, bias, stars_factors = content_map.predict_contents(contents[250:])
    truth = terms.list_factors[250:]
    assert np.abs(list_factors - truth).mean() < 0.15
    assert np.abs(bias - terms.stars_biases[250:]).mean() < 0.06
    assert np.abs(stars_factors - terms.stars_factors[250:]).mean() < 0.1
    # and far better than predicting the mean factors
    assert np.abs(list_factors - truth).mean() < 0.3 * np.abs(truth - truth.mean(axis=0)).mean()


def test_map_learns_only_from_movies_with_enough_ratings_and_skips_with_a_reason():
    contents, terms = _genre_world(n=100)
    counts = np.where(np.arange(100) < 10, 50, 1)
    content_map, reason = content_map_learn(terms=terms, rating_counts=counts, contents=contents, params=PARAMS)
    assert content_map is None
    assert "only 10 movies with at least 5 ratings" in reason
    counts = np.where(np.arange(100) < 60, 50, 1)
    content_map, _ = content_map_learn(terms=terms, rating_counts=counts, contents=contents, params=PARAMS)
    assert content_map.movies_learned == 60


def test_a_run_without_a_stars_model_maps_list_factors_only():
    contents, terms = _genre_world(n=80)
    list_only = ModelTerms(movie_ids=terms.movie_ids, list_factors=terms.list_factors)
    content_map, _ = content_map_learn(terms=list_only, rating_counts=np.full(80, 9), contents=contents, params=PARAMS)
    assert not content_map.has_stars
    list_factors, bias, stars_factors = content_map.predict_contents(contents[:3])
    assert list_factors.shape == (3, 4) and stars_factors.shape == (3, 0) and not bias.any()


def test_bytes_round_trip_predicts_the_same():
    contents, terms = _genre_world(n=80)
    content_map, _ = content_map_learn(terms=terms, rating_counts=np.full(80, 9), contents=contents, params=PARAMS)
    again = ContentMap.from_bytes(content_map.to_bytes())
    assert again.vocabulary == content_map.vocabulary and again.params == content_map.params
    assert again.fit == content_map.fit and again.movies_learned == 80
    for a, b in zip(again.predict_contents(contents[:5]), content_map.predict_contents(contents[:5]), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises((ValueError, KeyError, OSError)):
        ContentMap.from_bytes(b"not a map")


def test_list_fold_in_is_the_prior_without_ratings_and_moves_toward_the_raters_with_more():
    rng = np.random.default_rng(1)
    users = rng.normal(size=(500, 3))
    gram = users.T @ users
    prior = np.array([0.1, -0.2, 0.3])
    kwargs = dict(users_gram=gram, reg_param=0.1, alpha=2.0, center=3.0, prior_strength=5.0)
    empty = item_fold_in_list(user_factors=np.zeros((0, 3)), values=np.zeros(0), prior=prior, **kwargs)
    np.testing.assert_allclose(empty, prior)
    # The raters who love it point one way: the more of them, the further from the prior toward that way.
    direction = np.array([1.0, 0.0, 0.0])
    fans = users[users @ direction > 1.0]
    distances = []
    for n in (1, 3, 10):
        v = item_fold_in_list(user_factors=fans[:n], values=np.full(n, 5.0), prior=prior, **kwargs)
        distances.append(float(v @ direction))
    assert prior @ direction < distances[0] < distances[1] < distances[2]


def test_list_fold_in_without_prior_is_sparks_implicit_item_step():
    rng = np.random.default_rng(2)
    users = rng.normal(size=(50, 3))
    gram = users.T @ users
    values = rng.choice([1.0, 2.0, 4.0, 5.0], size=8)
    raters = users[:8]
    v = item_fold_in_list(
        user_factors=raters, values=values, prior=np.zeros(3), users_gram=gram, reg_param=0.2, alpha=1.5, center=3.0,
        prior_strength=0.0,
    )  # fmt: skip
    c = 1.5 * np.abs(values - 3.0)
    a = gram + (raters.T * c) @ raters + 0.2 * (values > 3).sum() * np.eye(3)
    b = ((values > 3) * (1 + c)) @ raters
    np.testing.assert_allclose(v, np.linalg.solve(a, b))


def test_stars_fold_in_recovers_a_movie_from_exact_ratings_and_is_the_prior_without_any():
    rng = np.random.default_rng(3)
    users = rng.normal(size=(40, 3))
    user_biases = rng.normal(scale=0.3, size=40)
    true_v, true_b = np.array([0.5, -0.3, 0.2]), 0.4
    values = 3.5 + user_biases + true_b + users @ true_v
    kwargs = dict(global_mean=3.5, reg_param=0.0, reg_item=0.0, prior_strength=0.0)
    bias, v = item_fold_in_stars(
        user_factors=users, user_biases=user_biases, values=values, prior_bias=0.0, prior=np.zeros(3), **kwargs
    )
    # As the retrain: b_i is the mean residual after μ + b_u, then v the least-squares fit of what is left
    assert bias == pytest.approx(float((values - 3.5 - user_biases).mean()))
    np.testing.assert_allclose(v, np.linalg.lstsq(users, values - 3.5 - user_biases - bias, rcond=None)[0])
    assert np.abs(3.5 + user_biases + bias + users @ v - values).mean() < 0.1
    bias, v = item_fold_in_stars(
        user_factors=np.zeros((0, 3)), user_biases=np.zeros(0), values=np.zeros(0), prior_bias=-0.2,
        prior=np.array([1.0, 2.0, 3.0]), global_mean=3.5, reg_param=0.1, reg_item=3.0, prior_strength=2.0,
    )  # fmt: skip
    assert bias == -0.2 and v.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.django_db
def test_movie_content_reads_genres_tags_and_tmdb_details():
    comedy = GenreFactory(name="Comedy")
    movie = MovieFactory(title="Funny Thing, The (1999)", year=1999)
    movie.genres.add(comedy)
    user = MovieLensUserFactory()
    for text in ("Dark", "dark", "witty"):
        other = MovieLensUserFactory() if text == "dark" else user
        Tag.objects.create(movie=movie, user=other, tag=text, tagged_at=datetime(2024, 1, 1, tzinfo=UTC))
    MovieDetails.objects.create(
        movie=movie, tmdb_id=5, status="ok", fetched_at=datetime(2024, 1, 1, tzinfo=UTC), overview="Jokes.",
        directors=["Ann Director"], cast=["Bo Actor"],
    )  # fmt: skip
    bare = MovieFactory(year=None)
    (content, bare_content) = movie_content_list(movie_ids=[bare.pk, movie.pk, 12345])
    assert content.genres == ("Comedy",) and content.tags == {"dark": 2, "witty": 1}
    assert content.overview == "Jokes." and content.directors == ("Ann Director",) and content.cast == ("Bo Actor",)
    assert bare_content.year is None and bare_content.genres == () and bare_content.overview == ""


@pytest.mark.django_db
def test_content_prior_of_a_run_for_new_movies_cached_per_run():
    genres = {name: GenreFactory(name=name) for name in GENRES}
    contents, terms = _genre_world(n=60)
    movies = {}
    for content in contents:
        movie = MovieFactory(year=content.year)
        movie.genres.set([genres[g] for g in content.genres])
        movies[content.movie_id] = movie
    catalogue = {c.movie_id: c for c in movie_content_list(movie_ids=[m.pk for m in movies.values()])}
    db_contents = [catalogue[movies[c.movie_id].pk] for c in contents]
    db_terms = ModelTerms(
        movie_ids=np.asarray([movies[i].pk for i in terms.movie_ids.tolist()], dtype=np.int64),
        list_factors=terms.list_factors,
        stars_factors=terms.stars_factors,
        stars_biases=terms.stars_biases,
    )
    content_map, _ = content_map_learn(
        terms=db_terms, rating_counts=np.full(60, 9), contents=db_contents, params=PARAMS
    )
    run = make_active_run({movies[1]: [0.0] * 4})
    new = MovieFactory(year=1999)
    new.genres.set([genres["Horror"]])
    assert not content_prior(run=run, movie_ids=[new.pk]).found.any()  # no map yet
    foldin_cache_clear()
    ContentMapRecord.objects.create(
        run=run, data=content_map.to_bytes(), movies_learned=60, features=len(content_map.vocabulary)
    )
    prior = content_prior(run=run, movie_ids=[new.pk, 999_999_999, movies[2].pk])
    assert prior.found.tolist() == [True, False, True]
    expected_list, expected_bias, expected_stars = content_map.predict_contents(movie_content_list(movie_ids=[new.pk]))
    np.testing.assert_allclose(prior.list_factors[0], expected_list[0], rtol=1e-6)
    assert prior.stars_bias[0] == pytest.approx(expected_bias[0])
    assert prior.stars_bias[0] < 0  # the world's horror movies are liked less
    assert prior.stars_factors.shape == (3, 3) and not prior.list_factors[1].any()
    assert content_map_for_run(run) is content_map_for_run(run)
