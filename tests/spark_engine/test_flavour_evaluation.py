"""`manage.py evaluate --flavours`: every list flavour scored on one holdout split with the site's code."""

import re
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command

from recommendations.models import EvaluationReport
from tests.factories import GenreFactory, MovieFactory, RatingFactory, UserFactory

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture
def checkpoint_reset(spark, tmp_path_factory):
    """The command points the shared session's checkpoint dir at its temporary folder; restore a live one."""
    yield
    spark.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("spark-checkpoints")))


@pytest.mark.django_db
def test_evaluate_flavours_prints_and_records_the_trade_off_table(spark, settings, tmp_path, capsys, checkpoint_reset):
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.ALS_RANK, settings.ALS_MAX_ITER = 2, 4
    settings.LIST_ALS_MAX_ITER = 4
    rng = np.random.default_rng(3)
    genres = [GenreFactory(name=name) for name in ("Comedy", "Drama", "Horror")]
    users = [UserFactory() for _ in range(30)]
    movies = [MovieFactory() for _ in range(24)]
    for j, movie in enumerate(movies):
        movie.genres.add(genres[j % 3])
    taste = rng.normal(0, 1, (30, 2)) @ rng.normal(0, 1, (2, 24))
    for i, user in enumerate(users):
        for j, movie in enumerate(movies):
            if rng.random() < 0.6 - 0.02 * j:  # later movies are rated less: a long tail
                stars = float(np.clip(round((3.5 + taste[i, j]) * 2) / 2, 0.5, 5.0))
                RatingFactory(user=user, movie=movie, value=Decimal(str(stars)))

    call_command("evaluate", "--flavours", "--k", "5", "--mmr-lambda", "0.3")

    out = capsys.readouterr().out.strip().splitlines()
    assert "MMR λ 0.3, calibration λ 0.5" in out[0]
    labels = [line[:22].strip() for line in out[3:9]]
    assert labels == ["popularity", "popular gems", "Top picks", "Something different", "Hidden gems", "Your genre mix"]
    assert re.fullmatch(
        r"popularity NDCG@5 \S+ popular_gems NDCG@5 \S+ top_picks NDCG@5 \S+ different NDCG@5 \S+ "
        r"hidden_gems NDCG@5 \S+ genre_mix NDCG@5 \S+",
        out[-1],
    ), out[-1]
    report = EvaluationReport.objects.get()
    assert report.kind == "flavours" and report.summary == out[-1]
    rows = report.results["rows"]
    assert set(rows) == {"popularity", "popular_gems", "top_picks", "different", "hidden_gems", "genre_mix"}
    for name, metrics in rows.items():
        assert set(metrics) >= {"ndcg_at_5", "coverage_at_5", "novelty_at_5", "personalisation_at_5"}, name
    assert report.ndcg_at_10 is None  # k 5: no figure at 10
    assert rows["top_picks"]["users_evaluated"] == rows["popularity"]["users_evaluated"] > 0
    # MMR spreads the lists over more of the catalogue than the list model's own order
    assert rows["different"]["diversity_at_5"] > rows["top_picks"]["diversity_at_5"]
    assert report.results["parameters"]["mmr_lambda"] == 0.3
    assert not any((tmp_path / "runs").iterdir())
