"""The synthetic ML-25M-shaped generator, at tiny scale."""

import csv
import re

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from catalog.models import Movie, Tag
from movielens import loader
from movielens.errors import MovieLensError
from movielens.services import movielens_import
from movielens.synthetic import (
    GENRE_WEIGHTS,
    SyntheticConfig,
    SyntheticDataset,
    synthetic_load_into_db,
    synthetic_write_csv,
)
from ratings.models import Rating

TINY = SyntheticConfig(ratings=2_000, users=50, movies=100, seed=7)


def read_ratings(folder):
    data = np.loadtxt(folder / "ratings.csv", delimiter=",", skiprows=1)
    return data[:, 0].astype(int), data[:, 1].astype(int), data[:, 2], data[:, 3].astype(int)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    synthetic_write_csv(config=TINY, out_dir=folder, progress=False)
    return folder


def test_sizes_are_exact(tiny_folder):
    users, movies, values, _ = read_ratings(tiny_folder)
    assert len(values) == TINY.ratings
    assert len(np.unique(users)) == TINY.users
    assert movies.min() >= 1 and movies.max() <= TINY.movies
    with open(tiny_folder / "movies.csv", encoding="utf-8") as handle:
        assert sum(1 for _ in handle) == TINY.movies + 1


def test_every_user_has_twenty_ratings_and_no_pair_repeats(tiny_folder):
    users, movies, _, _ = read_ratings(tiny_folder)
    assert np.bincount(users)[1:].min() >= 20
    assert len(np.unique(users.astype(np.int64) * 1_000_000 + movies)) == len(users)


def test_ratings_are_half_stars_sorted_by_user_and_movie(tiny_folder):
    users, movies, values, stamps = read_ratings(tiny_folder)
    assert set(np.unique(values)) <= {h / 2 for h in range(1, 11)}
    assert 3.0 < values.mean() < 4.0
    keys = users.astype(np.int64) * 1_000_000 + movies
    assert np.all(np.diff(keys) > 0)
    assert stamps.min() >= 789652009


def test_movies_look_like_movielens(tiny_folder):
    with open(tiny_folder / "movies.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(re.fullmatch(r"Synthetic Movie \d+( \(\d{4}\))?", row["title"]) for row in rows)
    genres = {g for row in rows for g in row["genres"].split("|")} - {"(no genres listed)"}
    assert genres <= set(GENRE_WEIGHTS) and len(GENRE_WEIGHTS) == 19
    with open(tiny_folder / "links.csv", encoding="utf-8") as handle:
        assert all(re.fullmatch(r"\d{7}", row["imdbId"]) for row in csv.DictReader(handle))


def test_popularity_is_skewed_at_larger_scale():
    dataset = SyntheticDataset(SyntheticConfig(ratings=200_000, users=1_000, movies=5_000, seed=1))
    counts = np.zeros(5_001, dtype=np.int64)
    per_user = np.zeros(1_001, dtype=np.int64)
    for batch in dataset.rating_chunks():
        counts += np.bincount(batch.movie_id, minlength=5_001)
        per_user += np.bincount(batch.user_id, minlength=1_001)
    ranked = np.sort(counts[1:])[::-1]
    # Zipf-like: the top 1% of movies get more ratings than the bottom half, the top one 20x the median.
    assert ranked[:50].sum() > ranked[-2_500:].sum()
    assert ranked[0] > 20 * ranked[2_499]
    assert per_user[1:].min() >= 20 and per_user.max() > 5 * np.median(per_user[1:])
    assert counts.sum() == 200_000


def test_same_seed_same_data(tmp_path):
    synthetic_write_csv(config=TINY, out_dir=tmp_path / "a", progress=False)
    synthetic_write_csv(config=TINY, out_dir=tmp_path / "b", progress=False)
    assert (tmp_path / "a" / "ratings.csv").read_bytes() == (tmp_path / "b" / "ratings.csv").read_bytes()


@pytest.mark.parametrize(
    "config",
    [SyntheticConfig(ratings=999, users=50, movies=100), SyntheticConfig(ratings=6_000, users=50, movies=100)],
)
def test_impossible_sizes_are_refused(config):
    with pytest.raises(MovieLensError):
        SyntheticDataset(config)


@pytest.mark.django_db
def test_the_csv_folder_imports(tiny_folder):
    summary = movielens_import(path=tiny_folder, progress=False)

    assert (summary.movies_created, summary.users_created, summary.ratings_created) == (100, 50, 2_000)
    assert Rating.objects.count() == 2_000


@pytest.mark.django_db(transaction=True)
def test_command_loads_into_an_empty_database_and_refuses_a_full_one_without_force():
    args = ["--into-db", "--ratings", "2000", "--users", "50", "--movies", "100", "--tags", "30", "--no-progress"]
    call_command("generate_movielens_synthetic", *args)

    assert (Movie.objects.count(), Rating.objects.count()) == (100, 2_000)
    assert User.objects.filter(movielens_id__isnull=False).count() == 50
    assert Tag.objects.exists()
    assert Movie.objects.filter(rating_count__gt=0).exists()

    with pytest.raises(CommandError, match="not empty"):
        call_command("generate_movielens_synthetic", *args)

    call_command("generate_movielens_synthetic", *args[:-1], "--seed", "3", "--force", "--no-progress")
    assert (Movie.objects.count(), Rating.objects.count()) == (100, 2_000)
    assert User.objects.filter(movielens_id__isnull=False).count() == 50  # users reused


def test_command_writes_a_csv_folder(tmp_path, capsys):
    call_command(
        "generate_movielens_synthetic", "--csv-dir", str(tmp_path), "--ratings", "2000", "--users", "50",
        "--movies", "100", "--no-progress",
    )  # fmt: skip

    assert sorted(p.name for p in tmp_path.iterdir()) == ["links.csv", "movies.csv", "ratings.csv", "tags.csv"]
    assert "Generated 2000 ratings by 50 users of 100 movies" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_a_bulk_sized_load_into_the_database_goes_straight_into_the_ratings_table(monkeypatch):
    monkeypatch.setattr(loader, "BULK_MIN_ROWS", 100)
    stats = synthetic_load_into_db(config=TINY, progress=False)

    assert stats.counts.bulk and stats.counts.ratings_created == 2_000
    assert Rating.objects.count() == 2_000
    assert Movie.objects.get(pk=1).rating_count == Rating.objects.filter(movie_id=1).count()
