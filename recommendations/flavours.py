"""Flavours of a recommendation list: the fold-in's candidates re-ranked for discovery. Pure NumPy, no database.

- top_picks: the list model's order (today's list).
- different: maximal marginal relevance (Carbonell & Goldstein 1998) over a candidate pool. Each step picks the
  movie maximising  λ·rel(i) − (1 − λ)·max_{j picked} cos(v_i, v_j), with rel the list score min-max normalised
  over the pool and v the list model's item factors. λ = `MMR_LAMBDA`: 1 is top_picks, 0 ignores relevance.
- hidden_gems: movies below the popularity median with enough ratings to trust, best predicted stars first. The
  median is taken over the movies that pass the trust threshold (max(`HIDDEN_GEMS_MIN_RATINGS`, min_ratings)): on
  MovieLens the median over the whole catalogue is 3 ratings, below any threshold worth trusting. The pool is the
  list model's best `HIDDEN_GEMS_POOL_PER_ITEM` × k of those movies, so a gem still matches the person's taste.
- genre_mix: calibrated recommendations (Steck 2018): greedily maximise (1 − λ)·Σ rel(i) − λ·KL(p ‖ q̃), p the
  genre distribution of the person's ratings, q the list's (each movie spreads weight 1 evenly over its genres),
  q̃ = (1 − α)·q + α·p so the divergence stays finite. λ = `CALIBRATION_LAMBDA`, α = `CALIBRATION_ALPHA`.

Callers (recommendations.selectors for the site and the API, spark_engine.flavour_eval for the trade-off table)
fold the user in with recommendations.foldin, pass the masked list scores and get rows and reasons back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

TOP_PICKS = "top_picks"
DIFFERENT = "different"
HIDDEN_GEMS = "hidden_gems"
GENRE_MIX = "genre_mix"
FLAVOURS = (TOP_PICKS, DIFFERENT, HIDDEN_GEMS, GENRE_MIX)
LABELS = {
    TOP_PICKS: "Top picks",
    DIFFERENT: "Something different",
    HIDDEN_GEMS: "Hidden gems",
    GENRE_MIX: "Your genre mix",
}
DESCRIPTIONS = {
    TOP_PICKS: "the movies that match your taste best",
    DIFFERENT: "good matches that are unlike each other",
    HIDDEN_GEMS: "less-known movies you are likely to rate highly",
    GENRE_MIX: "good matches in the proportions of genres you rate",
}

# Candidates re-ranked by the flavours other than top_picks: the list model's best this many.
CANDIDATE_POOL = 200
# Chosen on ml-latest-small with `manage.py evaluate --flavours` (README, "Lists people steer"): 0.4 is the lowest λ
# (most diversity) that keeps NDCG@10 above 1.2 × popularity's; 0.5 (the textbook value) gave less coverage.
MMR_LAMBDA = 0.4
CALIBRATION_LAMBDA = 0.5
CALIBRATION_ALPHA = 0.01
HIDDEN_GEMS_MIN_RATINGS = 10
# Hidden gems: predicted stars choose among the list model's best this many times k gems. Stars alone (a pool of
# 200) show nearly everyone the same acclaimed gems: lower coverage than top picks, and NDCG@10 0.009.
HIDDEN_GEMS_POOL_PER_ITEM = 3


@dataclass(frozen=True)
class FlavourList:
    rows: np.ndarray  # int64: rows of the item matrix, best first
    reasons: list[str | None]  # one short explanation per row (None: the caller explains, as for top_picks)


def normalise(values: np.ndarray) -> np.ndarray:
    """Min-max to [0, 1]; all ones when the values are equal."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values
    low, high = values.min(), values.max()
    if high - low <= 0:
        return np.ones_like(values)
    return (values - low) / (high - low)


def top_rows(scores: np.ndarray, limit: int) -> np.ndarray:
    """Rows of the `limit` highest finite scores, best first (ties: lower row first)."""
    finite = np.flatnonzero(np.isfinite(scores))
    limit = min(limit, finite.size)
    if limit <= 0:
        return np.zeros(0, dtype=np.int64)
    chosen = finite
    if limit < finite.size:
        chosen = finite[np.argpartition(-scores[finite], limit - 1)[:limit]]
    return chosen[np.lexsort((chosen, -scores[chosen]))].astype(np.int64)


