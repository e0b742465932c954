"""Test settings: only overrides of the base module."""

import os

os.environ.setdefault("DEBUG", "1")

from movierec_site.settings import *  # noqa: E402,F403
from movierec_site.settings import BASE_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405 - tasks run inline
SPARK_MASTER = os.environ.get("SPARK_MASTER", "local[2]")
SPARK_DRIVER_MEMORY = "2g"
SPARK_SHUFFLE_PARTITIONS = 2
TRAINING_RUNS_DIR = BASE_DIR / "var" / "test-runs"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files are served from the finders in tests; there is no collectstatic output.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
# Operations (issue 7): form rate limits off unless a test turns them on (their counters live in the
# per-process cache and would add up across tests); django-q2 cluster status in this process's
# memory, not in var/ (which other test runs in this working tree share).
RATELIMIT_ENABLE = False
CACHES = {
    **CACHES,  # noqa: F405
    "django_q": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "django-q-stats"},
}
