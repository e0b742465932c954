import numpy as np
import pytest

from recommendations import foldin
from recommendations.foldin import ItemFactors, StarsModel, predict, predict_stars, top_movies, user_vector
from recommendations.selectors import predicted_rating, recommend_for_user
from tests.factories import MovieFactory, RatingFactory, UserFactory, make_active_run


def _factors(n=200, rank=6, reg=0.1, seed=0) -> ItemFactors:
    rng = np.random.default_rng(seed)
    return ItemFactors(
        run_id=-1,
        movie_ids=np.arange(1, n + 1, dtype=np.int64) * 3,
        matrix=rng.normal(0, 0.5, (n, rank)).astype(np.float32),
        reg_param=reg,
    )


def test_user_vector_matches_a_direct_regularised_least_squares_solution():
    factors = _factors()
    ratings = {3: 4.5, 30: 1.0, 99: 3.5, 300: 5.0, 151 * 3: 2.0}
    vector = user_vector(factors=factors, ratings=ratings)

    rows = [int(np.flatnonzero(factors.movie_ids == m)[0]) for m in ratings]
    v = factors.matrix[rows].astype(np.float64)
    r = np.array(list(ratings.values()))
    lam_n = factors.reg_param * len(r)
    # min ||V x - r||² + λ n ||x||² as an augmented ordinary least-squares problem.
    augmented = np.vstack([v, np.sqrt(lam_n) * np.eye(v.shape[1])])
    target = np.concatenate([r, np.zeros(v.shape[1])])
    expected, *_ = np.linalg.lstsq(augmented, target, rcond=None)
    np.testing.assert_allclose(vector.x, expected, rtol=1e-6, atol=1e-8)


def test_top_movies_excludes_rated_and_excluded_and_explains_each_score():
    factors = _factors()
    ratings = {3: 5.0, 6: 1.0, 9: 4.0}
    vector = user_vector(factors=factors, ratings=ratings)
    top = top_movies(factors=factors, user=vector, exclude_movie_ids=[12, 15], limit=20)
    ids = [t.movie_id for t in top]
    assert len(ids) == 20 and not {3, 6, 9, 12, 15} & set(ids)

    raw = factors.matrix.astype(np.float64) @ vector.x
    raw[np.isin(factors.movie_ids, [3, 6, 9, 12, 15])] = -np.inf
    expected = factors.movie_ids[np.argsort(-raw)[:20]]
    assert ids == list(expected)
    assert all(0.5 <= t.score <= 5.0 for t in top)
    # The contributions add up to the score, and the named movie has the largest one.
    best = top[0]
    row = int(np.flatnonzero(factors.movie_ids == best.movie_id)[0])
    terms = factors.matrix[row].astype(np.float64) @ vector.a_inv @ vector.weighted_rated.T
    assert terms.sum() == pytest.approx(raw[row], rel=1e-5)
    if best.because_movie_id is not None:
        assert best.because_movie_id == vector.rated_movie_ids[int(terms.argmax())]


def test_mask_and_limit_beyond_candidates():
    factors = _factors(n=10)
    vector = user_vector(factors=factors, ratings={3: 4.0})
    mask = np.zeros(10, dtype=bool)
    mask[[2, 5]] = True
    top = top_movies(factors=factors, user=vector, limit=50, mask=mask)
    assert sorted(t.movie_id for t in top) == [9, 18]


def test_ratings_of_unknown_movies_are_ignored_and_none_means_no_vector():
    factors = _factors()
    assert user_vector(factors=factors, ratings={}) is None
    assert user_vector(factors=factors, ratings={1: 4.0, 2: 3.0}) is None  # ids not multiples of 3
    vector = user_vector(factors=factors, ratings={1: 4.0, 3: 3.0})
    assert list(vector.rated_movie_ids) == [3]
    assert predict(factors=factors, user=vector, movie_id=2) is None
    assert 0.5 <= predict(factors=factors, user=vector, movie_id=6) <= 5.0


def test_implicit_step_follows_spark():
    factors = ItemFactors(**{**_factors().__dict__, "implicit_prefs": True, "alpha": 2.0})
    ratings = {3: 4.0, 6: 1.0, 9: -1.0}
    vector = user_vector(factors=factors, ratings=ratings)
    v = factors.matrix[[0, 1, 2]].astype(np.float64)
    r = np.array([4.0, 1.0, -1.0])
    c1 = 2.0 * np.abs(r)
    a = factors.matrix.T.astype(np.float64) @ factors.matrix.astype(np.float64) + (v.T * c1) @ v
    a += np.eye(a.shape[0]) * factors.reg_param * 2  # two positive ratings
    b = ((1 + c1) * (r > 0)) @ v
    np.testing.assert_allclose(vector.x, np.linalg.solve(a, b), rtol=1e-6)


