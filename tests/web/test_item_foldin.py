"""The item fold-in's solve (recommendations.content.item_fold_in_list / _stars) against the user fold-in, whose
step is tested against Spark's own factors (tests/spark_engine). tests/recommendations/test_content.py covers
exact recovery and the prior."""

import numpy as np

from recommendations.content import item_fold_in_list, item_fold_in_stars
from recommendations.foldin import ItemFactors, StarsModel, stars_user, user_vector


def _users(n=80, rank=5, seed=1) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.6, (n, rank)).astype(np.float32)


def test_list_solve_without_a_prior_is_the_user_fold_in_with_roles_swapped():
    users = _users()
    as_items = ItemFactors(
        run_id=-1,
        movie_ids=np.arange(1, users.shape[0] + 1, dtype=np.int64),
        matrix=users,
        reg_param=0.1,
        implicit_prefs=True,
        alpha=4.0,
        center=3.0,
    )
    ratings = {3: 5.0, 7: 4.0, 11: 1.5, 20: 3.0, 41: 4.5}
    expected = user_vector(factors=as_items, ratings=ratings).x
    wide = users.astype(np.float64)
    found = item_fold_in_list(
        user_factors=users[[uid - 1 for uid in ratings]],
        values=np.array(list(ratings.values())),
        prior=np.zeros(5),
        users_gram=wide.T @ wide,
        reg_param=0.1,
        alpha=4.0,
        center=3.0,
        prior_strength=0.0,
    )
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-9)


def test_stars_solve_without_a_prior_is_the_stars_user_step_with_roles_swapped():
    # A user's stars fold-in with the movies' biases as "user biases": b = Σ(r − μ − b_i)/(λ + n), then the
    # explicit step on the residuals; the item solve is the same arithmetic with the roles swapped.
    users = _users(n=40, rank=4, seed=2)
    biases = np.random.default_rng(3).normal(0, 0.3, users.shape[0])
    as_items = StarsModel(
        run_id=-1,
        global_mean=3.4,
        movie_ids=np.arange(1, users.shape[0] + 1, dtype=np.int64),
        biases=biases,
        matrix=users,
        reg_param=0.15,
        reg_user=3.0,
    )
    ratings = {2: 4.5, 5: 2.0, 9: 3.5, 30: 5.0}
    expected = stars_user(model=as_items, ratings=ratings)
    rows = [uid - 1 for uid in ratings]
    bias, factors = item_fold_in_stars(
        user_factors=users[rows],
        user_biases=biases[rows],
        values=np.array(list(ratings.values())),
        global_mean=3.4,
        prior_bias=0.0,
        prior=np.zeros(4),
        reg_param=0.15,
        reg_item=3.0,
        prior_strength=0.0,
    )
    assert abs(bias - expected.bias) < 1e-12
    np.testing.assert_allclose(factors, expected.x, rtol=1e-6, atol=1e-9)
