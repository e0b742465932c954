"""python manage.py generate_movielens_synthetic (--csv-dir DIR | --into-db [--force]) [--ratings N ...]"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from movielens.errors import MovieLensError
from movielens.synthetic import SyntheticConfig, synthetic_load_into_db, synthetic_write_csv

DEFAULTS = SyntheticConfig()


class Command(BaseCommand):
    help = (
        "Generate a synthetic MovieLens-25M-shaped data set (Zipf-like popularity and activity, every user "
        "with 20+ ratings, half stars) as an ml-latest-style CSV folder or straight into the database."
    )

    def add_arguments(self, parser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--csv-dir", type=Path, help="write movies.csv, ratings.csv, links.csv, tags.csv here")
        target.add_argument("--into-db", action="store_true", help="load into the database (catalogue must be empty)")
        parser.add_argument("--force", action="store_true", help="with --into-db: empty catalogue and ratings first")
        parser.add_argument("--ratings", type=int, default=DEFAULTS.ratings)
        parser.add_argument("--users", type=int, default=DEFAULTS.users)
        parser.add_argument("--movies", type=int, default=DEFAULTS.movies)
        parser.add_argument("--tags", type=int, default=None, help="default: one per 1000 ratings")
        parser.add_argument("--seed", type=int, default=DEFAULTS.seed)
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, csv_dir: Path | None, into_db: bool, force: bool, no_progress: bool, **options):
        if force and not into_db:
            raise CommandError("--force only applies to --into-db")
        config = SyntheticConfig(
            ratings=options["ratings"],
            users=options["users"],
            movies=options["movies"],
            seed=options["seed"],
            tags=options["tags"],
        )
        try:
            if into_db:
                stats = synthetic_load_into_db(config=config, force=force, progress=not no_progress)
                where = "the database"
            else:
                stats = synthetic_write_csv(config=config, out_dir=csv_dir, progress=not no_progress)
                where = str(csv_dir)
        except MovieLensError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {stats.ratings} ratings by {stats.users} users of {stats.movies} movies "
                f"({stats.tags} tags) into {where} in {stats.seconds:.1f} s"
            )
        )
