"""Which movies the onboarding shows next: the strategies, as pure NumPy (issue 13).

A newcomer sees a page of movies, rates the ones they have seen and skips the rest; the fewer pages it takes to
get ten ratings, and the more those ratings tell the list model, the better their first recommendations. Every
strategy picks from a pool of well-known movies (most rated first) and leaves out what was already shown or rated:

- "varied": the site's original pick, greedily the movie adding the most genres not yet shown and a new decade,
  the more popular first on ties (among the VARIED_POOL most rated).
- "popular": the most-rated movies, in order.
- "popular_entropy": log(ratings) × entropy of the movie's star distribution (Rashid et al. 2002): known films
  that people disagree on.
- "informative": driven by the list model's item factors. Greedily the movie with the largest expected gain in
  log det(λI + Σ v vᵀ), the information about the user's vector, where the sum runs over the movies rated so far
  (the pick adapts to them) and each candidate counts with the probability that a newcomer has seen it
  (its share of raters): p · log(1 + vᵀA⁻¹v), then A += p·v vᵀ for the next pick of the page.

`taste_clusters` groups the best-known movies by their list-model factors for "pick groups you like".

`manage.py evaluate --cold-start` measures them (spark_engine.cold_start); the site uses ONBOARDING_STRATEGY
(recommendations.selectors.onboarding_page_for_user). No database here: arrays in, movie ids out.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

PAGE_SIZE = 10
STRATEGIES = ("varied", "popular", "popular_entropy", "informative")
# The site's original pick looked at this many of the most-rated movies.
VARIED_POOL = 300


@dataclass(frozen=True)
class OnboardingPool:
    """Candidate movies in popularity order (most rated first), with what the strategies need.

    `counts`: ratings per movie; `raters`: how many people rated anything (counts / raters is the chance a
    newcomer has seen the movie). `entropy` (popular_entropy), `factors` (informative: the list model's item
    factors, one row per movie, zeros for a movie the model does not know) and `genres` / `decades` (varied)
    may be None when the strategy that needs them is not used.
    """

    movie_ids: np.ndarray  # int64
    counts: np.ndarray  # float64
    raters: int
    entropy: np.ndarray | None = None
    factors: np.ndarray | None = None
    genres: tuple[frozenset[int], ...] | None = None
    decades: tuple[int | None, ...] | None = None

    def __post_init__(self) -> None:
        n = self.movie_ids.size
        for name in ("counts", "entropy", "factors"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} rows for {n} movies")
        for name in ("genres", "decades"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name} has {len(value)} entries for {n} movies")


def rating_entropy(histogram: np.ndarray) -> np.ndarray:
    """Entropy in bits of each row of a (movies, star values) count histogram; 0 for a movie without ratings."""
    histogram = np.asarray(histogram, dtype=np.float64)
    totals = histogram.sum(axis=1, keepdims=True)
    shares = np.divide(histogram, totals, out=np.zeros_like(histogram), where=totals > 0)
    logs = np.log2(shares, out=np.zeros_like(shares), where=shares > 0)
    return -(shares * logs).sum(axis=1)


def next_page(
    *,
    strategy: str,
    pool: OnboardingPool,
    exclude: Collection[int] = (),
    rated: Mapping[int, float] | None = None,
    count: int = PAGE_SIZE,
) -> list[int]:
    """Up to `count` movie ids of `pool` to show next, none of them in `exclude` or `rated` (movie id -> stars).

    Raises ValueError on an unknown strategy or when the pool lacks what the strategy needs.
    """
    rated = rated or {}
    available = ~np.isin(pool.movie_ids, np.fromiter([*exclude, *rated], dtype=np.int64))
    if count <= 0 or not available.any():
        return []
    if strategy == "popular":
        rows = np.flatnonzero(available)[:count]
    elif strategy == "popular_entropy":
        if pool.entropy is None:
            raise ValueError("popular_entropy needs the pool's entropy")
        score = np.log(np.maximum(pool.counts, 1.0)) * pool.entropy
        rows = _best(score, available, count)
    elif strategy == "varied":
        if pool.genres is None or pool.decades is None:
            raise ValueError("varied needs the pool's genres and decades")
        rows = _varied(pool, np.flatnonzero(available)[:VARIED_POOL], count)
    elif strategy == "informative":
        if pool.factors is None:
            raise ValueError("informative needs the pool's factors")
        rows = _informative(pool, available, rated, count)
    else:
        raise ValueError(f"unknown onboarding strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
    return [int(pool.movie_ids[row]) for row in rows]


def _best(score: np.ndarray, available: np.ndarray, count: int) -> np.ndarray:
    """Rows of the `count` highest scores among available rows; ties go to the more popular (earlier) row."""
    rows = np.flatnonzero(available)
    order = np.argsort(-score[rows], kind="stable")
    return rows[order[:count]]


def _varied(pool: OnboardingPool, rows: np.ndarray, count: int) -> list[int]:
    # catalog's original greedy pick, unchanged: new genres, a new decade, then popularity.
    seen_genres: set[int] = set()
    decade_counts: dict[int | None, int] = {}
    picked: list[int] = []
    remaining = list(rows)
    while remaining and len(picked) < count:
        best, best_gain = None, None
        for position, row in enumerate(remaining):
            decade = pool.decades[row]
            gain = (
                len(pool.genres[row] - seen_genres)
                + (2 if decade_counts.get(decade, 0) == 0 else -decade_counts[decade])
                - position / len(remaining)
            )
            if best_gain is None or gain > best_gain:
                best, best_gain = row, gain
        picked.append(best)
        remaining.remove(best)
        seen_genres |= pool.genres[best]
        decade_counts[pool.decades[best]] = decade_counts.get(pool.decades[best], 0) + 1
    return picked


def _informative(pool: OnboardingPool, available: np.ndarray, rated: Mapping[int, float], count: int) -> list[int]:
    v = np.asarray(pool.factors, dtype=np.float64)
    rank = v.shape[1]
    norms = (v * v).sum(axis=1)
    known = norms > 0
    # The prior λ is the pool's mean squared factor norm, so the pick does not depend on the factors' scale.
    prior = float(norms[known].mean()) if known.any() else 1.0
    a = prior * np.eye(rank)
    rated_rows = np.flatnonzero(np.isin(pool.movie_ids, np.fromiter(rated, dtype=np.int64)))
    for row in rated_rows:  # what the user told us so far: they have seen these
        a += np.outer(v[row], v[row])
    a_inv = np.linalg.inv(a)
    seen = np.clip(pool.counts / max(pool.raters, 1), 0.0, 1.0)
    candidates = np.flatnonzero(available & known)
    picked: list[int] = []
    while candidates.size and len(picked) < count:
        c = v[candidates]
        quad = np.einsum("ij,jk,ik->i", c, a_inv, c)
        gain = seen[candidates] * np.log1p(np.maximum(quad, 0.0))
        best = int(np.argmax(gain))
        row = int(candidates[best])
        picked.append(row)
        candidates = np.delete(candidates, best)
        # Sherman–Morrison: A += p·v vᵀ, the expected information the pick adds.
        u = v[row] * math.sqrt(seen[row])
        a_inv_u = a_inv @ u
        a_inv -= np.outer(a_inv_u, a_inv_u) / (1.0 + u @ a_inv_u)
    if len(picked) < count:  # movies the model does not know, most popular first
        rest = np.flatnonzero(available & ~known)[: count - len(picked)]
        picked.extend(int(row) for row in rest)
    return picked


def taste_clusters(factors: np.ndarray, k: int, *, seed: int = 0, iterations: int = 25) -> np.ndarray:
    """Cluster label (0..k-1) of each row of `factors`: k-means on the rows scaled to unit length (the list model's
    similar movies are by cosine), seeded k-means++ start. Rows of zeros get label -1. At most as many clusters as
    distinct directions; labels are renumbered so that cluster 0 holds the first row's group, 1 the next new one...
    """
    v = np.asarray(factors, dtype=np.float64)
    norms = np.linalg.norm(v, axis=1)
    labels = np.full(v.shape[0], -1)
    known = np.flatnonzero(norms > 0)
    if known.size == 0 or k < 1:
        return labels
    points = v[known] / norms[known, None]
    rng = np.random.default_rng(seed)
    centres = [points[0]]  # the best-known movie seeds the first cluster
    for _ in range(1, min(k, points.shape[0])):
        distance = np.min(1.0 - points @ np.array(centres).T, axis=1).clip(min=0.0)
        if distance.sum() <= 1e-12:
            break
        centres.append(points[rng.choice(points.shape[0], p=distance / distance.sum())])
    centres = np.array(centres)
    assigned = np.zeros(points.shape[0], dtype=np.int64)
    for _ in range(iterations):
        assigned = np.argmax(points @ centres.T, axis=1)
        moved = centres.copy()
        for c in range(centres.shape[0]):
            members = points[assigned == c]
            if members.size:
                mean = members.mean(axis=0)
                moved[c] = mean / max(np.linalg.norm(mean), 1e-12)
        if np.allclose(moved, centres):
            break
        centres = moved
    _, first = np.unique(assigned, return_index=True)
    renumber = {old: new for new, old in enumerate(assigned[np.sort(first)])}
    labels[known] = [renumber[label] for label in assigned]
    return labels
