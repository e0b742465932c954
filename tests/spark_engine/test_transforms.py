"""Spark transforms against hand-computed or brute-force results on small data."""

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from pyspark.ml.evaluation import RankingEvaluator
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from spark_engine import fitting, metrics, topk
from spark_engine.fitting import ALSParams, fit_als
from spark_engine.metrics import popularity_top_n, ranking_metrics, ranking_metrics_of_arrays, rmse, split_holdout
from spark_engine.schemas import FACTORS_SCHEMA, RECOMMENDATIONS_SCHEMA, SIMILAR_SCHEMA
from spark_engine.session import SparkConfig, get_spark
from spark_engine.topk import similar_items, top_n_unrated

pytestmark = pytest.mark.spark

FAST_ALS = ALSParams(rank=3, max_iter=8, reg_param=0.01, num_blocks=2)


def _factors(spark, ids, matrix):
    pdf = pd.DataFrame({"id": np.asarray(ids, np.int32), "features": list(np.asarray(matrix, np.float32))})
    return spark.createDataFrame(pdf, FACTORS_SCHEMA)


def _pairs(spark, pairs):
    return spark.createDataFrame(pairs, "user_id int, movie_id int")


@pytest.fixture(scope="module")
def low_rank_ratings(spark):
    """60 users x 40 movies rated 3 + u.v (true rank 2), about 60% observed."""
    rng = np.random.default_rng(3)
    users, movies = rng.normal(0, 0.7, (60, 2)), rng.normal(0, 0.7, (40, 2))
    user_idx, movie_idx = np.nonzero(rng.random((60, 40)) < 0.6)
    pdf = pd.DataFrame(
        {
            "user_id": (user_idx + 1).astype(np.int32),
            "movie_id": (movie_idx + 101).astype(np.int32),
            "rating": (3 + np.einsum("ij,ij->i", users[user_idx], movies[movie_idx])).astype(np.float32),
        }
    )
    df = spark.createDataFrame(pdf, "user_id int, movie_id int, rating float").cache()
    df.count()
    yield df
    df.unpersist()


def test_get_spark_returns_the_configured_running_session(spark):
    again = get_spark(SparkConfig(master="local[2]", shuffle_partitions=2))

    assert again is spark
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert spark.sparkContext.getCheckpointDir()


@pytest.mark.parametrize("rated_as", ["frame", "arrays"])
@pytest.mark.parametrize("prune", [True, False], ids=["pruned", "full"])
@pytest.mark.parametrize("on_driver", [False, True], ids=["executors", "driver"])
def test_top_n_unrated_matches_brute_force_and_never_recommends_rated_movies(
    spark, monkeypatch, on_driver, prune, rated_as
):
    rng = np.random.default_rng(0)
    user_ids, movie_ids = np.arange(1, 51) * 3, np.arange(1, 41) * 7
    users, movies = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    rated = {int(u): set(movie_ids[rng.random(40) < rng.uniform(0, 0.6)].tolist()) for u in user_ids}
    rated[3] = set(movie_ids[:-3].tolist())  # only 3 unrated movies left, fewer than n
    rated[6] = set(movie_ids.tolist())  # nothing left to recommend
    rated[9] = set()  # rated nothing
    pairs = [(u, m) for u, ms in rated.items() for m in ms]
    pairs += [(3, 7), (12, 99_999), (424_242, 7)]  # duplicate, movie without factors, user without factors
    monkeypatch.setattr(topk, "BLOCK_BYTES", 4 * len(movie_ids) * 7)  # 8 blocks of 7 users, 3 tasks
    monkeypatch.setattr(topk, "FIRST_CHUNK", 5)  # the pruned kernel: chunks of 5 to 40 movies,
    monkeypatch.setattr(topk, "PRUNED_BLOCK_BYTES", 4 * 40 * 7)  # blocks of 7 users

    actual = top_n_unrated(
        _factors(spark, user_ids, users),
        _factors(spark, movie_ids, movies),
        _pairs(spark, pairs) if rated_as == "frame" else tuple(np.array(pairs).T),
        10,
        num_partitions=3,
        on_driver=on_driver,
        prune=prune,
    ).collect()

    scores = users.astype(np.float32) @ movies.astype(np.float32).T
    expected = []
    for i, user in enumerate(user_ids):
        candidates = sorted(
            (j for j, movie in enumerate(movie_ids) if movie not in rated[user]), key=lambda j: (-scores[i, j], j)
        )
        expected += [
            (int(user), int(movie_ids[j]), rank, float(scores[i, j])) for rank, j in enumerate(candidates[:10], 1)
        ]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, RECOMMENDATIONS_SCHEMA), rtol=1e-5)
    per_user = Counter(row.user_id for row in actual)
    assert per_user[3] == 3 and per_user[6] == 0 and per_user[9] == 10


