"""The levers tried on issue 14's "3 ratings reach 80% of fully trained", measured on validation movies only.

    .venv/bin/python bench/bench_cold_item_levers.py [--seed 0] [--prior-ratings 2,8,32,128] [--scales 0.25,0.5,1]

Needs a database with MovieLens ratings (DATABASE_URL). Fits what `evaluate --cold-items --validate` fits (the
reported split's held-out movies left out altogether, another 10% held out: spark_engine.item_cold_start with
validation=True), then ranks those movies with `item_cold_start._rank` (among the held-out movies, and among all
unseen movies with the top-10 share held by held-out movies) for:

- the ceiling: the held-out movies' own number of received ratings (the future) and the fold-in from all of them;
- the site's fold-in (`content.item_fold_in_list`) with the prior weighing like each of --prior-ratings ratings;
- a ratings-count correction: the 1/3/10 ratings weighted to stand for scale × the count the content predicts
  (a ridge from the same features to log(1 + ratings), learned on every trained movie), each scale;
- the control for it: the site's fold-in with every new movie's score raised by a constant (a plain boost), to
  compare all-unseen NDCG at the same top-10 share;
- the same correction with the true received count (an oracle: how much knowing the popularity could give).

Nothing is stored; nothing here is used by the site. Spark for the two fits, then NumPy (one BLAS thread).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402

from catalog.selectors import movie_content_list  # noqa: E402
from recommendations import content  # noqa: E402
from recommendations.retrain import RetrainOptions  # noqa: E402
from spark_engine import item_cold_start as ics  # noqa: E402
from spark_engine import stages  # noqa: E402
from spark_engine.experiments import exported_ratings  # noqa: E402

REVEALED = (1, 3, 10)
BOOSTS = (0.02, 0.05, 0.1)


def _scaled_fold_in(u, values, prior, gram, *, reg, alpha, center, strength, weight):
    """content.item_fold_in_list with the ratings' terms (and λ·n₊) times `weight`."""
    centred = values - center
    c1 = alpha * np.abs(centred)
    positive = centred > 0
    a = gram + weight * ((u.T * c1) @ u)
    a[np.diag_indices_from(a)] += weight * reg * int(positive.sum()) + strength
    b = weight * (u[positive] * (1.0 + c1[positive])[:, None]).sum(axis=0) + gram @ prior + strength * prior
    return np.linalg.solve(a, b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--prior-ratings", default="2,8,32,128")
    parser.add_argument("--scales", default="0.25,0.5,1")
    args = parser.parse_args()
    prior_grid = [float(x) for x in args.prior_ratings.split(",")]
    scales = [float(x) for x in args.scales.split(",")]

    started = time.perf_counter()
    with exported_ratings(prefix="cold-levers-") as (spark, ratings, rows):
        options, _ = stages.fit_list_rank_to_data(RetrainOptions.from_settings(seed=args.seed), ratings)
        config = stages.model_config(options, ratings_count=rows, parallelism=spark.sparkContext.defaultParallelism)
        data = ics.fit_without_movies(ratings, config.lists, seed=args.seed, validation=True)
    print(f"{rows:,} ratings; {data.heldout.size:,} validation movies; fits {time.perf_counter() - started:.0f}s")

    contents = movie_content_list()
    by_id = {c.movie_id: c for c in contents}
    arriving = [by_id.get(m) or ics._no_content(m) for m in data.heldout.tolist()]
    terms, counts = ics.base_terms(data)
    content_map, reason = content.content_map_learn(terms=terms, rating_counts=counts, contents=contents)
    if content_map is None:
        raise SystemExit(f"no content map: {reason}")
    prior = content_map.predict_contents(arriving)[0].astype(np.float64)
    log_counts = np.log1p(counts.astype(np.float64))[:, None].astype(np.float32)
    count_map, _ = content.content_map_learn(
        terms=content.ModelTerms(movie_ids=terms.movie_ids, list_factors=log_counts),
        rating_counts=counts, contents=contents, params=replace(content_map.params, min_ratings=1),
    )  # fmt: skip
    predicted = np.expm1(count_map.predict_contents(arriving)[0][:, 0].astype(np.float64)).clip(1.0, None)
    received = np.array([h.size for h in data.history_users], dtype=np.float64)
    print(f"count map: held-out R² {count_map.fit.get('list_r2')}; predicted median {np.median(predicted):.1f}, "
          f"received median {np.median(received):.0f}")  # fmt: skip

    judge = ics._judge(data, seed=args.seed, max_users=ics.MAX_EVAL_USERS)
    users = data.base.users[data.base.user_rows(judge.users)[0]].astype(np.float64)
    full_users = data.full.users[data.full.user_rows(judge.users)[0]]
    gram_users = data.base.users.astype(np.float64)
    gram = gram_users.T @ gram_users
    mean_square = float((gram_users**2).mean())
    als = data.params.als
    trained_ids = data.base.item_ids
    all_ids = np.concatenate([trained_ids, data.heldout])
    order = np.argsort(all_ids, kind="stable")

    def trained_vectors(fit):
        rows_, found = fit.item_rows(trained_ids)
        return np.where(found[:, None], fit.items[rows_], 0.0)

    base_trained = trained_vectors(data.base)

    def show(name, items, user_vectors=users, trained=base_trained, boost=0.0):
        held = ics._rank(judge, user_vectors, data.heldout, items, k=10, exclude_trained=False)["ndcg_at_10"]
        wide_users = np.hstack([user_vectors, np.ones((user_vectors.shape[0], 1))])
        vectors = np.vstack(
            [np.hstack([trained, np.zeros((trained.shape[0], 1))]), np.hstack([items, np.full((len(items), 1), boost)])]
        )[order]
        unseen = ics._rank(judge, wide_users, all_ids[order], vectors, k=10, exclude_trained=True, focus=data.heldout)
        print(f"{name:<44}{held:>9.4f}{held / reference:>8.2f}{unseen['ndcg_at_10']:>12.4f}{unseen['exposure']:>10.4f}",
              flush=True)  # fmt: skip

    full_rows, full_found = data.full.item_rows(data.heldout)
    full_items = np.where(full_found[:, None], data.full.items[full_rows], 0.0)
    reference = ics._rank(judge, full_users, data.heldout, full_items, k=10, exclude_trained=False)["ndcg_at_10"]
    print(f"{'':<44}{'held-out NDCG@10':>17}{'all unseen NDCG@10':>22}")
    print(f"{'movies ranked by':<44}{'':>9}{'/ trained':>8}{'':>12}{'top-10 share':>10}")
    show("fully trained", full_items, full_users, trained_vectors(data.full))
    by_count = ics._rank(judge, None, data.heldout, None, k=10, fixed_scores=received, exclude_trained=False)
    print(f"{'received ratings count (the future)':<44}{by_count['ndcg_at_10']:>9.4f}"
          f"{by_count['ndcg_at_10'] / reference:>8.2f}")  # fmt: skip
    show("content prior", prior)

    def raters(i, n):
        rows_, found = data.base.user_rows(data.history_users[i][:n])
        return gram_users[rows_[found]], data.history_values[i][:n][found]

    def site(n, prior_ratings):
        strength = content.list_prior_strength(
            prior_ratings=prior_ratings, alpha=als.alpha, users_mean_square=mean_square
        )
        return np.array([
            content.item_fold_in_list(
                user_factors=raters(i, n)[0], values=raters(i, n)[1], prior=prior[i], users_gram=gram,
                reg_param=als.reg_param, alpha=als.alpha, center=data.params.center, prior_strength=strength,
            )
            for i in range(data.heldout.size)
        ])  # fmt: skip

    def scaled(n, counts_):
        strength = content.list_prior_strength(prior_ratings=2.0, alpha=als.alpha, users_mean_square=mean_square)
        out = []
        for i in range(data.heldout.size):
            u, values = raters(i, n)
            weight = max(counts_[i], len(values)) / max(len(values), 1)
            out.append(_scaled_fold_in(u, values, prior[i], gram, reg=als.reg_param, alpha=als.alpha,
                                       center=data.params.center, strength=strength, weight=weight))  # fmt: skip
        return np.array(out)

    show("fold-in from all received, no prior", ics.heldout_factors(
        data, prior=np.zeros_like(prior), revealed=int(received.max()), prior_ratings=0
    ))  # fmt: skip
    for n in REVEALED:
        print(f"-- {n} rating{'s' if n > 1 else ''}")
        for prior_ratings in prior_grid:
            folded = site(n, prior_ratings)
            show(f"fold-in, prior like {prior_ratings:g} ratings", folded)
            if prior_ratings == 2.0:
                for boost in BOOSTS:
                    show(f"  the same, score + {boost:g} (plain boost)", folded, boost=boost)
        for scale in scales:
            show(f"ratings stand for {scale:g} x predicted count", scaled(n, scale * predicted))
        show("ratings stand for the received count (oracle)", scaled(n, received))


if __name__ == "__main__":
    main()
