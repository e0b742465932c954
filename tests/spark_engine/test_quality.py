"""Biased ALS, list helpers and the evaluate command, on tiny synthetic data with planted effects."""

import json
import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from pyspark.sql import functions as F

from ratings.models import Rating
from recommendations.models import EvaluationReport
from spark_engine import fitting, metrics
from spark_engine.fitting import ALSParams, fit_als
from spark_engine.metrics import rmse
from spark_engine.schemas import FACTORS_SCHEMA
from spark_engine.topk import top_n_unrated
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.spark

FAST = dict(max_iter=8, num_blocks=2, seed=1)


def _ratings_frame(spark, user_idx, movie_idx, values):
    pdf = pd.DataFrame(
        {
            "user_id": (np.asarray(user_idx) + 1).astype(np.int32),
            "movie_id": (np.asarray(movie_idx) + 101).astype(np.int32),
            "rating": np.asarray(values, np.float32),
        }
    )
    return spark.createDataFrame(pdf, "user_id int, movie_id int, rating float")


@pytest.fixture(scope="module")
def planted_biases(spark):
    """40 users x 30 movies, 80% observed, rating = 3.5 + b_u + b_i + small noise (no interaction)."""
    rng = np.random.default_rng(11)
    user_bias, item_bias = rng.normal(0, 0.6, 40), rng.normal(0, 0.6, 30)
    user_idx, movie_idx = np.nonzero(rng.random((40, 30)) < 0.8)
    truth = 3.5 + user_bias[user_idx] + item_bias[movie_idx]
    df = _ratings_frame(spark, user_idx, movie_idx, truth + rng.normal(0, 0.05, truth.size)).cache()
    df.count()
    yield {"ratings": df, "user_bias": user_bias, "item_bias": item_bias}
    df.unpersist()


@pytest.fixture(scope="module")
def biased_low_rank(spark):
    """60 users x 50 movies, 60% observed: strong user and movie biases plus a rank-2 taste, in half stars.

    Returns (train, test) from a fixed 80/20 split.
    """
    rng = np.random.default_rng(5)
    user_bias, item_bias = rng.normal(0, 0.8, 60), rng.normal(0, 0.8, 50)
    users, movies = rng.normal(0, 0.6, (60, 2)), rng.normal(0, 0.6, (50, 2))
    user_idx, movie_idx = np.nonzero(rng.random((60, 50)) < 0.6)
    raw = (
        3.2
        + user_bias[user_idx]
        + item_bias[movie_idx]
        + np.einsum("ij,ij->i", users[user_idx], movies[movie_idx])
        + rng.normal(0, 0.2, user_idx.size)
    )
    values = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
    train, test = _ratings_frame(spark, user_idx, movie_idx, values).randomSplit([0.8, 0.2], seed=3)
    train, test = train.cache(), test.cache()
    train.count(), test.count()
    yield train, test
    train.unpersist()
    test.unpersist()


def _bias_maps(model_or_tuple):
    _, user_bias, item_bias = model_or_tuple
    users = {r["user_id"]: r["user_bias"] for r in user_bias.collect()}
    items = {r["movie_id"]: r["item_bias"] for r in item_bias.collect()}
    return users, items


def test_biases_recover_the_planted_global_user_and_movie_effects(planted_biases):
    mu, user_bias, item_bias = fitting.fit_biases(planted_biases["ratings"], reg_user=0.01, reg_item=0.01, passes=10)
    users, items = _bias_maps((mu, user_bias, item_bias))

    # Only mu + b_u + b_i is identifiable (a constant can move between the terms): compare that on every cell.
    planted_u, planted_i = planted_biases["user_bias"], planted_biases["item_bias"]
    fitted = mu + np.array([users[u + 1] for u in range(40)])[:, None] + np.array([items[m + 101] for m in range(30)])
    planted = 3.5 + planted_u[:, None] + planted_i[None, :]
    assert np.abs(fitted - planted).max() < 0.1
    assert np.corrcoef([items[m + 101] for m in range(30)], planted_i)[0, 1] > 0.99
    assert np.corrcoef([users[u + 1] for u in range(40)], planted_u)[0, 1] > 0.99


