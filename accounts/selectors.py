"""Reads for accounts."""

from __future__ import annotations

from ratings.models import Rating


def user_has_ratings(*, user) -> bool:
    return user.is_authenticated and Rating.objects.filter(user=user).exists()