def test_top_n_unrated_breaks_score_ties_by_movie_id(spark):
    movies = _factors(spark, [40, 10, 30, 20], [[1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [1.0, 5.0]])
    users = _factors(spark, [1, 2], [[1.0, 0.0], [0.0, 0.0]])

    actual = top_n_unrated(users, movies, _pairs(spark, [(1, 30)]), 2)

    expected = [(1, 10, 1, 1.0), (1, 20, 2, 1.0), (2, 10, 1, 0.0), (2, 20, 2, 0.0)]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, RECOMMENDATIONS_SCHEMA))


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "whole-rows"])
@pytest.mark.parametrize("on_driver", [False, True], ids=["executors", "driver"])
def test_similar_items_matches_cosine_brute_force_without_self_or_nan(spark, monkeypatch, on_driver, chunked):
    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(30, 3))
    matrix[5] = 3 * matrix[4]  # same direction: cosine 1
    matrix[7] = 0.0  # zero vector: similarity 0 to everything
    ids = np.arange(30) + 500

    monkeypatch.setattr(topk, "FIRST_CHUNK", 4)  # chunks of 4 to 32 movies, blocks of 7
    monkeypatch.setattr(topk, "PRUNED_BLOCK_BYTES", 4 * 32 * 7)
    actual = similar_items(_factors(spark, ids, matrix), 5, on_driver=on_driver, chunked=chunked)

    vectors = matrix.astype(np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1)
    scores = unit @ unit.T
    expected = []
    for i in range(30):
        others = sorted((j for j in range(30) if j != i), key=lambda j: (-scores[i, j], j))
        expected += [(int(ids[i]), int(ids[j]), rank, float(scores[i, j])) for rank, j in enumerate(others[:5], 1)]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, SIMILAR_SCHEMA), rtol=1e-5, atol=1e-6)
    assert actual.where((F.col("movie_id") == F.col("similar_id")) | F.isnan("score")).isEmpty()


def test_popularity_top_n_ranks_by_rating_count_excluding_the_users_movies(spark):
    train = _pairs(spark, [(1, 10), (2, 10), (3, 10), (2, 20), (4, 20), (2, 30), (4, 30), (4, 40)])

    actual = popularity_top_n(train, 2)

    expected = [
        (1, 20, 1, 2.0),
        (1, 30, 2, 2.0),
        (2, 40, 1, 1.0),
        (3, 20, 1, 2.0),
        (3, 30, 2, 2.0),
        (4, 10, 1, 3.0),
    ]
    assertDataFrameEqual(actual, spark.createDataFrame(expected, RECOMMENDATIONS_SCHEMA))


