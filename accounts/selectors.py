"""Reads for accounts."""

from __future__ import annotations

from ratings.models import Rating

from .models import User


def user_has_ratings(*, user) -> bool:
    return user.is_authenticated and Rating.objects.filter(user=user).exists()


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()