@pytest.fixture(autouse=True)
def _clear_cache():
    foldin.foldin_cache_clear()
    yield
    foldin.foldin_cache_clear()


def test_implicit_feedback_is_the_rating_minus_the_centre():
    factors = ItemFactors(**{**_factors().__dict__, "implicit_prefs": True, "alpha": 2.0, "center": 3.0})
    centred = ItemFactors(**{**_factors().__dict__, "implicit_prefs": True, "alpha": 2.0})

    vector = user_vector(factors=factors, ratings={3: 5.0, 6: 4.0, 9: 1.0})

    np.testing.assert_allclose(vector.x, user_vector(factors=centred, ratings={3: 2.0, 6: 1.0, 9: -2.0}).x)
    # Nothing above the centre: no preference to rank by (the site shows popular movies then).
    assert user_vector(factors=factors, ratings={3: 3.0, 6: 1.5}) is None


def _stars_model(n=50, rank=4, seed=1) -> StarsModel:
    rng = np.random.default_rng(seed)
    return StarsModel(
        run_id=-1,
        global_mean=3.5,
        movie_ids=np.arange(1, n + 1, dtype=np.int64),
        biases=rng.normal(0, 0.4, n),
        matrix=rng.normal(0, 0.4, (n, rank)).astype(np.float32),
        reg_param=0.15,
        reg_user=5.0,
    )


def test_stars_fold_in_is_the_user_bias_then_the_residual_least_squares_step():
    model = _stars_model()
    ratings = {1: 5.0, 2: 4.5, 7: 2.0, 11: 4.0, 999: 1.0}  # 999 is unknown to the run: ignored

    predicted = predict_stars(model=model, ratings=ratings, movie_ids=[3, 4, 1, 12345])

    known = [1, 2, 7, 11]
    r = np.array([ratings[m] for m in known])
    b_i = model.biases[np.array(known) - 1]
    b_u = (r - 3.5 - b_i).sum() / (5.0 + 4)
    v = model.matrix[np.array(known) - 1].astype(np.float64)
    x = np.linalg.solve(v.T @ v + 0.15 * 4 * np.eye(4), v.T @ (r - 3.5 - b_u - b_i))
    rows = np.array([3, 4, 1]) - 1
    expected = np.clip(3.5 + b_u + model.biases[rows] + model.matrix[rows].astype(np.float64) @ x, 0.5, 5)
    np.testing.assert_allclose(predicted[:3], expected, rtol=1e-9)
    assert np.isnan(predicted[3])  # a movie the run does not know
    # No usable rating: an average user, mu + b_i.
    np.testing.assert_allclose(
        predict_stars(model=model, ratings={999: 4.0}, movie_ids=[5]), np.clip(3.5 + model.biases[[4]], 0.5, 5)
    )


@pytest.mark.django_db
def test_a_two_model_run_ranks_by_the_list_model_and_scores_with_the_stars_model():
    movies = [MovieFactory() for _ in range(5)]
    liked = movies[0]
    # List model: movies 1 and 2 point where the liked movie points; 3 and 4 away.
    lists = {liked: [1.0, 0.0], movies[1]: [0.9, 0.1], movies[2]: [0.8, 0.0], movies[3]: [0.0, 1.0], movies[4]: [-1, 0]}
    # Stars model: movie 2 is predicted higher than movie 1, although the list ranks it lower.
    stars = {m: (0.0, [0.0, 0.0]) for m in movies} | {movies[1]: (-0.5, [0.0, 0.0]), movies[2]: (0.8, [0.0, 0.0])}
    run = make_active_run(lists, stars=stars, global_mean=3.0)
    user = UserFactory()
    RatingFactory(user=user, movie=liked, value=5)

    scored = recommend_for_user(user=user, run=run, limit=2)

    assert [s.movie_id for s in scored] == [movies[1].pk, movies[2].pk]
    b_u = (5 - 3.0 - 0.0) / (5.0 + 1)
    assert [s.score for s in scored] == pytest.approx([3.0 + b_u - 0.5, 3.0 + b_u + 0.8])
    assert all(s.because_movie_id == liked.pk for s in scored)
    assert predicted_rating(user=user, movie=movies[2], run=run) == pytest.approx(3.0 + b_u + 0.8)