def test_biases_fitted_on_the_driver_equal_sparks(planted_biases):
    spark_fit = fitting.fit_biases(planted_biases["ratings"], reg_user=5.0, reg_item=3.0, passes=3)
    driver_fit = fitting.fit_biases(planted_biases["ratings"], reg_user=5.0, reg_item=3.0, passes=3, on_driver=True)

    assert driver_fit[0] == pytest.approx(spark_fit[0], abs=1e-12)
    for spark_map, driver_map in zip(_bias_maps(spark_fit), _bias_maps(driver_fit), strict=True):
        assert spark_map.keys() == driver_map.keys()
        assert all(driver_map[key] == pytest.approx(value, abs=1e-12) for key, value in spark_map.items())
    with pytest.raises(ValueError, match="no ratings"):
        fitting.fit_biases(planted_biases["ratings"].limit(0), on_driver=True)


def test_bias_regularisation_shrinks_towards_zero(planted_biases):
    _, loose_users, loose_items = fitting.fit_biases(planted_biases["ratings"], reg_user=0.0, reg_item=0.0)
    _, tight_users, tight_items = fitting.fit_biases(planted_biases["ratings"], reg_user=500.0, reg_item=500.0)

    def spread(df, column):
        return df.agg(F.stddev(column)).first()[0]

    assert spread(tight_items, "item_bias") < 0.2 * spread(loose_items, "item_bias")
    assert spread(tight_users, "user_bias") < 0.2 * spread(loose_users, "user_bias")


def test_biased_als_beats_plain_als_when_biases_are_strong(biased_low_rank):
    train, test = biased_low_rank
    params = ALSParams(rank=2, reg_param=0.1, **FAST)

    plain = rmse(fit_als(train, params), test)
    biased = fitting.fit_biased_als(train, params, reg_user=2.0, reg_item=2.0)
    biased_rmse = metrics.rmse_of(biased, test)
    biases_only_rmse = metrics.rmse_of(fitting.fit_biased_als(train, None, reg_user=2.0, reg_item=2.0), test)

    assert biased_rmse < 0.85 * plain, (biased_rmse, plain)
    assert biased_rmse < biases_only_rmse  # the factors on the residuals add something


def test_predict_falls_back_to_biases_for_cold_users_and_movies_and_clips(spark, biased_low_rank):
    train, _ = biased_low_rank
    model = fitting.fit_biased_als(train, ALSParams(rank=2, reg_param=0.1, **FAST), reg_user=2.0, reg_item=2.0)
    users, items = _bias_maps((model.global_mean, model.user_bias, model.item_bias))
    known_user, known_movie = 1, 101
    pairs = spark.createDataFrame(
        [(known_user, 999, "cold movie"), (999, known_movie, "cold user"), (999, 999, "both cold")],
        "user_id int, movie_id int, note string",
    )

    rows = {r["note"]: r for r in fitting.predict(model, pairs).collect()}

    assert rows["cold movie"]["prediction"] == pytest.approx(model.global_mean + users[known_user])
    assert rows["cold user"]["prediction"] == pytest.approx(model.global_mean + items[known_movie])
    assert rows["both cold"]["prediction"] == pytest.approx(model.global_mean)
    predictions = fitting.predict(model, train).select("prediction").toPandas()["prediction"]
    assert predictions.notna().all() and predictions.between(0.5, 5.0).all()


@pytest.mark.parametrize("on_driver", [False, True], ids=["executors", "driver"])
def test_top_n_with_the_stars_scorer_publishes_exactly_the_stars_predict_gives(spark, biased_low_rank, on_driver):
    """The retrain's stars come out of the ranking pass (`stars_pair_scorer`) instead of a join through `predict`:
    the published rows (users, movies, ranks, list scores) and their stars must be what the join gave."""
    train, _ = biased_low_rank
    model = fitting.fit_biased_als(train, ALSParams(rank=2, reg_param=0.1, **FAST), reg_user=2.0, reg_item=2.0)
    list_users, list_items = fitting.fit_list_model(
        train, fitting.ListParams(als=ALSParams(rank=3, implicit_prefs=True, **FAST))
    )
    rated = train.select("user_id", "movie_id")

    plain = top_n_unrated(list_users, list_items, rated, 8, on_driver=on_driver)
    joined = fitting.predict(model, plain).toPandas().sort_values(["user_id", "rank"]).reset_index(drop=True)
    scored = top_n_unrated(
        list_users, list_items, rated, 8, on_driver=on_driver, rate_with=fitting.stars_pair_scorer(model)
    )
    fused = scored.toPandas().sort_values(["user_id", "rank"]).reset_index(drop=True)

    assert len(fused) == len(joined) > 0
    pd.testing.assert_frame_equal(
        fused[["user_id", "movie_id", "rank", "score"]], joined[["user_id", "movie_id", "rank", "score"]]
    )
    np.testing.assert_allclose(fused["prediction"], joined["prediction"], rtol=0, atol=1e-9)
    assert fused["prediction"].between(0.5, 5.0).all()


