"""Flavours of a recommendation list: the fold-in's candidates re-ranked for discovery. Pure NumPy, no database.

- top_picks: the list model's order (today's list).
- different: maximal marginal relevance (Carbonell & Goldstein 1998) over the list model's best `DIFFERENT_POOL`.
  Each step picks the movie maximising  λ·rel(i) + γ·nov(i) − (1 − λ)·max_{j picked} cos(v_i, v_j), v the list
  model's item factors. rel is the cosine of the person's and the movie's vectors (the list score over the movie's
  norm: an implicit model's popular movies have long vectors, so the raw score favours them whatever the taste),
  min-max normalised over the pool; nov the movie's self-information −log2(ratings), min-max normalised over the
  pool. λ = `MMR_LAMBDA` (1: the pool by that relevance), γ = `MMR_NOVELTY`.
- hidden_gems: movies below the popularity median with enough ratings to trust, the person's best matches first.
  Both thresholds come from the data (`gem_mask`): "enough to trust" is at least as many ratings as the average
  rated movie has (or the page's minimum-ratings filter, if higher); "below the median" is fewer ratings than the
  movie at which the trusted movies' ratings, most-rated first, reach half their total (the median by rating
  mass: the median over movies is 2–3 ratings on MovieLens, below any trust threshold; `HIDDEN_GEMS_HEAD_SHARE`).
  Of them the list model's best `HIDDEN_GEMS_POOL`, ordered by (1 − w)·rank(discounted list score) + w·rank(the
  movie's mean cosine, in the list model's item factors, to the movies the person rated at or above their own
  mean), ranks normalised to [0, 1] within the pool: the discount divides a positive list score by the movie's
  ratings to the power β (`HIDDEN_GEMS_DISCOUNT`), so the better-known gems do not take every list, and the
  neighbourhood term (w = `HIDDEN_GEMS_NEIGHBOUR_WEIGHT`) follows the person's own favourites rather than the
  popular direction of the implicit model. Then the movies the stars model predicts at or above the person's own
  mean rating ("likely to rate highly") first, the others after.
- genre_mix: calibrated recommendations (Steck 2018): greedily maximise (1 − λ)·Σ rel(i) − λ·KL(p ‖ q̃), p the
  genre distribution of the person's ratings, q the list's (each movie spreads weight 1 evenly over its genres),
  q̃ = (1 − α)·q + α·p so the divergence stays finite. λ = `CALIBRATION_LAMBDA`, α = `CALIBRATION_ALPHA`.

Callers (recommendations.selectors for the site and the API, spark_engine.experiments for the trade-off table and
the validation search) fold the user in with recommendations.foldin, pass the masked list scores and get rows and
reasons back.
"""

from __future__ import annotations

import math
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

# Candidates re-ranked by genre_mix: the list model's best this many.
CANDIDATE_POOL = 200
# Chosen on ml-latest-small on a validation split carved out of the training part (`manage.py evaluate --flavours`,
# README "Lists people steer"; `choose_setting`): of the grids below, the setting with the most coverage@10
# (something different, hidden gems) or the least miscalibration (genre mix) whose NDCG@10 stays ≥ 1.2 × popularity's
# there; when none does (hidden gems: no gem threshold and order tried reaches it, README "Lists people steer"), the
# highest NDCG@10.
DIFFERENT_POOL = 400
MMR_LAMBDA = 0.7
MMR_NOVELTY = 0.1
CALIBRATION_LAMBDA = 0.7
CALIBRATION_ALPHA = 0.01
HIDDEN_GEMS_DISCOUNT = 0.25
HIDDEN_GEMS_NEIGHBOUR_WEIGHT = 0.5
# Hidden gems: the list model's best this many gems are re-ordered, then sorted into liked (predicted stars ≥ the
# person's mean) first.
HIDDEN_GEMS_POOL = 200
# Hidden gems are below the movie at which the trusted movies' ratings, most-rated first, reach this share of their
# total (0.5: the median by rating mass). Not searched: a larger head share only makes the gems better known.
HIDDEN_GEMS_HEAD_SHARE = 0.5
# The grids `evaluate --flavours` searches on the validation split.
DIFFERENT_GRID = {
    "mmr_lambda": (0.5, 0.6, 0.7, 0.8, 0.9),
    "mmr_novelty": (0.0, 0.1),
    "different_pool": (200, 400),
}
HIDDEN_GEMS_GRID = {"gem_discount": (0.0, 0.25, 0.5), "gem_neighbour_weight": (0.0, 0.5)}
CALIBRATION_GRID = {"calibration_lambda": (0.3, 0.5, 0.7, 0.9)}


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


