"""The list score blended into the predicted stars: chosen on held-out ratings only when it helps, served exactly."""

import numpy as np
import pandas as pd
import pytest

from recommendations import foldin
from spark_engine import fitting
from spark_engine.blend import choose_stars_blend
from spark_engine.fitting import ALSParams, BiasedALSModel, ListParams, QualityConfig

pytestmark = pytest.mark.spark


def _frame(spark, rows: dict, schema: str):
    return spark.createDataFrame(pd.DataFrame(rows), schema)


def _factors(spark, ids, matrix):
    return spark.createDataFrame(
        [(int(i), [float(v) for v in row]) for i, row in zip(ids, matrix, strict=True)], "id int, features array<float>"
    )


@pytest.fixture(scope="module")
def list_signal(spark):
    """A biases-only stars model (mu 3.5, no biases) and list factors whose score explains the held-out ratings:
    rating = 3.5 + 0.6 * (x_u . y_i - 0.5) + small noise, for 30 users x 40 movies."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(0, 0.8, (30, 3)), rng.normal(0, 0.8, (40, 3))
    users, movies = np.meshgrid(np.arange(30), np.arange(40), indexing="ij")
    users, movies = users.ravel(), movies.ravel()
    score = np.einsum("ij,ij->i", x[users], y[movies])
    ratings = np.clip(3.5 + 0.6 * (score - 0.5) + rng.normal(0, 0.05, score.size), 0.5, 5.0)
    stars = BiasedALSModel(
        global_mean=3.5,
        user_bias=_frame(
            spark, {"user_id": np.arange(1, 31, dtype=np.int32), "user_bias": 0.0}, "user_id int, user_bias double"
        ),
        item_bias=_frame(
            spark, {"movie_id": np.arange(101, 141, dtype=np.int32), "item_bias": 0.0}, "movie_id int, item_bias double"
        ),
    )
    held_out = _frame(
        spark,
        {"user_id": (users + 1).astype(np.int32), "movie_id": (movies + 101).astype(np.int32), "rating": ratings},
        "user_id int, movie_id int, rating double",
    )
    return {
        "stars": stars,
        "list_users": _factors(spark, np.arange(1, 31), x),
        "list_items": _factors(spark, np.arange(101, 141), y),
        "held_out": held_out,
        "rng": rng,
    }


def test_the_blend_is_kept_with_the_weight_and_offset_the_held_out_ratings_ask_for(list_signal):
    chosen = choose_stars_blend(
        list_signal["stars"], list_signal["list_users"], list_signal["list_items"], list_signal["held_out"]
    )

    assert chosen.kept and chosen.pairs == 1200
    assert chosen.list_weight == pytest.approx(0.6, abs=0.02)
    assert chosen.offset == pytest.approx(-0.3, abs=0.02)
    assert chosen.rmse < 0.1 < chosen.rmse_before


def test_a_list_score_that_explains_nothing_is_not_kept(spark, list_signal):
    """Scores unrelated to the held-out ratings: the least-squares weight is noise, not beyond it; the stars stand."""
    rng = np.random.default_rng(8)
    noise_users = _factors(spark, np.arange(1, 31), rng.normal(0, 0.8, (30, 3)))
    noise_items = _factors(spark, np.arange(101, 141), rng.normal(0, 0.8, (40, 3)))
    held_out = list_signal["held_out"].withColumn("rating", (list_signal["held_out"].rating * 0 + 3.5))

    chosen = choose_stars_blend(list_signal["stars"], noise_users, noise_items, held_out)

    assert not chosen.kept
    assert chosen.list_weight == 0.0 and chosen.offset == 0.0
    assert chosen.rmse == chosen.rmse_before


def test_choose_stars_blend_refuses_empty_held_out_ratings(list_signal):
    with pytest.raises(ValueError, match="no ratings"):
        choose_stars_blend(
            list_signal["stars"],
            list_signal["list_users"],
            list_signal["list_items"],
            list_signal["held_out"].limit(0),
        )


def test_a_blended_model_predicts_the_blend_everywhere_the_stars_are_served(spark, list_signal):
    """predict, the top-N pass's scorer and the published terms all give mu + b_u + b_i + u.v + w x.y + c; a user
    without list factors gets the stars model's terms and the offset."""
    ratings = list_signal["held_out"].where("user_id <= 29")  # user 30 rates nothing: no stars factors
    stars = fitting.fit_biased_als(ratings, ALSParams(rank=2, max_iter=5, num_blocks=1, seed=1))
    list_users = list_signal["list_users"].where("id != 7")  # user 7: no list factors
    blended = fitting.blend_stars_model(stars, list_users, list_signal["list_items"], list_weight=0.4, offset=-0.2)

    pairs = list_signal["held_out"].select("user_id", "movie_id").where("movie_id <= 110")
    plain = {(r.user_id, r.movie_id): r.prediction for r in fitting.predict(stars, pairs).collect()}
    got = {(r.user_id, r.movie_id): r.prediction for r in fitting.predict(blended, pairs).collect()}
    x = {r.id: np.array(r.features) for r in list_users.collect()}
    y = {r.id: np.array(r.features) for r in list_signal["list_items"].collect()}
    stars_users = {r.user_id for r in stars.user_bias.collect()}
    for (user, movie), value in got.items():
        before = plain[(user, movie)]
        if not 0.5 < before < 5.0:  # clipped before the blend: the sum is not recoverable from it
            continue
        extra = 0.4 * float(x[user] @ y[movie]) if user in x else 0.0
        offset = -0.2 if user in stars_users else 0.0  # a user the stars model has no terms for: no offset
        assert value == pytest.approx(np.clip(before + extra + offset, 0.5, 5.0), abs=1e-5), (user, movie)
    assert any(user not in x for user, _ in got) and any(user not in stars_users for user, _ in got)

    scorer = fitting.stars_pair_scorer(blended)
    users = np.array([u for u, _ in got], np.int64)
    movies = np.array([m for _, m in got], np.int64)
    scored = np.clip(
        np.einsum("ij,ij->i", scorer.rows_for(users, users=True), scorer.rows_for(movies, users=False)), 0.5, 5.0
    )
    np.testing.assert_allclose(scored, [got[key] for key in got], atol=1e-5)

    terms = fitting.stars_item_terms(blended).collect()
    assert {len(r.features) for r in terms} == {2 + 3}