def test_stars_pair_scorer_falls_back_like_predict_for_cold_users_and_movies(spark, biased_low_rank):
    train, _ = biased_low_rank
    model = fitting.fit_biased_als(train, ALSParams(rank=2, reg_param=0.1, **FAST), reg_user=2.0, reg_item=2.0)
    scorer = fitting.stars_pair_scorer(model)
    pairs = pd.DataFrame({"user_id": [1, 999, 999, 2, 3], "movie_id": [999, 101, 999, 102, 103]})

    users = scorer.rows_for(pairs["user_id"].to_numpy(np.int64), users=True)
    movies = scorer.rows_for(pairs["movie_id"].to_numpy(np.int64), users=False)
    fused = np.clip(np.einsum("ij,ij->i", users, movies), scorer.low, scorer.high)

    expected = fitting.predict(model, spark.createDataFrame(pairs, "user_id int, movie_id int")).toPandas()
    merged = pairs.merge(expected, on=["user_id", "movie_id"])
    np.testing.assert_allclose(fused, merged["prediction"], rtol=0, atol=1e-9)


def test_biased_factors_score_like_predict_before_clipping(spark, biased_low_rank):
    train, _ = biased_low_rank
    model = fitting.fit_biased_als(train, ALSParams(rank=2, reg_param=0.1, **FAST), reg_user=2.0, reg_item=2.0)
    user_factors, item_factors = fitting.biased_factors(model)
    u = {r["id"]: np.array(r["features"]) for r in user_factors.collect()}
    v = {r["id"]: np.array(r["features"]) for r in item_factors.collect()}
    users, _ = _bias_maps((model.global_mean, model.user_bias, model.item_bias))

    for row in fitting.predict(model, train.limit(30)).collect():
        unclipped = model.global_mean + users[row["user_id"]] + u[row["user_id"]] @ v[row["movie_id"]]
        if 0.5 < unclipped < 5.0:
            assert row["prediction"] == pytest.approx(unclipped, abs=1e-4)


def _fitted_tables(models):
    from spark_engine.frames import collect_factors

    stars = models.stars
    tables = {
        "mu": np.array([stars.global_mean]),
        "user_bias": stars.user_bias.toPandas().sort_values("user_id").to_numpy(),
        "item_bias": stars.item_bias.toPandas().sort_values("movie_id").to_numpy(),
    }
    for name, frame in (
        ("stars_users", stars.als.userFactors),
        ("stars_items", stars.als.itemFactors),
        ("list_users", models.list_users),
        ("list_items", models.list_items),
    ):
        ids, matrix = collect_factors(frame, name)
        tables[f"{name}_ids"], tables[name] = ids, matrix
    return tables


@pytest.mark.parametrize("biases_on_driver", [True, False])
def test_both_models_fitted_at_the_same_time_equal_the_ones_fitted_in_turn(spark, biased_low_rank, biases_on_driver):
    train, _ = biased_low_rank
    config = fitting.QualityConfig(
        ratings=ALSParams(rank=3, reg_param=0.1, **FAST),
        biased=True,
        lists=fitting.ListParams(als=ALSParams(rank=4, implicit_prefs=True, alpha=2.0, reg_param=0.3, **FAST)),
        stars_list_weight=0.4,
        stars_list_offset=-0.1,
    )

    in_turn = _fitted_tables(fitting.fit_models(train, config, biases_on_driver=biases_on_driver))
    together = _fitted_tables(fitting.fit_models(train, config, biases_on_driver=biases_on_driver, concurrent=True))

    assert in_turn.keys() == together.keys()
    for name in in_turn:  # bit for bit, not approximately: the same seeds and blocks give the same factors
        assert in_turn[name].shape == together[name].shape, name
        assert np.array_equal(in_turn[name], together[name]), name
    assert in_turn["list_users"].size and in_turn["stars_users"].size