def mmr(
    *,
    relevance: np.ndarray,
    vectors: np.ndarray,
    k: int,
    lam: float = MMR_LAMBDA,
    novelty: np.ndarray | None = None,
    novelty_weight: float = MMR_NOVELTY,
) -> np.ndarray:
    """Maximal marginal relevance: positions into `relevance` (and rows of `vectors`), picked greedily, each step
    maximising λ·rel + γ·nov − (1 − λ)·(highest cosine to a movie already picked), γ = `novelty_weight`.

    Relevance and novelty are min-max normalised; similarity is the cosine of the vectors (a zero vector is similar
    to nothing).
    """
    picked, _ = mmr_explained(
        relevance=relevance, vectors=vectors, k=k, lam=lam, novelty=novelty, novelty_weight=novelty_weight
    )
    return picked


# Why MMR took a movie, against the most relevant movie still available at that step.
MMR_CLOSEST = "closest"  # the first pick, and the most relevant
MMR_TOP = "top"  # the most relevant left
MMR_UNLIKE = "unlike"  # passed over more relevant movies for being less similar to those picked
MMR_LESS_KNOWN = "less_known"  # passed over more relevant movies for being less known
MMR_BOTH = "both"  # both


def mmr_explained(
    *,
    relevance: np.ndarray,
    vectors: np.ndarray,
    k: int,
    lam: float = MMR_LAMBDA,
    novelty: np.ndarray | None = None,
    novelty_weight: float = MMR_NOVELTY,
) -> tuple[np.ndarray, list[str]]:
    """`mmr`'s picks and, per pick, why (`MMR_*`): compared with the most relevant movie still available at that
    step, a pick less relevant than it won by a lower similarity to the movies picked, a higher novelty, or by
    both together."""
    n = relevance.size
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, dtype=np.int64), []
    rel = normalise(relevance)
    gain = lam * rel
    nov = None
    if novelty is not None and novelty_weight:
        nov = normalise(novelty)
        gain = gain + novelty_weight * nov
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    by_relevance = np.lexsort((np.arange(n), -rel))
    picked: list[int] = []
    why: list[str] = []
    available = np.ones(n, dtype=bool)
    penalty = np.zeros(n)
    for step in range(k):
        value = gain - (1.0 - lam) * penalty
        value[~available] = -np.inf
        best = int(np.argmax(value))
        top = int(by_relevance[available[by_relevance]][0])
        if rel[best] >= rel[top]:
            why.append(MMR_CLOSEST if step == 0 else MMR_TOP)
        else:
            # The relevance given up, against what being unlike the list and being less known each won back: a
            # reason is named when it was needed, or when it alone sufficed and outweighed the other.
            lost = lam * (rel[top] - rel[best])
            unlike = (1.0 - lam) * (penalty[top] - penalty[best])
            less_known = novelty_weight * (nov[best] - nov[top]) if nov is not None else 0.0
            if unlike >= lost and less_known >= lost:
                why.append(MMR_UNLIKE if unlike >= less_known else MMR_LESS_KNOWN)
            elif unlike >= lost:
                why.append(MMR_UNLIKE)
            elif less_known >= lost:
                why.append(MMR_LESS_KNOWN)
            else:
                why.append(MMR_BOTH)
        picked.append(best)
        available[best] = False
        similarity = unit @ unit[best]
        penalty = similarity if step == 0 else np.maximum(penalty, similarity)
    return np.asarray(picked, dtype=np.int64), why


DIFFERENT_REASONS = {
    MMR_CLOSEST: "Your closest match",
    MMR_TOP: "A top match, unlike those above it",
    MMR_UNLIKE: "Unlike the rest of your list",
    MMR_LESS_KNOWN: "Less known than your closer matches",
    MMR_BOTH: "Less known, and unlike the rest of your list",
}


def cosine_relevance(scores: np.ndarray, vectors: np.ndarray, power: float = 1.0) -> np.ndarray:
    """The list scores divided by the norm of each movie's vector to `power` (1: the cosine with the person's
    vector, up to their own norm, which one person's list shares; 0: the scores). A zero vector keeps its score."""
    if power == 0:
        return np.asarray(scores, dtype=np.float64)
    norms = np.linalg.norm(np.asarray(vectors, dtype=np.float64), axis=1)
    return np.asarray(scores, dtype=np.float64) / np.where(norms > 0, norms, 1.0) ** power


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


