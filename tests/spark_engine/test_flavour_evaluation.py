"""`manage.py evaluate --flavours`: every list flavour scored on one holdout split with the site's code."""

import re
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recommendations import flavours
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
    assert "MMR λ 0.3 novelty" in out[0]
    assert out[1].startswith("chosen on a validation split (20% of the training part, seed 43)")
    assert [line.split(":")[0].strip() for line in out[2:5]] == ["Something different", "Hidden gems", "Your genre mix"]
    header = next(i for i, line in enumerate(out) if line.startswith("list "))
    labels = [line[:22].strip() for line in out[header + 1 : header + 7]]
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

    # The parameters were chosen on the validation part, a share of the training part (never the test part), with
    # the given λ kept and every other searched; the chosen values are those the test table used.
    parameters, validation = report.results["parameters"], report.results["validation"]
    assert parameters["mmr_lambda"] == 0.3
    assert set(parameters["searched"]) == {
        "mmr_novelty",
        "different_pool",
        "gem_discount",
        "gem_neighbour_weight",
        "calibration_lambda",
    }
    test_split, validation_split = report.results["split"], validation["split"]
    assert validation_split["train"] < test_split["train"] < test_split["ratings"]
    assert validation_split["train"] == pytest.approx(0.8 * test_split["train"], rel=0.15)
    search = validation["search"]
    assert len(search["different"]["trials"]) == len(flavours.DIFFERENT_GRID["mmr_novelty"]) * len(
        flavours.DIFFERENT_GRID["different_pool"]
    )
    for flavour, entry in search.items():
        assert all(trial["setting"].get("mmr_lambda", 0.3) == 0.3 for trial in entry["trials"])
        for name, value in entry["chosen"].items():
            assert parameters[name] == value, (flavour, name)
    assert not any((tmp_path / "runs").iterdir())


@pytest.mark.django_db
def test_evaluate_flavours_without_a_validation_split_uses_the_modules_values(
    spark, settings, tmp_path, capsys, checkpoint_reset
):
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.ALS_RANK, settings.ALS_MAX_ITER = 2, 4
    settings.LIST_ALS_MAX_ITER = 4
    rng = np.random.default_rng(5)
    users = [UserFactory() for _ in range(20)]
    movies = [MovieFactory() for _ in range(15)]
    for user in users:
        for movie in movies:
            if rng.random() < 0.6:
                RatingFactory(user=user, movie=movie, value=Decimal(str(float(rng.integers(1, 11)) / 2)))

    call_command("evaluate", "--flavours", "--validation", "0")

    out = capsys.readouterr().out.strip().splitlines()
    assert out[1] == "no validation split: the parameters as given"
    report = EvaluationReport.objects.get()
    assert report.results["validation"] is None
    assert report.results["parameters"]["searched"] == []
    assert report.results["parameters"]["mmr_lambda"] == flavours.MMR_LAMBDA
    assert report.results["parameters"]["calibration_lambda"] == flavours.CALIBRATION_LAMBDA


@pytest.mark.django_db
def test_evaluate_flavours_only_measures_the_flavours_named_and_stores_nothing(
    spark, settings, tmp_path, capsys, checkpoint_reset
):
    settings.TRAINING_RUNS_DIR = tmp_path / "runs"
    settings.ALS_RANK, settings.ALS_MAX_ITER = 2, 4
    settings.LIST_ALS_MAX_ITER = 4
    rng = np.random.default_rng(6)
    users = [UserFactory() for _ in range(20)]
    movies = [MovieFactory() for _ in range(15)]
    for user in users:
        for movie in movies:
            if rng.random() < 0.6:
                RatingFactory(user=user, movie=movie, value=Decimal(str(float(rng.integers(1, 11)) / 2)))

    call_command("evaluate", "--flavours", "--only", "hidden_gems", "--gem-head-share", "0.6")

    out = capsys.readouterr().out.strip().splitlines()
    assert "head share 0.6" in out[0]
    # Only hidden gems were searched, and the table has them with their references, nothing else.
    assert [line.split(":")[0].strip() for line in out[2:3]] == ["Hidden gems"]
    assert not any(line.strip().startswith(("Something different:", "Your genre mix:")) for line in out)
    header = next(i for i, line in enumerate(out) if line.startswith("list "))
    labels = [line[:22].strip() for line in out[header + 1 : header + 5]]
    assert labels == ["popularity", "popular gems", "Top picks", "Hidden gems"]
    assert out[-1].startswith("(--only: not stored")
    assert not EvaluationReport.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--only", "hidden_gem"), "--only takes flavours"),
        (("--only", ","), "--only takes flavours"),
        (("--gem-head-share", "0"), "--gem-head-share must be above 0"),
        (("--gem-head-share", "1.5"), "--gem-head-share must be above 0"),
    ],
)
def test_evaluate_flavours_refuses_bad_only_and_head_share(arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command("evaluate", "--flavours", *arguments)
    assert not EvaluationReport.objects.exists()