def test_a_list_fit_failing_in_its_thread_fails_the_concurrent_fit(spark, biased_low_rank, monkeypatch):
    train, _ = biased_low_rank

    def broken(train, params):
        raise RuntimeError("list fit broke")

    monkeypatch.setattr(fitting, "fit_list_model", broken)
    config = fitting.QualityConfig(ratings=ALSParams(rank=3, **FAST), biased=True, lists=fitting.ListParams())
    with pytest.raises(RuntimeError, match="list fit broke"):
        fitting.fit_models(train, config, biases_on_driver=True, concurrent=True)


def test_catalogue_coverage_counts_distinct_movies_in_top_k(spark):
    recommended = spark.createDataFrame(
        [(1, 10, 1, 0.9), (1, 11, 2, 0.8), (1, 12, 3, 0.7), (2, 10, 1, 0.9), (2, 13, 2, 0.5)],
        "user_id int, movie_id int, rank int, score float",
    )
    train = spark.createDataFrame([(1, m) for m in range(10, 20)], "user_id int, movie_id int")

    assert metrics.catalogue_coverage(recommended, train, k=2) == pytest.approx(3 / 10)  # 10, 11, 13
    assert metrics.catalogue_coverage(recommended, train, k=10) == pytest.approx(4 / 10)
    assert metrics.catalogue_coverage(recommended.limit(0), train, k=10) == 0.0
    with pytest.raises(ValueError):
        metrics.catalogue_coverage(recommended, train, k=0)


def test_implicit_feedback_centres_ratings_and_the_blend_adds_popularity(spark, biased_low_rank):
    train, _ = biased_low_rank
    centred = fitting.ListParams(
        als=ALSParams(rank=3, reg_param=0.1, implicit_prefs=True, alpha=2.0, **FAST), confidence="centered"
    )
    values = fitting.implicit_feedback(train, centred).join(
        train.withColumnRenamed("rating", "stars"), ["user_id", "movie_id"]
    )
    assert values.where(F.abs(F.col("rating") - (F.col("stars") - 3.0)) > 1e-6).count() == 0

    blended = fitting.ListParams(als=centred.als, confidence="centered", popularity_weight=0.25)
    users, items = fitting.fit_list_model(train, blended)
    assert {len(r["features"]) for r in users.collect()} == {4}
    assert all(r["features"][-1] == pytest.approx(0.25) for r in users.collect())
    counts = {r["movie_id"]: r["count"] for r in train.groupBy("movie_id").count().collect()}
    for row in items.collect():
        assert row["features"][-1] == pytest.approx(math.log1p(counts[row["id"]]), rel=1e-5)
    with pytest.raises(ValueError):
        fitting.ListParams(als=ALSParams(rank=3))  # not implicit


def test_restrict_items_keeps_movies_with_enough_ratings(spark):
    factors = spark.createDataFrame([(10, [1.0]), (11, [2.0])], FACTORS_SCHEMA)
    train = spark.createDataFrame([(u, 10) for u in range(3)] + [(0, 11)], "user_id int, movie_id int")

    assert [r["id"] for r in metrics.restrict_items(factors, train, 3).collect()] == [10]


