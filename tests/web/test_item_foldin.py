"""The item fold-in's arithmetic (recommendations.foldin.item_list_factors / item_stars_terms): NumPy only."""

import numpy as np

from recommendations.foldin import ItemFactors, item_list_factors, item_stars_terms, user_vector


def _users(n=60, rank=5, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.6, (n, rank))


def test_stars_terms_recover_a_movie_from_exact_ratings():
    rng = np.random.default_rng(2)
    users = _users()
    users -= users.mean(axis=0)  # centred, so the bias pass sees the bias alone
    user_biases = rng.normal(0, 0.3, users.shape[0])
    true_bias, true_factors = 0.4, rng.normal(0, 0.5, users.shape[1])
    values = 3.5 + user_biases + true_bias + users @ true_factors
    bias, factors = item_stars_terms(
        user_biases=user_biases,
        user_matrix=users,
        values=values,
        global_mean=3.5,
        reg_item=0.0,
        reg_param=0.0,
        prior_bias=-1.0,
        prior_factors=np.ones(users.shape[1]),
        prior_weight=0.0,
        prior_bias_weight=0.0,
    )
    assert abs(bias - true_bias) < 1e-9
    np.testing.assert_allclose(factors, true_factors, atol=1e-9)


def test_list_factors_recover_a_movie_from_exact_explicit_ratings():
    users = _users()
    true_factors = np.array([0.3, -0.2, 0.5, 0.1, -0.4])
    found = item_list_factors(
        user_matrix=users,
        values=users @ true_factors,
        gram=users.T @ users,
        reg_param=0.0,
        prior=np.zeros(5),
        prior_weight=0.0,
        implicit_prefs=False,
    )
    np.testing.assert_allclose(found, true_factors, atol=1e-9)


def test_list_factors_with_no_prior_are_the_user_fold_in_with_roles_swapped():
    # The implicit user step is tested against Spark's own factors (tests/spark_engine); with no prior the
    # item step must be exactly that step applied to a movie, the run's users standing in for its movies.
    users = _users(n=80).astype(np.float32)
    user_ids = np.arange(1, users.shape[0] + 1, dtype=np.int64)
    as_items = ItemFactors(
        run_id=-1, movie_ids=user_ids, matrix=users, reg_param=0.1, implicit_prefs=True, alpha=4.0, center=3.0
    )
    ratings = {3: 5.0, 7: 4.0, 11: 1.5, 20: 3.0, 41: 4.5}
    expected = user_vector(factors=as_items, ratings=ratings).x
    rows = [uid - 1 for uid in ratings]
    found = item_list_factors(
        user_matrix=users[rows],
        values=np.array(list(ratings.values())),
        gram=users.T.astype(np.float64) @ users.astype(np.float64),
        reg_param=0.1,
        prior=np.zeros(5),
        prior_weight=0.0,
        implicit_prefs=True,
        alpha=4.0,
        center=3.0,
    )
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-9)


def test_with_no_ratings_both_models_give_the_prior():
    users = _users()
    prior = np.array([0.2, -0.1, 0.05, 0.3, -0.25])
    found = item_list_factors(
        user_matrix=np.zeros((0, 5)),
        values=np.zeros(0),
        gram=users.T @ users,
        reg_param=0.1,
        prior=prior,
        prior_weight=2.0,
        implicit_prefs=True,
        alpha=4.0,
        center=3.0,
    )
    np.testing.assert_allclose(found, prior, atol=1e-12)
    bias, factors = item_stars_terms(
        user_biases=np.zeros(0),
        user_matrix=np.zeros((0, 5)),
        values=np.zeros(0),
        global_mean=3.5,
        reg_item=3.0,
        reg_param=0.15,
        prior_bias=0.25,
        prior_factors=prior,
        prior_weight=1.0,
        prior_bias_weight=2.0,
    )
    assert bias == 0.25
    np.testing.assert_allclose(factors, prior)


def test_few_ratings_stay_near_the_prior_and_many_move_away_from_it():
    users = _users(n=400)
    gram = users.T @ users
    prior = np.zeros(5)
    liked_direction = np.array([1.0, 0, 0, 0, 0])
    fans = np.argsort(-(users @ liked_direction))  # the users who lean most towards the first factor love it

    def solve(n):
        return item_list_factors(
            user_matrix=users[fans[:n]],
            values=np.full(n, 5.0),
            gram=gram,
            reg_param=0.1,
            prior=prior,
            prior_weight=5.0,
            implicit_prefs=True,
            alpha=2.0,
            center=3.0,
        )

    one, many = solve(1), solve(60)
    assert 0 < np.linalg.norm(one) < np.linalg.norm(many)
    assert many @ liked_direction > 0  # it moves towards its fans
