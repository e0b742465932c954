from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from catalog.models import Movie
from recommendations.models import TrainingRun
from recommendations.selectors import training_run_active


class Command(BaseCommand):
    help = (
        "Make a fresh database ready to serve: migrate, import the bundled MovieLens data when the "
        "catalogue is empty, and train a first model when no run is active. Safe to run every start."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-train", action="store_true", help="Skip the first training run.")

    def handle(self, *args, **opts):
        call_command("migrate", interactive=False, verbosity=1)
        if not Movie.objects.exists():
            self.stdout.write(f"Catalogue is empty: importing {settings.MOVIELENS_BUNDLED_DIR}")
            call_command("import_movielens", str(settings.MOVIELENS_BUNDLED_DIR))
        else:
            self.stdout.write(f"Catalogue has {Movie.objects.count():,} movies.")
        if opts["no_train"]:
            return
        active = training_run_active()
        if active is None:
            self.stdout.write("No active model: training the first one (Spark, about half a minute).")
            call_command("retrain", trigger=TrainingRun.Trigger.SETUP)
        else:
            self.stdout.write(f"Run {active.pk} is serving (trained {active.finished_at:%Y-%m-%d %H:%M}).")