@pytest.mark.slow
def test_evaluate_protocol_reports_tutorial_configs_and_popularity_on_one_split(biased_low_rank):
    train, test = biased_low_rank
    small = fitting.QualityConfig(
        ratings=ALSParams(rank=2, reg_param=0.1, **FAST),
        biased=True,
        reg_user=2.0,
        reg_item=2.0,
        lists=fitting.ListParams(als=ALSParams(rank=2, reg_param=0.1, implicit_prefs=True, alpha=2.0, **FAST)),
    )
    steps = []

    result = metrics.evaluate_protocol(
        train.unionByName(test), {"small": small}, seed=4, ranks=(2,), k=5, num_blocks=2, on_step=steps.append
    )

    split = result["split"]
    assert split["train"] + split["validation"] + split["test"] == train.count() + test.count()
    assert set(result["tutorial"]["validation_rmse"]) == {"2"} and result["tutorial"]["best_rank"] == 2
    entry = result["configs"]["small"]
    assert entry["config"]["biased"] and entry["config"]["lists"]["als"]["implicit_prefs"]
    for key in ("validation_rmse", "test_rmse", "test_rmse_refit"):
        assert 0 < entry[key] < 1.5, key
    for lists in (entry["lists"], result["tutorial"]["lists"], result["popularity"]):
        assert set(lists) >= {"precision_at_5", "recall_at_5", "ndcg_at_5", "map_at_5", "coverage_at_5"}
        assert 0 <= lists["ndcg_at_5"] <= 1 and 0 < lists["coverage_at_5"] <= 1
    assert len(steps) == 4  # tutorial rank, tutorial best, the config, popularity
    json.dumps(result)  # plain data, ready to store


@pytest.fixture
def evaluate_checkpoint_reset(spark, tmp_path_factory):
    """The command points the shared session's checkpoint dir at its temporary folder; restore a live one."""
    yield
    spark.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("spark-checkpoints")))


@pytest.mark.slow
@pytest.mark.django_db
def test_evaluate_command_ends_with_the_summary_line(spark, settings, tmp_path, capsys, evaluate_checkpoint_reset):
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.ALS_RANK, settings.ALS_MAX_ITER = 2, 4
    settings.LIST_ALS_MAX_ITER = 4  # LIST_ALS_RANK stays 32: too large for 15 movies, capped as a retrain caps it
    rng = np.random.default_rng(2)
    users = [UserFactory() for _ in range(20)]
    movies = [MovieFactory() for _ in range(15)]
    taste = rng.normal(0, 1, (20, 1)) @ rng.normal(0, 1, (1, 15))
    for i, user in enumerate(users):
        for j, movie in enumerate(movies):
            if rng.random() < 0.7:
                stars = float(np.clip(round((3.5 + taste[i, j]) * 2) / 2, 0.5, 5.0))
                RatingFactory(user=user, movie=movie, value=Decimal(str(stars)))

    call_command("evaluate", "--ranks", "2", "--seed", "1")

    out = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("tutorial rank 2") for line in out)
    # Beyond accuracy next to the ranking metrics, for every list judged
    beyond = out.index(next(line for line in out if line.startswith("Beyond accuracy (top-10)")))
    assert "novelty" in out[beyond] and "personal." in out[beyond] and out[beyond + 1].startswith("tutorial (rank 2")
    # The defaults are the two models a retrain publishes, the stars regParam chosen on the validation part from the
    # last run's choice (none here: the setting, 0.15) as a retrain chooses it.
    defaults = [line for line in out if line.startswith("defaults (biased rank 2, reg ")]
    assert defaults and all(
        re.match(r"defaults \(biased rank 2, reg [0-9.]+ chosen; lists implicit rank 7\)", line) for line in defaults
    )
    chosen = EvaluationReport.objects.get().results["configs"]["defaults"]["reg_search"]
    assert chosen["start"] == pytest.approx(0.15) and f"reg {chosen['chosen']:g} chosen" in defaults[0]
    match = re.fullmatch(r"test RMSE (\S+) NDCG@10 (\S+) popularity NDCG@10 (\S+)", out[-1])
    assert match, out[-1]
    rmse_value, ndcg, popularity = (float(x) for x in match.groups())
    assert 0 < rmse_value < 2 and 0 <= ndcg <= 1 and 0 <= popularity <= 1
    assert not any((tmp_path / "runs").iterdir())  # the export was temporary
    report = EvaluationReport.objects.get()  # recorded for the staff page
    assert report.kind == "evaluate" and report.summary == out[-1] and report.ratings_count == Rating.objects.count()
    assert report.rmse == pytest.approx(rmse_value, abs=1e-4) and report.ndcg_at_10 == pytest.approx(ndcg, abs=1e-4)