def mass_quantile(counts: np.ndarray, share: float = 0.5) -> float:
    """The rating count of the movie at which the movies' ratings, most-rated first, reach `share` of their total
    (0 without ratings; 0.5: the median by rating mass). Raises ValueError unless 0 < share ≤ 1."""
    if not 0 < share <= 1:
        raise ValueError(f"the head share must be above 0 and at most 1, got {share}")
    ordered = np.sort(np.asarray(counts, dtype=np.int64)[np.asarray(counts) > 0])[::-1]
    if ordered.size == 0:
        return 0.0
    cumulative = np.cumsum(ordered)
    return float(ordered[min(np.searchsorted(cumulative, cumulative[-1] * share), ordered.size - 1)])


def mass_median(counts: np.ndarray) -> float:
    """The median by rating mass: the rating count of the movie at which the movies' ratings, most-rated first,
    reach half their total (0 without ratings)."""
    return mass_quantile(counts, 0.5)


def trust_threshold(counts: np.ndarray, min_ratings: int = 0) -> int:
    """Ratings a movie needs to be trusted as a hidden gem: as many as the average rated movie has (rounded up:
    10 on ml-latest-small, hundreds on ML-25M), or `min_ratings` if higher; at least 1."""
    rated = np.asarray(counts)[np.asarray(counts) > 0]
    average = math.ceil(rated.sum() / rated.size) if rated.size else 1
    return max(average, min_ratings, 1)


def gem_mask(counts: np.ndarray, min_ratings: int = 0, head_share: float = HIDDEN_GEMS_HEAD_SHARE) -> np.ndarray:
    """Movies with enough ratings to trust (`trust_threshold`) and fewer than the movie at which those trusted
    movies' ratings, most-rated first, reach `head_share` of their total (`mass_quantile`; 0.5: the median by
    rating mass)."""
    counts = np.asarray(counts)
    trusted = counts >= trust_threshold(counts, min_ratings)
    if not trusted.any():
        return trusted
    return trusted & (counts < mass_quantile(counts[trusted], head_share))


def rank_normalise(values: np.ndarray) -> np.ndarray:
    """Each value's rank among `values` scaled to [0, 1] (1: the highest; equal values share their mean rank); all
    ones for a single value. For blending scores of different scales."""
    values = np.asarray(values, dtype=np.float64)
    if values.size <= 1:
        return np.ones_like(values)
    order = np.argsort(values, kind="stable")
    ranks = np.empty(values.size)
    ranks[order] = np.arange(values.size)
    ordered = values[order]
    tied = ordered[1:] == ordered[:-1]
    if tied.any():  # rare for scores: then each run of equal values gets its mean rank
        starts = np.flatnonzero(np.concatenate(([True], ~tied)))
        sizes = np.diff(np.append(starts, values.size))
        ranks[order] = np.repeat(starts + (sizes - 1) / 2, sizes)
    return ranks / (values.size - 1)


def popularity_discount(scores: np.ndarray, counts: np.ndarray, beta: float) -> np.ndarray:
    """`scores` moved toward zero by the movies' ratings to the power `beta` (a positive score divided by
    counts^β, a negative one multiplied), so that among equal scores the less-rated movie ranks higher."""
    scores = np.asarray(scores, dtype=np.float64)
    if beta == 0:
        return scores
    factor = np.maximum(np.asarray(counts, dtype=np.float64), 1.0) ** beta
    return np.where(scores > 0, scores / factor, scores * factor)


