"""Predicted stars that also know which movies a user watches: the list model's score blended into the stars model.

The stars model (biased ALS) learns from the star values only. The list model (implicit ALS on rating - 3) learns
which movies a user rates and likes, the information SVD++ adds to SVD through its implicit-feedback term, and every
retrain fits it anyway. `choose_stars_blend` fits, on held-out ratings, the linear blend

    prediction = mu + b_u + b_i + u.v + w * (x_u . y_i) + c

(w and c by least squares on the residual the stars model leaves; u.v keeps its weight 1: the published model is
refitted on more data than the one judged, so a weight fitted to the smaller fit's u.v would mostly measure how much
that fit overfits). The offset c re-centres the list score (its mean over rated pairs is positive). The blend is
kept only when it lowers the held-out squared error beyond noise (`reg_search.better_beyond_noise`), so a data set
where the list score does not help keeps today's stars.

`fitting.blend_stars_model` folds a chosen blend into the stars model's own form, so everything that serves stars (the
top-N pass's `stars_pair_scorer`, `predict`, the published stars terms and the site's fold-ins) needs no other
change: user rows [u, w * x_u] with bias b_u + c, movie rows [v, y_i] with bias b_i.

Pure Spark and numpy: DataFrames in, a fitted model and a plain record out; no Django, no files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_engine.fitting import MAX_RATING, MIN_RATING, BiasedALSModel, stars_pair_scorer
from spark_engine.frames import collect_factors, require_columns
from spark_engine.reg_search import better_beyond_noise


@dataclass(frozen=True)
class StarsBlend:
    """A chosen blend: `list_weight` w and `offset` c (see the module), with the held-out RMSE of the stars model
    alone (`rmse_before`) and blended (`rmse`) and the number of held-out pairs it was fitted on; `kept` says
    whether it beat the stars model alone beyond noise (if not, w and c are 0)."""

    list_weight: float
    offset: float
    rmse_before: float
    rmse: float
    pairs: int
    kept: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "list_weight": self.list_weight,
            "offset": self.offset,
            "rmse_before": self.rmse_before,
            "rmse": self.rmse,
            "pairs": self.pairs,
            "kept": self.kept,
        }


def choose_stars_blend(
    stars: BiasedALSModel, list_users: DataFrame, list_items: DataFrame, held_out: DataFrame
) -> StarsBlend:
    """Fit w and c of the blend on `held_out` (user_id, movie_id, rating; not the ratings `stars` and the list
    factors were fitted on) and keep it only when better beyond noise.

    The stars model's prediction as `predict` gives it before clipping (cold users and movies fall back to the
    biases); a pair whose user or movie has no list factors has list score 0. RMSEs clip to the rating scale.
    Collects the held-out pairs and both models' factors (Arrow). Raises ValueError on a missing column or no
    held-out pairs.
    """
    require_columns(held_out, "held_out", ("user_id", "movie_id", "rating"))
    table = held_out.select("user_id", "movie_id", F.col("rating").cast("double")).toArrow()
    if table.num_rows == 0:
        raise ValueError("held_out has no ratings to fit the blend on")
    users = table.column(0).to_numpy().astype(np.int64)
    movies = table.column(1).to_numpy().astype(np.int64)
    ratings = table.column(2).to_numpy().astype(np.float64)
    scorer = stars_pair_scorer(stars)
    base = np.einsum("ij,ij->i", scorer.rows_for(users, users=True), scorer.rows_for(movies, users=False))
    score = list_scores(list_users, list_items, users, movies)

    design = np.column_stack([score, np.ones_like(score)])
    (weight, offset), *_ = np.linalg.lstsq(design, ratings - base, rcond=None)
    before = (np.clip(base, MIN_RATING, MAX_RATING) - ratings) ** 2
    after = (np.clip(base + weight * score + offset, MIN_RATING, MAX_RATING) - ratings) ** 2
    kept = bool(weight > 0 and better_beyond_noise(after, before))
    return StarsBlend(
        list_weight=float(weight) if kept else 0.0,
        offset=float(offset) if kept else 0.0,
        rmse_before=math.sqrt(float(before.mean())),
        rmse=math.sqrt(float((after if kept else before).mean())),
        pairs=int(ratings.size),
        kept=kept,
    )


def list_scores(list_users: DataFrame, list_items: DataFrame, users: np.ndarray, movies: np.ndarray) -> np.ndarray:
    """x_u . y_i of the list model for each (users[k], movies[k]); 0 where either has no factors."""
    user_ids, user_matrix = collect_factors(list_users, "list user factors")
    item_ids, item_matrix = collect_factors(list_items, "list item factors")
    scores = np.zeros(users.size)
    if user_ids.size == 0 or item_ids.size == 0:
        return scores
    u_at = np.minimum(np.searchsorted(user_ids, users), user_ids.size - 1)
    i_at = np.minimum(np.searchsorted(item_ids, movies), item_ids.size - 1)
    both = (user_ids[u_at] == users) & (item_ids[i_at] == movies)
    scores[both] = np.einsum(
        "ij,ij->i", user_matrix[u_at[both]].astype(np.float64), item_matrix[i_at[both]].astype(np.float64)
    )
    return scores
