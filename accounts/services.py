"""Writes for accounts."""

from __future__ import annotations

from django.db import transaction

from .models import User


def user_sign_up(*, username: str, email: str, password: str) -> User:
    """Create a site user (never a MovieLens rater) with a hashed password.

    The form has already validated uniqueness and password strength; a race on the username
    still fails on the unique constraint with IntegrityError.
    """
    with transaction.atomic():
        return User.objects.create_user(username=username, email=email or "", password=password)
