"""Reads for recommendations: the active run and what it publishes."""

from __future__ import annotations

from django.db.models import QuerySet

from catalog.models import Movie
from ratings.models import Rating

from .models import Recommendation, SimilarMovie, TrainingRun


def training_run_active() -> TrainingRun | None:
    return TrainingRun.objects.filter(is_active=True).first()


def training_run_last_succeeded() -> TrainingRun | None:
    return TrainingRun.objects.filter(status=TrainingRun.Status.SUCCEEDED).order_by("-finished_at").first()


def ratings_count_since_last_run() -> int:
    """Ratings written after the snapshot of the last successful run (all of them if none)."""
    last = training_run_last_succeeded()
    ratings = Rating.objects.all()
    if last is not None and last.ratings_snapshot_at is not None:
        ratings = ratings.filter(rated_at__gt=last.ratings_snapshot_at)
    return ratings.count()


def recommendation_list_for_user(*, user, limit: int = 50, run: TrainingRun | None = None) -> QuerySet[Recommendation]:
    """The user's stored top-N from `run` (the active run by default), best first.

    Movies the user rated after the run's snapshot are left out: a recommendation for a
    movie you have just rated is noise.
    """
    run = run or training_run_active()
    if run is None:
        return Recommendation.objects.none()
    rated = Rating.objects.filter(user=user).values("movie_id")
    return (
        Recommendation.objects.filter(run=run, user=user)
        .exclude(movie_id__in=rated)
        .select_related("movie")
        .order_by("rank")[:limit]
    )


def similar_movie_list(*, movie: Movie, limit: int = 20, run: TrainingRun | None = None) -> QuerySet[SimilarMovie]:
    run = run or training_run_active()
    if run is None:
        return SimilarMovie.objects.none()
    return SimilarMovie.objects.filter(run=run, movie=movie).select_related("similar").order_by("rank")[:limit]
