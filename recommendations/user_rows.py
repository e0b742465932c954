"""The rows of training runs that belong to one user, and what happens to them when the account is deleted.

Recommendation and UserFactor rows carry a user id without a database foreign key (see models), so
deleting a user does not cascade to them: `user_rows_delete` removes them from every run, and
`user_cache_forget` drops the user's cached fold-in lists.

A retrain that is running when someone deletes their account computed rows for them from the
ratings it exported. Publishing must not bring those rows back, so the two sides take one
PostgreSQL advisory lock in transaction scope: an account deletion takes it shared (deletions run
side by side), the publish exclusive from its orphan clean-up to its commit. Whichever goes second
sees what the first committed:

- deletion first: the publish's clean-up runs after the user row is gone and drops their rows;
- publish first: the deletion waits for the new rows to commit, then deletes them with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection

from .models import Recommendation, StarsUserFactor, TrainingRun, UserFactor

# Result tables with a user column. tests/yourdata checks that no other model refers to users without cascading.
USER_KEYED_MODELS: tuple[type, ...] = (Recommendation, UserFactor, StarsUserFactor)
# An arbitrary, fixed 64-bit key: "movierec user rows".
USER_ROWS_LOCK_KEY = 0x6D72_7573_6572_7277 & 0x7FFF_FFFF_FFFF_FFFF
# recommendations.selectors caches fold-in lists under "fresh-recs:<run>:<user>:…".
FRESH_CACHE_PREFIX = "fresh-recs:"


def user_rows_lock_for_deletion() -> None:
    """Take the user-rows lock shared until the current transaction ends (call inside transaction.atomic)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [USER_ROWS_LOCK_KEY])


def user_rows_delete(*, user_ids: Iterable[int]) -> dict[str, int]:
    """Delete the users' Recommendation, UserFactor and StarsUserFactor rows of every run; rows deleted per model label.

    Call in the account deletion's transaction, after `user_rows_lock_for_deletion`. Each run is an
    index probe on (run_id, user_id): the tables hold millions of rows and have no index on user_id alone.
    """
    user_ids = list(user_ids)
    run_ids = list(TrainingRun.objects.values_list("pk", flat=True))
    counts = {}
    for model in USER_KEYED_MODELS:
        deleted = 0
        if user_ids and run_ids:
            deleted, _ = model.objects.filter(run_id__in=run_ids, user_id__in=user_ids).delete()
        counts[model._meta.label] = deleted
    return counts


def run_rows_drop_deleted_users(*, cursor, run_id: int, models: Iterable[type]) -> dict[str, int]:
    """Delete the run's rows (of `models`, those just loaded) that belong to users who no longer exist.

    Called by the publish inside its load transaction, with the COPY done. Takes the user-rows lock
    exclusive until that transaction ends. The users are found in UserFactor when it was loaded (one
    row per user: ~160K at ML-25M, not 16M recommendations); every user of a run's top-N has factors.
    Returns rows deleted per model label.
    """
    user_models = [model for model in USER_KEYED_MODELS if model in set(models)]
    if not user_models:
        return {}
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [USER_ROWS_LOCK_KEY])
    source = UserFactor if UserFactor in user_models else user_models[0]
    users = get_user_model()._meta.db_table
    cursor.execute(
        f"SELECT DISTINCT r.user_id FROM {source._meta.db_table} r WHERE r.run_id = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {users} u WHERE u.id = r.user_id)",
        [run_id],
    )
    missing = [row[0] for row in cursor.fetchall()]
    counts = {}
    for model in user_models:
        deleted = 0
        if missing:
            cursor.execute(
                f"DELETE FROM {model._meta.db_table} WHERE run_id = %s AND user_id = ANY(%s)", [run_id, missing]
            )
            deleted = cursor.rowcount
        counts[model._meta.label] = deleted
    return counts


def user_cache_forget(*, user_ids: Iterable[int]) -> int:
    """Drop the users' cached fold-in lists from the default cache; returns how many entries went.

    Django's cache has no "delete by pattern": this works for the in-process cache (LocMemCache, this
    process only) and Django's Redis cache. Elsewhere, and in other processes' memory, the entries
    expire within FRESH_CACHE_SECONDS; they are keyed by a user id that is never used again.
    """
    wanted = {str(user_id) for user_id in user_ids}

    def mine(key) -> bool:
        key = key.decode() if isinstance(key, bytes) else str(key)
        _, found, rest = key.partition(FRESH_CACHE_PREFIX)
        parts = rest.split(":")
        return bool(found) and len(parts) > 1 and parts[1] in wanted

    if hasattr(cache, "_cache") and hasattr(cache, "_lock") and isinstance(cache._cache, dict):  # LocMemCache
        with cache._lock:
            keys = [key for key in cache._cache if mine(key)]
            for key in keys:
                cache._delete(key)
        return len(keys)
    client_of = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client_of is not None:  # django.core.cache.backends.redis.RedisCache
        client = client_of(write=True)
        keys = [key for key in client.scan_iter(match=cache.make_key(FRESH_CACHE_PREFIX + "*")) if mine(key)]
        if keys:
            client.delete(*keys)
        return len(keys)
    return 0
