"""Deleting an account and everything that belongs to it.

This package sits above recommendations: a deletion writes into accounts, ratings, catalog (tags),
recommendations, sessions and the log-in records, so it lives above all of them, like the MovieLens importer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import import_module

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth import SESSION_KEY, get_user_model
from django.db import transaction
from django.utils import timezone

from recommendations.user_rows import user_cache_forget, user_rows_delete, user_rows_lock_for_deletion

# Sessions decoded per round trip while looking for a user's sessions.
SESSION_SCAN_CHUNK = 2000


@dataclass(frozen=True)
class AccountDeletion:
    user_ids: list[int]
    # Rows deleted per model label ("ratings.Rating": 1234, "sessions": 2, …); models with none are left out.
    rows: dict[str, int] = field(default_factory=dict)


def account_delete(*, user) -> AccountDeletion:
    """Delete `user` and every row of theirs at once: see `accounts_delete`."""
    return accounts_delete(user_ids=[user.pk])


def accounts_delete(*, user_ids: Iterable[int]) -> AccountDeletion:
    """Delete these users and everything of theirs in one transaction.

    Goes: the users' ratings, wishlist and hidden movies, tags, API tokens, admin log entries (cascades
    of the user row), their rows of every training run (Recommendation, UserFactor), all their sessions
    (every device, not only the current one), their log-in records (django-axes, by username) and, once
    committed, their cached recommendation lists. A retrain running meanwhile publishes nothing for
    them (recommendations.user_rows). Checking the password is the caller's business.
    """
    User = get_user_model()
    user_ids = sorted(set(user_ids))
    with transaction.atomic():
        users = list(User.objects.select_for_update().filter(pk__in=user_ids).values_list("pk", "username"))
        user_ids = [pk for pk, _ in users]
        if not user_ids:
            return AccountDeletion(user_ids=[])
        user_rows_lock_for_deletion()
        rows = user_rows_delete(user_ids=user_ids)
        rows["sessions"] = user_sessions_delete(user_ids=user_ids)
        usernames = [username for _, username in users]
        for model in (AccessAttempt, AccessFailureLog, AccessLog):
            rows[model._meta.label], _ = model.objects.filter(username__in=usernames).delete()
        _, cascaded = User.objects.filter(pk__in=user_ids).delete()
        rows |= cascaded
        transaction.on_commit(lambda: user_cache_forget(user_ids=user_ids))
    return AccountDeletion(user_ids=user_ids, rows={label: n for label, n in rows.items() if n})


def user_sessions_delete(*, user_ids: Iterable[int]) -> int:
    """End every stored session signed in as one of these users; returns how many.

    Sessions do not index their user: the unexpired ones are decoded in chunks (a few µs each). Only
    engines that store sessions in the database can be searched (db, cached_db: the default); with
    others a session of a deleted user finds no user and counts as signed out.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store, "get_model_class"):
        return 0
    wanted = {str(user_id) for user_id in user_ids}
    live = store.get_model_class().objects.filter(expire_date__gt=timezone.now())
    keys = [
        key
        for key, data in live.values_list("session_key", "session_data").iterator(chunk_size=SESSION_SCAN_CHUNK)
        if str(store().decode(data).get(SESSION_KEY)) in wanted
    ]
    for key in keys:
        store(session_key=key).delete()  # the row, and for cached_db its cache entry
    return len(keys)
