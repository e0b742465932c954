"""Serving cost of each list flavour: p50/p95 of one fresh list (fold-in, flavour, stars) on the active run.

    .venv/bin/python bench/bench_flavours.py [--users 50] [--limit 30] [--repeat 5] [--project DIR]

For `--users` MovieLens raters of the database (the most active first is not chosen: every k-th rater by id), times
`recommendations.selectors.recommend_for_user` with each flavour, their ratings read beforehand (as a request
has them): the list model's fold-in, the flavour's re-ranking and the stars of the listed movies. The run's
factors, counts, means and genres are loaded and cached by a first warm-up call, as in a long-lived web worker.
One BLAS thread, as the web workers run. Prints p50/p95 per flavour in ms, each p50 over top picks' (a ratio
that holds across machines) and the p50 of the CPU time the call took (its thread's, which the load does not
inflate as it does the wall clock). `--project DIR` imports the code of another checkout (e.g. the main branch's)
against the same database and run, to compare two versions at the same load.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=50, help="MovieLens raters timed (default 50).")
    parser.add_argument("--limit", type=int, default=30, help="Movies per list, as the page shows (default 30).")
    parser.add_argument("--repeat", type=int, default=5, help="Timed calls per user and flavour (default 5).")
    parser.add_argument("--project", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args()

    sys.path.insert(0, str(args.project.resolve()))
    os.chdir(args.project)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    import numpy as np

    from accounts.models import User
    from recommendations import flavours
    from recommendations.selectors import rating_values_for_user, recommend_for_user, training_run_serving

    run = training_run_serving()
    if run is None:
        raise SystemExit("No active run: import MovieLens data and run manage.py retrain first.")
    raters = list(User.objects.filter(movielens_id__isnull=False).order_by("pk").values_list("pk", flat=True))
    if not raters:
        raise SystemExit("No MovieLens raters in the database.")
    step = max(len(raters) // args.users, 1)
    users = [User.objects.get(pk=pk) for pk in raters[::step][: args.users]]
    ratings = {user.pk: rating_values_for_user(user=user) for user in users}
    for flavour in flavours.FLAVOURS:  # warm up: the run's matrices and the per-run caches
        recommend_for_user(user=users[0], run=run, ratings=ratings[users[0].pk], limit=args.limit, flavour=flavour)

    times: dict[str, list[float]] = {flavour: [] for flavour in flavours.FLAVOURS}
    cpu: dict[str, list[float]] = {flavour: [] for flavour in flavours.FLAVOURS}
    for _ in range(args.repeat):
        for user in users:
            for flavour in flavours.FLAVOURS:  # interleaved, so a burst of load hits every flavour alike
                started, started_cpu = time.perf_counter(), time.thread_time()
                recommend_for_user(user=user, run=run, ratings=ratings[user.pk], limit=args.limit, flavour=flavour)
                times[flavour].append((time.perf_counter() - started) * 1000)
                cpu[flavour].append((time.thread_time() - started_cpu) * 1000)
    top = float(np.percentile(times[flavours.TOP_PICKS], 50))
    print(f"{args.project}: run {run.pk}, {len(users)} users × {args.repeat}, {args.limit} movies, load "
          f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    for flavour, values in times.items():
        p50, p95 = np.percentile(values, 50), np.percentile(values, 95)
        cpu_p50 = np.percentile(cpu[flavour], 50)
        print(
            f"  {flavour:<12} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms  p50 / top picks {p50 / top:5.2f}  "
            f"CPU p50 {cpu_p50:6.2f} ms"
        )


if __name__ == "__main__":
    main()
