"""Reads for accounts."""

from __future__ import annotations

from .models import User


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()


def user_taste_version(*, user) -> int:
    """The user's taste version, read now: it changes with every change to their ratings or hidden movies."""
    return User.objects.filter(pk=user.pk).values_list("taste_version", flat=True).first() or 0