def test_blend_stars_model_with_weight_zero_is_the_stars_model_and_refuses_a_negative_one(list_signal):
    stars = list_signal["stars"]
    assert (
        fitting.blend_stars_model(stars, list_signal["list_users"], list_signal["list_items"], list_weight=0, offset=1)
        is stars
    )
    with pytest.raises(ValueError, match="list_weight"):
        fitting.blend_stars_model(stars, list_signal["list_users"], list_signal["list_items"], list_weight=-1, offset=0)


def test_the_sites_stars_fold_in_reproduces_the_blended_stars_the_retrain_publishes(spark, list_signal):
    """A retrain fits both models with a blend; the site folds a user in from their ratings alone (stars columns by
    the explicit step, list columns by the list model's fold-in times the weight): the same user terms and stars."""
    rng = np.random.default_rng(4)
    rows = list_signal["held_out"].toPandas()
    rows = rows[rng.random(len(rows)) < 0.6]
    rows["rating"] = np.clip(np.round(rows["rating"] * 2) / 2, 0.5, 5.0)
    ratings = spark.createDataFrame(rows, "user_id int, movie_id int, rating double").cache()
    config = QualityConfig(
        ratings=ALSParams(rank=3, max_iter=10, reg_param=0.1, num_blocks=1, seed=2),
        biased=True,
        lists=ListParams(
            als=ALSParams(rank=4, max_iter=10, reg_param=0.1, implicit_prefs=True, alpha=2.0, num_blocks=1)
        ),
        stars_list_weight=0.35,
        stars_list_offset=-0.1,
    )
    models = fitting.fit_models(ratings, config)

    items = fitting.stars_item_terms(models.stars).orderBy("movie_id").toPandas()
    list_ids, list_matrix = _collected(models.list_items)
    model = foldin.StarsModel(
        run_id=0,
        global_mean=models.stars.global_mean,
        movie_ids=items["movie_id"].to_numpy(np.int64),
        biases=items["bias"].to_numpy(np.float64),
        matrix=np.array(items["features"].tolist(), np.float32),
        reg_param=0.1,
        reg_user=config.reg_user,
        list_weight=0.35,
        list_offset=-0.1,
        list_factors=foldin.ItemFactors(
            run_id=0, movie_ids=list_ids, matrix=list_matrix, reg_param=0.1, implicit_prefs=True, alpha=2.0, center=3.0
        ),
    )
    published = {r.user_id: (r.bias, np.array(r.features)) for r in fitting.stars_user_terms(models.stars).collect()}
    assert {len(features) for _, features in published.values()} == {3 + 4}
    for user, group in rows.groupby("user_id"):
        folded = foldin.stars_user(model=model, ratings=dict(zip(group.movie_id, group.rating, strict=True)))
        bias, features = published[user]
        assert folded.bias == pytest.approx(bias, abs=1e-6)
        np.testing.assert_allclose(folded.x, features, rtol=2e-3, atol=2e-3)
    ratings.unpersist()


def _collected(factors):
    from spark_engine.frames import collect_factors

    return collect_factors(factors, "list item factors")