@pytest.mark.django_db
def test_the_proposed_configuration_is_what_a_retrain_publishes_with_the_default_settings():
    from recommendations.retrain import RetrainOptions
    from spark_engine import stages

    options = RetrainOptions.from_settings()
    published = stages.model_config(options, ratings_count=100_836, parallelism=2)
    assert published == fitting.with_run_options(
        fitting.PROPOSED, seed=options.seed, num_blocks=published.ratings.num_blocks
    )


def test_split_by_time_holds_out_each_users_latest_ratings(spark):
    # User 1: ten ratings, the timestamps shuffled against the movie ids; user 2: five, two sharing a timestamp
    # (the lower movie id counts as earlier).
    ts_one = [50, 10, 90, 30, 70, 20, 100, 40, 60, 80]
    rows = [(1, 100 + j, 4.0, ts) for j, ts in enumerate(ts_one)]
    rows += [(2, 200, 3.0, 5), (2, 201, 3.0, 1), (2, 202, 3.0, 9), (2, 203, 3.0, 9), (2, 204, 3.0, 2)]
    ratings = spark.createDataFrame(rows, "user_id int, movie_id int, rating float, ts long")

    train, validation, test = (
        {(r.user_id, r.movie_id) for r in part.collect()} for part in metrics.split_three_by_time(ratings)
    )

    by_time = [100 + j for j in np.argsort(ts_one)]
    assert {m for u, m in train if u == 1} == set(by_time[:6])
    assert {m for u, m in validation if u == 1} == set(by_time[6:8])
    assert {m for u, m in test if u == 1} == set(by_time[8:])  # the latest 20%: ts 90 and 100
    # user 2 in time order: 201, 204, 200, 202, 203 (202 before 203 at the same ts)
    assert {m for u, m in train if u == 2} == {201, 204, 200}
    assert {m for u, m in validation if u == 2} == {202}
    assert {m for u, m in test if u == 2} == {203}
    assert len(train) + len(validation) + len(test) == ratings.count()
    assert set(metrics.split_three_by_time(ratings)[0].columns) == {"user_id", "movie_id", "rating", "ts"}
    with pytest.raises(ValueError):
        metrics.split_three_by_time(ratings.drop("ts"))


@pytest.mark.slow
@pytest.mark.django_db
def test_evaluate_time_aware_reports_both_protocols(spark, settings, tmp_path, capsys, evaluate_checkpoint_reset):
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.ALS_RANK, settings.ALS_MAX_ITER = 2, 4
    settings.LIST_ALS_MAX_ITER = 4
    rng = np.random.default_rng(4)
    users = [UserFactory() for _ in range(20)]
    movies = [MovieFactory() for _ in range(15)]
    start = datetime(2020, 1, 1, tzinfo=UTC)
    for user in users:
        for movie in movies:
            if rng.random() < 0.7:
                RatingFactory(
                    user=user,
                    movie=movie,
                    value=Decimal(str(float(rng.integers(1, 11)) / 2)),
                    rated_at=start + timedelta(days=int(rng.integers(0, 1000))),
                )

    call_command("evaluate", "--ranks", "2", "--seed", "1", "--time-aware")

    out = capsys.readouterr().out.strip().splitlines()
    assert any("split by time within each user" in line for line in out)
    both = out.index(next(line for line in out if line.startswith("Both protocols")))
    assert out[both + 1].startswith("random 60/20/20") and out[both + 2].startswith("time-aware (latest 20%")
    assert re.fullmatch(r"test RMSE (\S+) NDCG@10 (\S+) popularity NDCG@10 (\S+)", out[-1]), out[-1]
    report = EvaluationReport.objects.get()
    timed = report.results["time_aware"]
    assert timed["split"]["protocol"] == "time" and report.results["split"]["protocol"] == "random"
    # Exactly each user's latest 20% (by place, rounded as split_three_by_time does) is the time-aware test part
    expected = 0
    for user in users:
        n = Rating.objects.filter(user=user).count()
        expected += sum(1 for i in range(n) if i / n >= 0.8)
    assert timed["split"]["test"] == expected
    assert 0 < timed["configs"]["defaults"]["test_rmse_refit"] < 2
