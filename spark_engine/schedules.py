"""The django-q2 schedules of the retrain, declared idempotently after every migrate."""

from __future__ import annotations

from django.conf import settings

NIGHTLY = "movierec: nightly retrain"
NEW_RATINGS = "movierec: retrain after new ratings"


def schedules_declare(**kwargs) -> None:
    """Create or update the two schedules from settings; safe to call any number of times."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=NIGHTLY,
        defaults={
            "func": "spark_engine.tasks.scheduled_retrain_task",
            "schedule_type": Schedule.CRON,
            "cron": settings.RETRAIN_SCHEDULE_CRON,
            "repeats": -1,
        },
    )
    Schedule.objects.update_or_create(
        name=NEW_RATINGS,
        defaults={
            "func": "spark_engine.tasks.retrain_if_enough_new_ratings_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.RETRAIN_CHECK_MINUTES,
            "repeats": -1,
        },
    )
