from django.core.management.base import BaseCommand, CommandError

from recommendations.models import TrainingRun
from recommendations.retrain import RetrainOptions, retrain_enqueue
from spark_engine.pipeline import retrain


class Command(BaseCommand):
    help = (
        "Retrain the stars model (biased ALS) and the list model (implicit ALS) on all ratings and publish every "
        "user's top-N (foreground, or --enqueue)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--enqueue", action="store_true", help="Queue the retrain on django-q2 and return.")
        stars = parser.add_argument_group("stars model (biased ALS)")
        stars.add_argument("--rank", type=int)
        stars.add_argument("--max-iter", type=int, dest="max_iter")
        stars.add_argument(
            "--reg-param",
            type=float,
            dest="reg_param",
            help="Fixed regParam: skips the retrain's own choice on the holdout split.",
        )
        stars.add_argument(
            "--no-reg-search",
            action="store_false",
            dest="reg_search",
            default=None,
            help="Keep the settings' (or tuned) regParam instead of choosing one on the holdout split.",
        )
        stars.add_argument("--bias-reg-user", type=float, dest="bias_reg_user")
        stars.add_argument("--bias-reg-item", type=float, dest="bias_reg_item")
        lists = parser.add_argument_group("list model (implicit ALS on rating - center)")
        lists.add_argument("--list-rank", type=int, dest="list_rank")
        lists.add_argument("--list-max-iter", type=int, dest="list_max_iter")
        lists.add_argument("--list-reg-param", type=float, dest="list_reg_param")
        lists.add_argument("--list-alpha", type=float, dest="list_alpha")
        lists.add_argument("--list-center", type=float, dest="list_center")
        parser.add_argument("--nonnegative", action="store_true", default=None)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--top-n", type=int, dest="top_n", help="Recommendations stored per user.")
        parser.add_argument("--similar-k", type=int, dest="similar_k", help="Similar movies stored per movie.")
        parser.add_argument("--holdout-fraction", type=float, dest="holdout_fraction")
        parser.add_argument("--num-blocks", type=int, dest="num_blocks", help="ALS blocks (0: automatic).")
        parser.add_argument("--no-evaluate", action="store_false", dest="evaluate", default=None)
        parser.add_argument(
            "--trigger",
            default=TrainingRun.Trigger.COMMAND,
            choices=TrainingRun.Trigger.values,
            help="Recorded on the run.",
        )

    def handle(self, *args, **opts):
        names = (
            "rank",
            "max_iter",
            "reg_param",
            "bias_reg_user",
            "bias_reg_item",
            "list_rank",
            "list_max_iter",
            "list_reg_param",
            "list_alpha",
            "list_center",
            "nonnegative",
            "seed",
            "top_n",
            "similar_k",
            "holdout_fraction",
            "evaluate",
            "num_blocks",
            "reg_search",
        )
        try:
            options = RetrainOptions.from_settings(**{name: opts[name] for name in names})
            options.validate()
        except ValueError as exc:
            raise CommandError(str(exc))

        if opts["enqueue"]:
            run = retrain_enqueue(trigger=opts["trigger"], options=options)
            if run.status == TrainingRun.Status.SKIPPED:
                raise CommandError(f"Run {run.pk} skipped: a retrain is already running or queued.")
            self.stdout.write(f"Run {run.pk} queued; a qcluster worker will pick it up.")
            return

        def on_stage(stage: str, detail: str) -> None:
            self.stdout.write(f"[{stage}] {detail}")
            self.stdout.flush()

        run = retrain(trigger=opts["trigger"], options=options, on_stage=on_stage)
        if run.status == TrainingRun.Status.SKIPPED:
            raise CommandError(f"Run {run.pk} skipped: another retrain is running.")
        if run.status != TrainingRun.Status.SUCCEEDED:
            last_line = run.error.strip().splitlines()[-1] if run.error else "unknown error"
            raise CommandError(f"Run {run.pk} failed: {last_line}")
        self.stdout.write(self.style.SUCCESS(f"Run {run.pk} published in {run.duration_seconds:.1f}s."))
