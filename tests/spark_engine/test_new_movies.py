"""A movie added after a retrain is served from its content and ratings (recommendations.cold_items) until the next
retrain trains it: a real retrain (local Spark) before and after."""

from decimal import Decimal

import numpy as np
import pytest

from catalog.models import Movie
from ratings.models import Rating
from ratings.services import rating_upsert
from recommendations import cold_items, foldin
from recommendations.models import ItemFactor, StarsUserFactor, TrainingRun
from recommendations.selectors import new_movie_ids, recommendation_list_for_user_fresh, similar_movie_list
from spark_engine.pipeline import retrain
from tests.spark_engine.test_pipeline import _options, _seed_ratings

pytestmark = [pytest.mark.spark, pytest.mark.django_db(transaction=True)]


def test_a_new_movie_is_served_folded_in_until_the_next_retrain_trains_it(spark):
    users, movies = _seed_ratings()
    first = retrain(options=_options(evaluate=False), on_stage=lambda stage, detail: None)
    first.refresh_from_db()
    assert first.status == TrainingRun.Status.SUCCEEDED, first.error

    # The stars model's user terms are published: a user fold-in against the run's movie terms gives them back.
    stars = foldin.stars_model_for_run(first)
    published = {row.user_id: row for row in StarsUserFactor.objects.filter(run=first)}
    assert set(published) == {user.pk for user in users}
    for user in users[:8]:
        ratings = {m: float(v) for m, v in Rating.objects.filter(user=user).values_list("movie_id", "value")}
        folded = foldin.stars_user(model=stars, ratings=ratings)
        assert folded.bias == pytest.approx(published[user.pk].bias, abs=2e-3)
        np.testing.assert_allclose(folded.x, published[user.pk].factors, rtol=5e-3, atol=5e-3)

    new = Movie.objects.create(id=900, title="Arrived Today (2026)", year=2026)
    assert new_movie_ids() == {new.pk}
    raters = users[1:6]
    for user in raters:
        rating_upsert(user=user, movie=new, value=Decimal("4.5"))
    cold = cold_items.cold_items_for_run(first)
    assert cold.movie_ids.tolist() == [new.pk] and cold.ratings_used.tolist() == [len(raters)]
    assert np.abs(cold.list_matrix[0]).sum() > 0
    assert similar_movie_list(movie=new, limit=3)  # similar trained movies by its folded-in factors
    # Someone who did not rate it may be offered it (every unrated movie competes, labelled new).
    offered = [
        item
        for user in users[6:]
        for item in recommendation_list_for_user_fresh(user=user, limit=len(movies), min_ratings=0).items
        if item.movie.pk == new.pk
    ]
    assert offered and all(item.new for item in offered)

    second = retrain(options=_options(evaluate=False), on_stage=lambda stage, detail: None)
    second.refresh_from_db()
    assert second.status == TrainingRun.Status.SUCCEEDED, second.error
    assert ItemFactor.objects.filter(run=second, movie=new).exists()
    assert new_movie_ids() == set()
    for user in users[6:]:
        items = recommendation_list_for_user_fresh(user=user, limit=len(movies), min_ratings=0).items
        assert not any(item.new for item in items)
