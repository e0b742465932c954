"""Ratings import: preview time of big files, apply and undo time, and match quality on ml-latest-small.

    DATABASE_URL=postgres://… .venv/bin/python bench/bench_rating_import.py [--rows 5000] [--repeat 3]

Uses the database in DATABASE_URL (created and migrated if missing, ml-latest-small imported into
it if its catalogue is empty). Files are written from the catalogue as each site writes them
(ratings.imports.samples); nothing is downloaded. A throwaway user `bench-importer` rates and
un-rates; its imports and ratings are deleted at the end. Target: preview of 5,000 rows < 2 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=5000, help="rows of the timed files (default 5000)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quality-sample", type=int, default=1000)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("Set DATABASE_URL=postgres://… (a database of your own: the bench imports ml-latest-small into it)")
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    from bench_import import ensure_database

    ensure_database(url)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from accounts.models import User
    from catalog.models import Movie
    from ratings.imports import samples, selectors, services
    from ratings.imports.formats import parse
    from ratings.imports.matching import CHOOSE, MATCHED, NOT_FOUND, match_rows
    from ratings.models import Rating

    call_command("migrate", verbosity=0)
    if not Movie.objects.exists():
        print("importing ml-latest-small …", flush=True)
        call_command("import_movielens", str(settings.MOVIELENS_BUNDLED_DIR), verbosity=0)
    catalogue = list(Movie.objects.order_by("id").values_list("id", "title", "year", "imdb_id", "tmdb_id"))
    print(f"catalogue: {len(catalogue):,} movies; load average {os.getloadavg()[0]:.1f}")

    timings = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        index = selectors.import_catalogue_index()
        timings.append(time.perf_counter() - start)
    print(f"catalogue index (query + dictionaries): {statistics.median(timings):.2f} s median of {args.repeat}")

    # --- Match quality: every sampled movie written as the site writes it, matched against the whole catalogue.
    for name, writer, seed in (("Letterboxd", samples.letterboxd_csv, 0), ("IMDb", samples.imdb_csv, 1)):
        sample = random.Random(seed).sample(catalogue, args.quality_sample)
        if name == "IMDb":
            sample = [movie for movie in sample if movie[3]]
        parsed = parse(writer(sample, seed=seed))
        results = match_rows(index, parsed.rows, parsed.format)
        right = sum(1 for m, r in zip(sample, results, strict=True) if r.status == MATCHED and r.movie_id == m[0])
        wrong = sum(1 for m, r in zip(sample, results, strict=True) if r.status == MATCHED and r.movie_id != m[0])
        choose = sum(1 for r in results if r.status == CHOOSE)
        missing = sum(1 for r in results if r.status == NOT_FOUND)
        print(
            f"quality {name} ({len(sample):,} movies): right {right / len(sample):.1%} ({right:,}), wrong {wrong}, "
            f"to choose {choose}, not found {missing}"
        )

    user, _ = User.objects.get_or_create(username="bench-importer")
    user.rating_imports.all().delete()
    Rating.objects.filter(user=user).delete()
    rows = min(args.rows, len(catalogue))
    try:
        for name, writer in (("Letterboxd", samples.letterboxd_csv), ("IMDb", samples.imdb_csv)):
            data = writer(random.Random(2).sample(catalogue, rows), seed=2)
            previews, applies, undos = [], [], []
            for _ in range(args.repeat):
                start = time.perf_counter()
                rating_import = services.rating_import_preview(user=user, data=data, filename="bench.csv")
                previews.append(time.perf_counter() - start)
                start = time.perf_counter()
                services.rating_import_apply(rating_import=rating_import)
                applies.append(time.perf_counter() - start)
                start = time.perf_counter()
                services.rating_import_undo(rating_import=rating_import)
                undos.append(time.perf_counter() - start)
            print(
                f"{name} {rows:,} rows ({len(data) / 1024:.0f} KiB): preview {statistics.median(previews):.2f} s "
                f"(min {min(previews):.2f}), apply {statistics.median(applies):.2f} s, "
                f"undo {statistics.median(undos):.2f} s; median of {args.repeat}"
            )
    finally:
        user.rating_imports.all().delete()
        Rating.objects.filter(user=user).delete()
    print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