def mmr(*, relevance: np.ndarray, vectors: np.ndarray, k: int, lam: float = MMR_LAMBDA) -> np.ndarray:
    """Maximal marginal relevance: positions into `relevance` (and rows of `vectors`), picked greedily.

    Relevance is min-max normalised; similarity is the cosine of the vectors (a zero vector is similar to nothing).
    """
    n = relevance.size
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    rel = normalise(relevance)
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    picked: list[int] = []
    available = np.ones(n, dtype=bool)
    penalty = np.zeros(n)
    for step in range(k):
        value = lam * rel - (1.0 - lam) * penalty
        value[~available] = -np.inf
        best = int(np.argmax(value))
        picked.append(best)
        available[best] = False
        similarity = unit @ unit[best]
        penalty = similarity if step == 0 else np.maximum(penalty, similarity)
    return np.asarray(picked, dtype=np.int64)


def genre_distribution(genres: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The weighted mean of per-movie genre rows (each row sums to 1, or 0 for a movie without genres), normalised
    to sum to 1 (all zeros when nothing carries a genre)."""
    genres = np.asarray(genres, dtype=np.float64)
    if genres.shape[0] == 0:
        return np.zeros(genres.shape[1] if genres.ndim == 2 else 0)
    weights = np.ones(genres.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    total = weights @ genres
    mass = total.sum()
    return total / mass if mass > 0 else total


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p ‖ q) over the genres where p > 0; `q` may be a matrix of candidates, one per row."""
    support = p > 0
    q = np.atleast_2d(q)[:, support]
    return (p[support] * np.log(p[support] / q)).sum(axis=1)


def calibrate(
    *,
    relevance: np.ndarray,
    genres: np.ndarray,
    target: np.ndarray,
    k: int,
    lam: float = CALIBRATION_LAMBDA,
    alpha: float = CALIBRATION_ALPHA,
) -> tuple[np.ndarray, np.ndarray]:
    """Steck's greedy calibration: (positions picked, best first; per pick the genre it helped most, -1 if none).

    `genres`: (n, G) rows summing to 1 (0 for a movie without genres); `target`: p, summing to 1. Each step adds
    the candidate maximising (1 − λ)·Σ rel − λ·KL(p ‖ (1 − α)·q + α·p), rel the relevance min-max normalised.
    The genre a pick "keeps" is the one of its genres that the list so far held least of, relative to p.
    """
    n = relevance.size
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rel = normalise(relevance)
    genres = np.asarray(genres, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if target.sum() <= 0:  # nothing to calibrate to: the relevance order
        order = np.argsort(-rel, kind="stable")[:k]
        return order.astype(np.int64), np.full(order.size, -1, dtype=np.int64)
    picked: list[int] = []
    kept: list[int] = []
    available = np.ones(n, dtype=bool)
    accumulated = np.zeros(genres.shape[1])
    relevance_sum = 0.0
    for step in range(k):
        q = (accumulated[None, :] + genres) / (step + 1)
        divergence = kl_divergence(target, (1.0 - alpha) * q + alpha * target)
        value = (1.0 - lam) * (relevance_sum + rel) - lam * divergence
        value[~available] = -np.inf
        best = int(np.argmax(value))
        current = accumulated / step if step else np.zeros_like(accumulated)
        deficit = np.where(genres[best] > 0, target - current, -np.inf)
        kept.append(int(np.argmax(deficit)) if np.isfinite(deficit).any() and target[np.argmax(deficit)] > 0 else -1)
        picked.append(best)
        available[best] = False
        accumulated += genres[best]
        relevance_sum += rel[best]
    return np.asarray(picked, dtype=np.int64), np.asarray(kept, dtype=np.int64)


def gem_mask(counts: np.ndarray, min_ratings: int = 0) -> np.ndarray:
    """Movies with enough ratings to trust (max(HIDDEN_GEMS_MIN_RATINGS, min_ratings)) and fewer than the median
    count of those trusted movies."""
    threshold = max(HIDDEN_GEMS_MIN_RATINGS, min_ratings)
    trusted = counts >= threshold
    if not trusted.any():
        return trusted
    median = float(np.median(counts[trusted]))
    return trusted & (counts < median)


def _different_reason(place: int, position: int) -> str:
    """Why MMR put the candidate at `position` of the relevance order at `place` of its list."""
    if place == 0:
        return "Your closest match"
    # Picked earlier than its relevance would place it: brought up for being unlike the movies above it.
    return "Unlike the rest of your list" if position > place else "A top match, unlike those above it"


def flavour_list(
    flavour: str,
    *,
    scores: np.ndarray,
    item_matrix: np.ndarray,
    k: int,
    counts: np.ndarray | None = None,
    min_ratings: int = 0,
    genres: np.ndarray | None = None,
    genre_target: np.ndarray | None = None,
    genre_names: Sequence[str] = (),
    means: np.ndarray | None = None,
    stars: Callable[[np.ndarray], np.ndarray] | None = None,
    pool: int = CANDIDATE_POOL,
    gem_pool_per_item: int = HIDDEN_GEMS_POOL_PER_ITEM,
    mmr_lambda: float = MMR_LAMBDA,
    calibration_lambda: float = CALIBRATION_LAMBDA,
) -> FlavourList:
    """One flavour's top `k` from the list model's scores of every movie (−inf for movies left out: rated, hidden,
    filtered). Needs `counts` (ratings per row) for hidden_gems, `genres` (rows summing to 1) and `genre_target`
    for genre_mix; `stars(rows)` orders hidden gems (else the list score does). Raises ValueError for an unknown
    flavour."""
    if flavour == TOP_PICKS:
        rows = top_rows(scores, k)
        return FlavourList(rows, [None] * rows.size)
    if flavour == DIFFERENT:
        candidates = top_rows(scores, pool)
        order = mmr(relevance=scores[candidates], vectors=item_matrix[candidates], k=k, lam=mmr_lambda)
        return FlavourList(candidates[order], [_different_reason(place, int(pos)) for place, pos in enumerate(order)])
    if flavour == HIDDEN_GEMS:
        if counts is None:
            raise ValueError("hidden_gems needs the rating counts")
        gems = np.where(gem_mask(counts, min_ratings), scores, -np.inf)
        candidates = top_rows(gems, gem_pool_per_item * k)
        predicted = stars(candidates) if stars is not None and candidates.size else scores[candidates]
        predicted = np.where(np.isnan(predicted), -np.inf, predicted)
        order = np.lexsort((np.arange(candidates.size), -predicted))[:k]
        rows = candidates[order]
        reasons = []
        for row in rows:
            mean = None if means is None or np.isnan(means[row]) else float(means[row])
            average = f", rated ★ {mean:.1f} on average" if mean is not None else ""
            reasons.append(f"Loved by few ({int(counts[row])} ratings){average}")
        return FlavourList(rows, reasons)
    if flavour == GENRE_MIX:
        if genres is None or genre_target is None:
            raise ValueError("genre_mix needs the genres and the person's genre distribution")
        candidates = top_rows(scores, pool)
        order, kept = calibrate(
            relevance=scores[candidates], genres=genres[candidates], target=genre_target, k=k, lam=calibration_lambda
        )
        reasons = [
            f"Keeps your mix: {genre_names[g]}" if 0 <= g < len(genre_names) else "Close to your taste" for g in kept
        ]
        return FlavourList(candidates[order], reasons)
    raise ValueError(f"unknown flavour {flavour!r}; one of {', '.join(FLAVOURS)}")


# --- The trade-off table (`manage.py evaluate --flavours`), as printed and on the staff page. ---

TRADE_OFF_COLUMNS = (
    ("NDCG@{k}", "ndcg_at_{k}", 4),
    ("× pop.", None, 2),
    ("P@{k}", "precision_at_{k}", 4),
    ("coverage", "coverage_at_{k}", 4),
    ("novelty", "novelty_at_{k}", 2),
    ("diversity", "diversity_at_{k}", 4),
    ("genre div.", "genre_diversity_at_{k}", 4),
    ("personal.", "personalisation_at_{k}", 4),
    ("pop. pct", "popularity_percentile_at_{k}", 1),
    ("miscal.", "miscalibration_at_{k}", 3),
)
BASELINE_LABELS = {"popularity": "popularity", "popular_gems": "popular gems"}


def _figure(value, digits: int) -> str:
    if value is None or not isinstance(value, int | float) or value != value:  # missing or NaN
        return "–"
    return f"{value:.{digits}f}"


def trade_off_rows(result: dict, k: int = 10) -> tuple[list[str], list[list[str]]]:
    """(column headings, one row of formatted figures per list) of an `evaluate --flavours` result's "rows"."""
    table = result.get("rows") or {}
    popularity = (table.get("popularity") or {}).get(f"ndcg_at_{k}")
    headings = ["list"] + [title.format(k=k) for title, _, _ in TRADE_OFF_COLUMNS]
    rows = []
    # In this order whatever the storage did to it (PostgreSQL's jsonb reorders keys).
    names = [*BASELINE_LABELS, *FLAVOURS]
    for name in [*(n for n in names if n in table), *(n for n in table if n not in names)]:
        metrics = table[name]
        cells = [LABELS.get(name) or BASELINE_LABELS.get(name, name)]
        for _, key, digits in TRADE_OFF_COLUMNS:
            if key is None:
                ndcg = metrics.get(f"ndcg_at_{k}")
                value = ndcg / popularity if isinstance(ndcg, int | float) and popularity else None
            else:
                value = metrics.get(key.format(k=k))
            cells.append(_figure(value, digits))
        rows.append(cells)
    return headings, rows
