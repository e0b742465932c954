from django.apps import AppConfig
from django.db.models.signals import post_migrate

from spark_engine.schedules import schedules_declare


class SparkEngineConfig(AppConfig):
    name = "spark_engine"
    verbose_name = "Spark engine"

    def ready(self) -> None:
        # post_migrate fires once per app with models after all migrations ran; spark_engine has
        # no models, so declare when django_q's turn comes (its Schedule table exists by then).
        post_migrate.connect(_declare_after_migrate, dispatch_uid="movierec-declare-schedules")


def _declare_after_migrate(sender, app_config=None, **kwargs) -> None:
    if app_config is None or app_config.label != "django_q":
        return
    schedules_declare()