def test_ranking_metrics_match_hand_computed_values(spark):
    recommended = spark.createDataFrame(
        [(1, 10, 1, 0.9), (1, 20, 2, 0.8), (1, 30, 3, 0.7), (1, 40, 4, 0.6), (2, 60, 2, 0.5), (2, 11, 1, 0.6)]
        + [(3, 70, 1, 0.9)],
        RECOMMENDATIONS_SCHEMA,
    )
    test = spark.createDataFrame(
        [(1, 10, 5.0), (1, 30, 4.0), (1, 50, 4.5), (1, 20, 2.0), (2, 60, 4.0), (3, 70, 3.5), (4, 80, 5.0)],
        "user_id int, movie_id int, rating float",
    )

    metrics = ranking_metrics(recommended, test, k=3)

    # User 1: top 3 = 10, 20, 30, relevant {10, 30, 50}: hits at ranks 1 and 3.
    # User 2: top 3 = 11, 60, relevant {60}: hit at rank 2. User 3: nothing relevant, excluded.
    # User 4: relevant {80}, no recommendations: zeros.
    ndcg_1 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    ndcg_2 = 1 / math.log2(3)
    assert metrics["users_evaluated"] == 3
    assert metrics["precision_at_3"] == pytest.approx((2 / 3 + 1 / 3 + 0) / 3)
    assert metrics["recall_at_3"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert metrics["ndcg_at_3"] == pytest.approx((ndcg_1 + ndcg_2 + 0) / 3)
    assert metrics["map_at_3"] == pytest.approx(((1 + 2 / 3) / 3 + 1 / 2 + 0) / 3)


def test_ranking_metrics_agree_with_sparks_ranking_evaluator(spark):
    rng = np.random.default_rng(4)
    recommended = [(u, int(m), r, 1.0) for u in range(20) for r, m in enumerate(rng.permutation(30)[:8], 1)]
    test = [(u, int(m), float(rng.choice([2.0, 4.0, 5.0]))) for u in range(25) for m in rng.permutation(30)[:6]]
    recommended = spark.createDataFrame(recommended, RECOMMENDATIONS_SCHEMA)
    test = spark.createDataFrame(test, "user_id int, movie_id int, rating float").where("user_id < 20")

    ours = ranking_metrics(recommended, test, k=5)

    lists = (
        test.where("rating >= 4")
        .groupBy("user_id")
        .agg(F.collect_set(F.col("movie_id").cast("double")).alias("label"))
        .join(
            recommended.where("rank <= 5")
            .groupBy("user_id")
            .agg(
                F.sort_array(
                    F.collect_list(F.struct("rank", F.col("movie_id").cast("double").alias("movie_id")))
                ).alias("ranked")
            ),
            "user_id",
        )
        .select("label", F.col("ranked.movie_id").alias("prediction"))
    )
    evaluator = RankingEvaluator(k=5)
    for key, metric in [
        ("precision_at_5", "precisionAtK"),
        ("recall_at_5", "recallAtK"),
        ("ndcg_at_5", "ndcgAtK"),
        ("map_at_5", "meanAveragePrecisionAtK"),
    ]:
        assert ours[key] == pytest.approx(evaluator.evaluate(lists, {evaluator.metricName: metric})), key


def test_fit_als_recovers_low_rank_ratings(spark, low_rank_ratings):
    train, test = split_holdout(low_rank_ratings, 0.2, seed=5)

    model = fit_als(train, FAST_ALS)

    assert model.userFactors.schema == FACTORS_SCHEMA
    assert model.userFactors.count() == 60 and model.itemFactors.count() == 40
    spread = float(np.std([r.rating for r in test.collect()]))
    assert rmse(model, train) < 0.1
    assert rmse(model, test) < 0.5 * spread


def test_split_holdout_partitions_the_ratings(low_rank_ratings):
    train, test = split_holdout(low_rank_ratings, 0.25, seed=1)

    assert train.count() + test.count() == low_rank_ratings.count()
    assert train.join(test, ["user_id", "movie_id"]).isEmpty()
    with pytest.raises(ValueError, match="fraction"):
        split_holdout(low_rank_ratings, 1.0)


def _evaluate_holdout(ratings, **kwargs):
    """The retrain's holdout evaluation of one plain ALS model (FAST_ALS) for its stars and its own lists."""
    return metrics.evaluate_holdout_config(ratings, fitting.QualityConfig(ratings=FAST_ALS), **kwargs)


def test_evaluate_holdout_reports_finite_model_and_popularity_metrics(low_rank_ratings):
    result = _evaluate_holdout(low_rank_ratings, fraction=0.25, seed=2, k=10)

    ranking = ["precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10"]
    assert all(math.isfinite(result[key]) for key in ["rmse", *ranking])
    assert all(math.isfinite(result["popularity"][key]) for key in ranking)
    assert result["users_evaluated"] == result["popularity"]["users_evaluated"] > 0
    assert result["holdout_fraction"] == 0.25
    assert result["train_ratings"] + result["test_ratings"] == low_rank_ratings.count()
    # Beyond accuracy, for the model's lists and popularity's: what every run records.
    beyond = ["coverage_at_10", "novelty_at_10", "diversity_at_10", "personalisation_at_10"]
    beyond.append("popularity_percentile_at_10")
    for lists in (result, result["popularity"]):
        assert all(math.isfinite(lists[key]) for key in beyond)
        assert 0 < lists["coverage_at_10"] <= 1 and 0 <= lists["personalisation_at_10"] <= 1
    assert result["novelty_at_10"] > result["popularity"]["novelty_at_10"]


def test_invalid_arguments_raise_before_any_spark_job(spark):
    factors = _factors(spark, [1], [[1.0]])
    with pytest.raises(ValueError, match="n must be positive"):
        top_n_unrated(factors, factors, _pairs(spark, []), 0)
    with pytest.raises(ValueError, match="lacks column"):
        top_n_unrated(factors, factors, factors, 5)
    with pytest.raises(ValueError, match="k must be positive"):
        similar_items(factors, 0)
    with pytest.raises(ValueError, match="rank"):
        ALSParams(rank=0)


def test_driver_side_evaluation_matches_the_distributed_top_n_and_metrics(spark, low_rank_ratings):
    """The holdout evaluation ranks on the driver; top_n_unrated + Spark on the same split give the same."""
    train, test = split_holdout(low_rank_ratings, 0.25, seed=2)
    model = fit_als(train, FAST_ALS)
    known_test = test.join(model.userFactors.select(F.col("id").alias("user_id")), "user_id", "left_semi")
    expected = ranking_metrics(top_n_unrated(model.userFactors, model.itemFactors, train, 10), known_test, 10)
    expected_popularity = ranking_metrics(popularity_top_n(train, 10), known_test, 10)

    result = _evaluate_holdout(low_rank_ratings, fraction=0.25, seed=2, k=10)

    for key in ["precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "users_evaluated"]:
        assert result[key] == pytest.approx(expected[key], rel=1e-5), key
        assert result["popularity"][key] == pytest.approx(expected_popularity[key], rel=1e-5), key


def test_evaluate_holdout_samples_at_most_max_users_for_ranking(low_rank_ratings):
    result = _evaluate_holdout(low_rank_ratings, fraction=0.25, seed=2, k=10, max_users=7)

    assert result["users_evaluated"] == result["popularity"]["users_evaluated"] == 7
    assert result["ranking_users_available"] > 7
    assert math.isfinite(result["ndcg_at_10"]) and math.isfinite(result["rmse"])
    with pytest.raises(ValueError, match="max_users"):
        _evaluate_holdout(low_rank_ratings, max_users=0)


def test_ranking_metrics_of_arrays_counts_users_without_recommendations_as_zero():
    metrics = ranking_metrics_of_arrays(
        rec_users=np.array([1, 1]),
        rec_movies=np.array([5, 6]),
        rec_ranks=np.array([2, 1]),
        rel_users=np.array([1, 2]),
        rel_movies=np.array([5, 9]),
        k=2,
    )
    # User 1: list (6, 5), relevant {5}: hit at position 2. User 2: no list.
    assert metrics["users_evaluated"] == 2
    assert metrics["precision_at_2"] == pytest.approx(0.25)
    assert metrics["recall_at_2"] == pytest.approx(0.5)
    assert metrics["ndcg_at_2"] == pytest.approx((1 / math.log2(3)) / 2)
    assert metrics["map_at_2"] == pytest.approx(0.25)
    empty = ranking_metrics_of_arrays(*(np.array([], np.int64),) * 5, k=2)
    assert empty["users_evaluated"] == 0 and math.isnan(empty["ndcg_at_2"])


def test_sample_users_keeps_whole_histories_of_about_the_fraction(spark):
    pdf = pd.DataFrame(
        {"user_id": np.repeat(np.arange(1000), 3).astype(np.int32), "movie_id": np.tile([1, 2, 3], 1000)}
    )
    ratings = spark.createDataFrame(pdf, "user_id int, movie_id int")

    sample = metrics.sample_users(ratings, 0.3, seed=1).toPandas()

    per_user = sample.groupby("user_id").size()
    assert (per_user == 3).all()
    assert 230 < per_user.size < 370
    again = metrics.sample_users(ratings, 0.3, seed=1).toPandas()
    assert sorted(again.user_id.unique()) == sorted(per_user.index)
    assert metrics.sample_users(ratings, 1.0) is ratings
    with pytest.raises(ValueError, match="fraction"):
        metrics.sample_users(ratings, 0.0)


def test_stage_evaluate_samples_users_above_max_ratings(low_rank_ratings):
    from spark_engine import stages

    count = low_rank_ratings.count()
    config = fitting.QualityConfig(
        ratings=FAST_ALS,
        biased=True,
        lists=fitting.ListParams(als=replace(FAST_ALS, implicit_prefs=True, alpha=2.0, reg_param=0.1)),
    )
    whole = stages.evaluate(low_rank_ratings, config, 0.25, seed=42, ratings_count=count, max_ratings=0)
    sampled = stages.evaluate(low_rank_ratings, config, 0.25, seed=42, ratings_count=count, max_ratings=count // 2)

    assert whole["user_sample_fraction"] == 1.0
    assert sampled["user_sample_fraction"] == pytest.approx(0.5, abs=0.01)
    assert sampled["train_ratings"] + sampled["test_ratings"] < 0.8 * count
    assert math.isfinite(sampled["rmse"])
    # Both models are judged: the stars model's RMSE, the list model's lists against popularity.
    assert whole["rmse"] < 0.9 and whole["ndcg_at_10"] > 0 and "popularity" in whole
