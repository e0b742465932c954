"""The retrain learns a content map and publishes it with the run; data too small for one only warns."""

from decimal import Decimal

import numpy as np
import pytest

from accounts.models import User
from catalog.models import Genre, Movie
from ratings.models import Rating
from recommendations.content import content_map_for_run, content_prior
from recommendations.models import ContentMap, ItemFactor, TrainingRun
from recommendations.retrain import RetrainOptions
from spark_engine.pipeline import retrain

pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]


def _genre_taste_ratings(*, n_users: int, n_movies: int, seed: int = 3):
    """Half the users love comedies and dislike dramas, half the other way; every movie is one or the other."""
    rng = np.random.default_rng(seed)
    comedy, drama = Genre.objects.create(name="Comedy"), Genre.objects.create(name="Drama")
    users = User.objects.bulk_create(User(username=f"g{i}", password="!") for i in range(n_users))
    movies = Movie.objects.bulk_create(
        Movie(id=200 + j, title=f"Film {j} (1990)", year=1990 + j % 20) for j in range(n_movies)
    )
    for j, movie in enumerate(movies):
        movie.genres.add(comedy if j % 2 == 0 else drama)
    rows = []
    for i, user in enumerate(users):
        for j, movie in enumerate(movies):
            if rng.random() < 0.6:
                likes = (i % 2 == 0) == (j % 2 == 0)
                value = Decimal("4.5") if likes else Decimal("1.5")
                rows.append(Rating(user=user, movie=movie, value=value, rated_at="2024-01-01T00:00Z"))
    Rating.objects.bulk_create(rows)
    return comedy, drama, movies


def _options():
    return RetrainOptions.from_settings(
        rank=3, max_iter=5, list_rank=4, list_max_iter=5, top_n=5, similar_k=3, evaluate=False
    )


def test_retrain_publishes_a_content_map_that_places_a_new_movie_among_its_genre(spark):
    comedy, drama, movies = _genre_taste_ratings(n_users=30, n_movies=60)
    stages_seen = []

    run = retrain(options=_options(), on_stage=lambda stage, detail: stages_seen.append((stage, detail)))

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.is_active and run.warnings == []
    assert run.content_seconds is not None
    assert "content map" in [stage for stage, _ in stages_seen]
    record = ContentMap.objects.get(run=run)
    assert record.movies_learned == 60 and record.features >= 2
    assert record.list_r2 is not None and record.list_r2 > 0.5  # the genre explains the factors
    assert record.learn_seconds is not None

    new_comedy = Movie.objects.create(id=9000, title="New Funny (2024)", year=2024)
    new_comedy.genres.add(comedy)
    prior = content_prior(run=run, movie_ids=[new_comedy.pk])
    assert prior.found.tolist() == [True]
    assert prior.stars_factors.shape == (1, 3) and prior.list_factors.shape == (1, 4)
    factors = dict(ItemFactor.objects.filter(run=run).values_list("movie_id", "factors"))
    comedies = np.array([factors[m.pk] for m in movies[0::2]])
    dramas = np.array([factors[m.pk] for m in movies[1::2]])
    v = prior.list_factors[0]
    assert np.linalg.norm(v - comedies.mean(axis=0)) < 0.5 * np.linalg.norm(v - dramas.mean(axis=0))
    assert content_map_for_run(run).movies_learned == 60


def test_a_map_that_cannot_be_learned_is_a_warning_on_a_succeeded_run(spark):
    _genre_taste_ratings(n_users=30, n_movies=8)

    run = retrain(options=_options())

    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.is_active
    assert not ContentMap.objects.filter(run=run).exists()
    assert len(run.warnings) == 1 and run.warnings[0].startswith("content map skipped: only 8 movies")
    assert not content_prior(run=run, movie_ids=[200]).found.any()