def neighbour_similarity(vectors: np.ndarray, liked: np.ndarray) -> np.ndarray:
    """Each row of `vectors`' mean cosine similarity to the rows of `liked` (zeros without liked rows; a zero
    vector is similar to nothing)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    liked = np.asarray(liked, dtype=np.float64)
    if liked.shape[0] == 0:
        return np.zeros(vectors.shape[0])

    def unit(matrix: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(matrix, axis=1)
        return matrix / np.where(norms > 0, norms, 1.0)[:, None]

    return unit(vectors) @ unit(liked).mean(axis=0)


def liked_rows(rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Of the person's rated `rows` (with their stars `values`), those rated at or above the person's own mean."""
    rows, values = np.asarray(rows, dtype=np.int64), np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return rows
    return rows[values >= values.mean()]


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
    person_mean: float | None = None,
    pool: int = CANDIDATE_POOL,
    different_pool: int = DIFFERENT_POOL,
    gem_pool: int = HIDDEN_GEMS_POOL,
    mmr_lambda: float = MMR_LAMBDA,
    mmr_novelty: float = MMR_NOVELTY,
    gem_discount: float = HIDDEN_GEMS_DISCOUNT,
    gem_neighbour_weight: float = HIDDEN_GEMS_NEIGHBOUR_WEIGHT,
    gem_head_share: float = HIDDEN_GEMS_HEAD_SHARE,
    liked: np.ndarray | None = None,
    calibration_lambda: float = CALIBRATION_LAMBDA,
) -> FlavourList:
    """One flavour's top `k` from the list model's scores of every movie (−inf for movies left out: rated, hidden,
    filtered). Needs `counts` (ratings per row) for hidden_gems (and for different's novelty), `genres` (rows
    summing to 1) and `genre_target` for genre_mix; hidden gems are ordered by their discounted list score and
    (with `liked`, rows of the movies the person rated at or above their mean: `liked_rows`) their similarity to
    those movies, and those the stars model predicts (`stars(rows)`) at or above `person_mean` (the person's mean
    rating) come first. Raises ValueError for an unknown flavour."""
    if flavour == TOP_PICKS:
        rows = top_rows(scores, k)
        return FlavourList(rows, [None] * rows.size)
    if flavour == DIFFERENT:
        candidates = top_rows(scores, max(different_pool, k))
        relevance = cosine_relevance(scores[candidates], item_matrix[candidates])
        novelty = None
        if mmr_novelty and counts is not None:
            novelty = -np.log2(np.maximum(counts[candidates], 1).astype(np.float64))
        order, why = mmr_explained(
            relevance=relevance,
            vectors=item_matrix[candidates],
            k=k,
            lam=mmr_lambda,
            novelty=novelty,
            novelty_weight=mmr_novelty,
        )
        reasons = [DIFFERENT_REASONS[code] for code in why]
        return FlavourList(candidates[order], reasons)
    if flavour == HIDDEN_GEMS:
        if counts is None:
            raise ValueError("hidden_gems needs the rating counts")
        gems = np.where(gem_mask(counts, min_ratings, gem_head_share), scores, -np.inf)
        candidates = top_rows(gems, max(gem_pool, k))
        order = popularity_discount(scores[candidates], counts[candidates], gem_discount)
        if gem_neighbour_weight and liked is not None and len(liked):
            near = neighbour_similarity(item_matrix[candidates], item_matrix[np.asarray(liked, dtype=np.int64)])
            order = (1 - gem_neighbour_weight) * rank_normalise(order) + gem_neighbour_weight * rank_normalise(near)
        candidates = candidates[top_rows(order, candidates.size)]
        if stars is not None and candidates.size:
            predicted = stars(candidates)
            liked = np.isfinite(predicted) & (predicted >= (person_mean if person_mean is not None else -np.inf))
            candidates = np.concatenate([candidates[liked], candidates[~liked]])
        rows = candidates[:k]
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


# --- Choosing a flavour's parameters on a validation split (`manage.py evaluate --flavours`). ---

# What each flavour's search optimises once its list keeps NDCG@10 ≥ NDCG_GOAL × popularity's: (metric, higher is
# better). Discovery flavours widen the catalogue reached; genre mix follows the person's mix.
SEARCH_GOALS = {
    DIFFERENT: ("coverage_at_{k}", True),
    HIDDEN_GEMS: ("coverage_at_{k}", True),
    GENRE_MIX: ("miscalibration_at_{k}", False),
}
NDCG_GOAL = 1.2


def parameter_grid(grid: dict[str, Sequence]) -> list[dict]:
    """Every combination of the grid's values, in the grid's order (the last name varies fastest)."""
    settings: list[dict] = [{}]
    for name, values in grid.items():
        settings = [{**setting, name: value} for setting in settings for value in values]
    return settings


def choose_setting(
    trials: Sequence[tuple[dict, dict]], *, popularity_ndcg: float, flavour: str, k: int = 10
) -> tuple[dict, bool]:
    """(the chosen setting, whether it meets the NDCG goal) from (setting, metrics) trials of one flavour.

    Of the settings whose NDCG@k is at least `NDCG_GOAL` × `popularity_ndcg`, the best by the flavour's
    `SEARCH_GOALS` metric (ties: the earlier trial); when none reaches the goal, the highest NDCG@k. Raises
    ValueError without trials.
    """
    if not trials:
        raise ValueError("no trials to choose from")
    key, higher = SEARCH_GOALS[flavour]
    key = key.format(k=k)

    def ndcg(metrics: dict) -> float:
        value = metrics.get(f"ndcg_at_{k}")
        return -math.inf if value is None or value != value else value

    meeting = [i for i, (_, metrics) in enumerate(trials) if ndcg(metrics) >= NDCG_GOAL * popularity_ndcg]
    if not meeting:
        best = max(range(len(trials)), key=lambda i: (ndcg(trials[i][1]), -i))
        return trials[best][0], False

    def objective(i: int) -> float:
        value = trials[i][1].get(key)
        if value is None or value != value:
            return -math.inf
        return value if higher else -value

    best = max(meeting, key=lambda i: (objective(i), -i))
    return trials[best][0], True
