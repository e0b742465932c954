"""Time `import_movielens` on ml-latest-small and on a synthetic 25M-rating data set.

    .venv/bin/python bench/bench_import.py                  # ml-latest-small + synthetic 25M
    .venv/bin/python bench/bench_import.py --ratings 2000000 --users 13000   # a smaller synthetic set
    .venv/bin/python bench/bench_import.py --reimport       # also time a second, no-change import

Uses the database in DATABASE_URL, or a throwaway `movierec_bench_import` database on 127.0.0.1
that it creates (and migrates); not `movierec_bench`, which bench_api.py keeps its prepared data in.
Each fresh import starts from empty catalogue and ratings tables (TRUNCATE ... CASCADE) and
deletes MovieLens users, so it refuses a database whose name lacks "bench" unless --wipe-ok.
The synthetic folder is generated once into var/bench/ (git-ignored) and reused.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/movierec_bench_import"


def ensure_database(url: str) -> None:
    import environ
    import psycopg2
    from psycopg2 import sql

    config = environ.Env.db_url_config(url)
    params = {k: v for k, v in {"host": config["HOST"], "port": config["PORT"], "user": config["USER"]}.items() if v}
    if config.get("PASSWORD"):
        params["password"] = config["PASSWORD"]
    admin = psycopg2.connect(dbname="postgres", **params)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if not cursor.fetchone():
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(config["NAME"])))
            print(f"created database {config['NAME']}")
    admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ratings", type=int, default=25_000_000)
    parser.add_argument("--users", type=int, default=162_541)
    parser.add_argument("--movies", type=int, default=59_047)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-small", action="store_true", help="do not time ml-latest-small")
    parser.add_argument("--skip-synthetic", action="store_true", help="only time ml-latest-small")
    parser.add_argument("--reimport", action="store_true", help="also time re-importing unchanged data")
    parser.add_argument("--wipe-ok", action="store_true", help="allow emptying a database not named *bench*")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    sys.path.insert(0, str(BASE_DIR))
    if url == DEFAULT_URL:
        ensure_database(url)
    elif "bench" not in url.rsplit("/", 1)[-1].split("?")[0] and not args.wipe_ok:
        sys.exit(f"refusing to empty the catalogue of {url}: use a *bench* database or pass --wipe-ok")

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from movielens.services import movielens_import
    from movielens.synthetic import SyntheticConfig, synthetic_write_csv

    call_command("migrate", verbosity=0)
    results: list[tuple[str, str, int, float]] = []

    def reset() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE ratings_rating, catalog_tag, catalog_movie_genres, catalog_movie, catalog_genre CASCADE"
            )
            # Users other rows still point at (e.g. API tokens) are kept; the import reuses them.
            cursor.execute(
                "DELETE FROM accounts_user AS u WHERE movielens_id IS NOT NULL AND NOT EXISTS "
                "(SELECT 1 FROM authtoken_token AS t WHERE t.user_id = u.id)"
                if "authtoken_token" in connection.introspection.table_names()
                else "DELETE FROM accounts_user WHERE movielens_id IS NOT NULL"
            )

    def timed_import(name: str, phase: str, path: Path) -> None:
        summary = movielens_import(path=path, progress=sys.stderr.isatty())
        results.append((name, phase, summary.ratings_total, summary.seconds))
        print(
            f"{name} {phase}: {summary.seconds:.1f} s, ratings {summary.ratings_created} created / "
            f"{summary.ratings_updated} updated / {summary.ratings_unchanged} unchanged, bulk={summary.bulk}",
            flush=True,
        )

    if not args.skip_small:
        reset()
        timed_import("ml-latest-small", "fresh", settings.MOVIELENS_BUNDLED_DIR)
        timed_import("ml-latest-small", "again", settings.MOVIELENS_BUNDLED_DIR)

    if not args.skip_synthetic:
        config = SyntheticConfig(ratings=args.ratings, users=args.users, movies=args.movies, seed=args.seed)
        folder = BASE_DIR / "var" / "bench" / f"synthetic-{args.ratings}-{args.users}-{args.movies}-seed{args.seed}"
        name = f"synthetic {args.ratings / 1e6:g}M"
        if not (folder / "ratings.csv").exists():
            print(f"generating {folder} ...", flush=True)
            stats = synthetic_write_csv(config=config, out_dir=folder, progress=sys.stderr.isatty())
            results.append((name, "generate CSV", stats.ratings, stats.seconds))
            print(f"generated in {stats.seconds:.1f} s", flush=True)
        reset()
        timed_import(name, "fresh", folder)
        if args.reimport:
            timed_import(name, "again", folder)

    print()
    print(f"{'data set':<18} {'phase':<13} {'ratings':>12} {'seconds':>9} {'ratings/s':>11}")
    for name, phase, rows, seconds in results:
        print(f"{name:<18} {phase:<13} {rows:>12,} {seconds:>9.1f} {rows / seconds if seconds else 0:>11,.0f}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print(f"\n{cursor.fetchone()[0].split(' on ')[0]}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
