"""The cold-start evaluation: the simulated onboarding and its metrics on a tiny hand-made data set, and (Spark) one
small end-to-end `evaluate --cold-start`."""

from __future__ import annotations

import math
import re
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command

from recommendations import foldin
from recommendations.models import EvaluationReport
from recommendations.onboarding import OnboardingPool
from spark_engine import cold_start
from spark_engine.cold_start import ColdStartData, held_out_from_arrays, onboard, simulate
from tests.factories import MovieFactory, RatingFactory, UserFactory

MOVIES = np.arange(1, 7, dtype=np.int64)


def _data(held: dict[int, dict[int, float]]) -> ColdStartData:
    # Movies 1, 3 and 6 share one taste direction, the others another (5 most strongly). Stars: biases 0, no factors.
    matrix = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [0, 1.5], [1, 0]], dtype=np.float32)
    factors = foldin.ItemFactors(
        run_id=0, movie_ids=MOVIES, matrix=matrix, reg_param=0.1, implicit_prefs=True, alpha=1.0, center=3.0
    )
    stars = foldin.StarsModel(
        run_id=0,
        global_mean=3.0,
        movie_ids=MOVIES,
        biases=np.zeros(6),
        matrix=np.zeros((6, 2), np.float32),
        reg_param=0.1,
        reg_user=0.0,
    )
    users, movies, values = [], [], []
    for user, ratings in held.items():
        for movie, value in ratings.items():
            users.append(user)
            movies.append(movie)
            values.append(value)
    counts = np.array([60.0, 50.0, 40.0, 30.0, 20.0, 10.0])
    return ColdStartData(
        factors=factors,
        stars=stars,
        movie_ids=MOVIES,
        counts=counts,
        histograms=np.zeros((6, 10)),
        train_users=100,
        train_ratings=210,
        held_out=held_out_from_arrays(np.array(users), np.array(movies), np.array(values)),
    )


def _pool(data: ColdStartData) -> OnboardingPool:
    return OnboardingPool(movie_ids=data.movie_ids, counts=data.counts, raters=100, factors=data.factors.matrix)


def test_the_simulated_user_rates_what_they_rated_in_truth_page_by_page_until_the_target():
    pool = OnboardingPool(movie_ids=np.arange(1, 31), counts=np.arange(30, 0, -1.0), raters=100)
    truth = {2: 4.0, 5: 3.0, 14: 5.0, 25: 1.0, 29: 2.0}
    rated, shown = onboard(strategy="popular", pool=pool, truth=truth, target=3, page_size=10, max_shown=60)
    assert rated == {2: 4.0, 5: 3.0, 14: 5.0} and shown == 20  # the third rating was on the second page
    rated, shown = onboard(strategy="popular", pool=pool, truth=truth, target=10, page_size=10, max_shown=20)
    assert rated == {2: 4.0, 5: 3.0, 14: 5.0} and shown == 20  # stops at max_shown
    rated, shown = onboard(strategy="popular", pool=pool, truth=truth, target=10, page_size=10, max_shown=60)
    assert len(rated) == 5 and shown == 30  # the pool ran out


def test_simulation_metrics_on_a_hand_computed_case():
    data = _data({7: {1: 5.0, 3: 4.0, 5: 2.0, 6: 5.0}})
    result = simulate(data, _pool(data), strategies=["popular"], k=4, target=2)
    entry = result["strategies"]["popular"]
    # The onboarding shows movies 1..6 and the user rates 1 and 3 (the target of two).
    assert entry["ratings_given"] == 2 and entry["shown"] == 6 and entry["reached_target"] == 1.0
    # Left to judge: 5 (2 stars) and 6 (5 stars, the one relevant movie). Popularity's list without the onboarding
    # movies is 2, 4, 5, 6: the hit at the fourth place.
    assert result["popularity"]["ndcg_at_4"] == pytest.approx(1 / math.log2(5))
    # The folded-in user likes the direction of 1 and 3, so 6 comes first.
    assert entry["ndcg_at_4"] == pytest.approx(1.0)
    assert entry["ndcg_vs_popularity"] == pytest.approx(math.log2(5))
    # Stars: b_u = mean(5 - 3, 4 - 3) = 1.5 (reg 0, no factors) gives 4.5 for both; no ratings gives μ = 3.
    assert entry["rmse"] == pytest.approx(math.sqrt((2.5**2 + 0.5**2) / 2))
    assert result["rmse_no_ratings"] == pytest.approx(math.sqrt((1 + 4) / 2))


def test_movies_any_strategy_collected_are_out_of_every_test_set_and_list():
    # "popular" collects 1 and 2; "popular_entropy" (movie 6 most divisive, then 5) collects 6 and 5.
    data = _data({7: {1: 3.5, 2: 5.0, 5: 5.0, 6: 5.0, 4: 4.0}})
    pool = OnboardingPool(
        movie_ids=data.movie_ids,
        counts=data.counts,
        raters=100,
        entropy=np.array([0.1, 0.1, 0.1, 0.1, 3.0, 4.0]),
    )
    result = simulate(data, pool, strategies=["popular", "popular_entropy"], k=1, target=2)
    # Only movie 4 is left to judge; popularity's list without 1, 2, 5 and 6 is 3: a miss.
    assert result["popularity"]["ndcg_at_1"] == 0.0
    assert result["strategies"]["popular"]["users_evaluated"] == 1
    # No list may hold a movie another strategy collected: "popular" (1 liked a little, 2 a lot: the second
    # direction) would put 5 first and miss; with 5 left out its first is 4, a hit.
    assert result["strategies"]["popular"]["ndcg_at_1"] == 1.0
    assert result["strategies"]["popular_entropy"]["ratings_given"] == 2


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.django_db
def test_evaluate_cold_start_holds_users_out_and_records_a_report(spark, settings, tmp_path, capsys):
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.ALS_RANK, settings.ALS_MAX_ITER, settings.LIST_ALS_MAX_ITER = 2, 3, 3
    rng = np.random.default_rng(3)
    users = [UserFactory() for _ in range(40)]
    # Enough movies that the onboardings (up to 60 shown each) leave every held-out user a test set.
    movies = [MovieFactory(year=1950 + j % 60) for j in range(120)]
    taste = rng.normal(0, 1, (40, 1)) @ rng.normal(0, 1, (1, 120))
    for i, user in enumerate(users):
        for j, movie in enumerate(movies):
            if rng.random() < 0.6 - 0.004 * j:
                stars = float(np.clip(round((3.5 + taste[i, j]) * 2) / 2, 0.5, 5.0))
                RatingFactory(user=user, movie=movie, value=Decimal(str(stars)))
    try:
        call_command("evaluate", "--cold-start", "--holdout-users", "0.25", "--seed", "1")
    finally:
        spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))

    out = capsys.readouterr().out.strip().splitlines()
    held = int(re.search(r"(\d+) held-out users", out[0]).group(1))
    trained = int(re.search(r"on the other (\d+)", out[0]).group(1))
    assert held > 0 and held + trained == 40  # every user on exactly one side
    for name in ("varied", "popular", "popular_entropy", "informative"):
        assert any(line.startswith(name) for line in out), name
    match = re.fullmatch(r"cold start (\w+) NDCG@10 (\S+) popularity NDCG@10 (\S+) RMSE (\S+)", out[-1])
    assert match, out[-1]
    assert float(match.group(2)) == float(match.group(2)), "the best strategy's NDCG@10 is a number, not NaN"
    report = EvaluationReport.objects.get()
    assert report.kind == EvaluationReport.Kind.COLD_START and report.summary == out[-1]
    assert report.results["best"] == match.group(1) and report.ndcg_at_10 == pytest.approx(float(match.group(2)), 1e-3)
    assert not any((tmp_path / "runs").iterdir())


@pytest.mark.spark
def test_fit_without_users_keeps_held_out_users_out_of_training(spark):
    from spark_engine import fitting

    rows = [(u, m, float(1 + (u * m) % 5)) for u in range(1, 31) for m in range(1, 21) if (u + m) % 3]
    ratings = spark.createDataFrame(rows, "user_id int, movie_id int, rating float")
    config = fitting.QualityConfig(
        ratings=fitting.ALSParams(rank=2, max_iter=2, num_blocks=1),
        biased=True,
        lists=fitting.ListParams(als=fitting.ALSParams(rank=2, max_iter=2, implicit_prefs=True, num_blocks=1)),
    )
    data = cold_start.fit_without_users(ratings, config, fraction=0.2, seed=5, biases_on_driver=True)
    held_users = set(data.held_out.ratings)
    held_count = sum(len(movies) for movies, _ in data.held_out.ratings.values())
    assert held_users and data.train_users + len(held_users) == 30
    assert data.train_ratings + held_count == len(rows)
    assert data.counts.sum() == data.train_ratings  # popularity and entropy come from training only
    assert data.factors.matrix.shape[1] == 2 and data.stars.matrix.shape[1] == 2
