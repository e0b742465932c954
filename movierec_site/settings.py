"""MovieRec settings, read from the environment in one place.

Every variable is documented in `.env.example`. Defaults suit a laptop: embedded PostgreSQL,
local Spark, the django-q2 ORM broker. With DEBUG off the site refuses to start without a real
SECRET_KEY.
"""

from __future__ import annotations

import re
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (git-ignored) is read if present; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

_INSECURE_KEY = "django-insecure-development-only-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="" if not DEBUG else _INSECURE_KEY)
if not DEBUG and (not SECRET_KEY or SECRET_KEY.startswith("django-insecure") or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random string of at least 50 characters when DEBUG is off "
        "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))')"
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_q",
    "accounts",
    "catalog",
    "ratings",
    "recommendations",
    "spark_engine",
    "ops",
    # Log-in rate limiting (failed attempts are stored in the database).
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns an axes lockout into a 429 page; must stay last.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "movierec_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "movierec_site.wsgi.application"

# --- Database: PostgreSQL only. DATABASE_URL, or an embedded server under EMBEDDED_DB_DIR. ---
EMBEDDED_DB_DIR = Path(env.str("EMBEDDED_DB_DIR", default=str(BASE_DIR / ".pgdata")))
if env.str("DATABASE_URL", default=""):
    _database_url = env.str("DATABASE_URL")
else:
    from movierec_site.embedded_db import embedded_database_url

    _database_url = embedded_database_url(EMBEDDED_DB_DIR)
DATABASES = {"default": environ.Env.db_url_config(_database_url)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL (postgres://...)")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Log-in rate limiting (django-axes) ---
# The axes backend goes first: it refuses locked-out clients before any password is checked.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LoginRateLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# LOGIN_FAILURE_LIMIT failed log-ins for one username from one address lock that pair out for
# LOGIN_LOCKOUT_MINUTES; a successful log-in resets the count. Locking the pair (not the address
# alone) means a neighbour behind the same NAT cannot lock everyone out.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_MINUTES", default=15) / 60  # axes takes hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
# Behind a proxy (BEHIND_TLS_PROXY) the client address is the last X-Forwarded-For hop.
AXES_CLIENT_IP_CALLABLE = "accounts.backends.client_ip_address"
AXES_VERBOSE = False
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# --- Security: production defaults; `manage.py check --deploy` is clean with DEBUG off. ---
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- MovieLens data ---
MOVIELENS_BUNDLED_DIR = BASE_DIR / "data" / "ml-latest-small"
MOVIELENS_CACHE_DIR = Path(env.str("MOVIELENS_CACHE_DIR", default=str(BASE_DIR / "var" / "downloads")))
MOVIELENS_DOWNLOAD_BASE_URL = env.str(
    "MOVIELENS_DOWNLOAD_BASE_URL", default="https://files.grouplens.org/datasets/movielens/"
)

# --- Spark and the retraining pipeline ---
SPARK_MASTER = env.str("SPARK_MASTER", default="local[*]")
SPARK_DRIVER_MEMORY = env.str("SPARK_DRIVER_MEMORY", default="4g")
SPARK_EXECUTOR_MEMORY = env.str("SPARK_EXECUTOR_MEMORY", default="4g")
SPARK_SHUFFLE_PARTITIONS = env.int("SPARK_SHUFFLE_PARTITIONS", default=8)
SPARK_LOCAL_DIR = Path(env.str("SPARK_LOCAL_DIR", default=str(BASE_DIR / "var" / "spark-local")))
# Runs write their exported ratings and results here; on a cluster it must be a path every
# Spark node can read (NFS, or an object store URI Spark understands).
TRAINING_RUNS_DIR = Path(env.str("TRAINING_RUNS_DIR", default=str(BASE_DIR / "var" / "runs")))
TRAINING_RUNS_KEEP = env.int("TRAINING_RUNS_KEEP", default=3)
RECOMMENDATIONS_TOP_N = env.int("RECOMMENDATIONS_TOP_N", default=50)
SIMILAR_MOVIES_K = env.int("SIMILAR_MOVIES_K", default=20)
ALS_RANK = env.int("ALS_RANK", default=10)
ALS_MAX_ITER = env.int("ALS_MAX_ITER", default=10)
ALS_REG_PARAM = env.float("ALS_REG_PARAM", default=0.1)
ALS_IMPLICIT_PREFS = env.bool("ALS_IMPLICIT_PREFS", default=False)
ALS_ALPHA = env.float("ALS_ALPHA", default=1.0)
ALS_NONNEGATIVE = env.bool("ALS_NONNEGATIVE", default=False)
ALS_SEED = env.int("ALS_SEED", default=42)
ALS_NUM_BLOCKS = env.int("ALS_NUM_BLOCKS", default=0)  # 0: chosen from data size and cores
EVALUATION_HOLDOUT_FRACTION = env.float("EVALUATION_HOLDOUT_FRACTION", default=0.2)
# Retrain nightly (cron syntax, server time zone) and after this many new ratings (0 disables).
RETRAIN_SCHEDULE_CRON = env.str("RETRAIN_SCHEDULE_CRON", default="30 3 * * *")
RETRAIN_AFTER_NEW_RATINGS = env.int("RETRAIN_AFTER_NEW_RATINGS", default=1000)
RETRAIN_CHECK_MINUTES = env.int("RETRAIN_CHECK_MINUTES", default=10)

# --- django-q2: the ORM broker by default, Redis when Q_REDIS_URL is set. ---
Q_CLUSTER = {
    "name": "movierec",
    "workers": env.int("Q_WORKERS", default=1),
    "timeout": env.int("Q_TASK_TIMEOUT", default=3600),
    # retry must exceed timeout, or a long retrain would be handed to a second worker.
    "retry": env.int("Q_TASK_TIMEOUT", default=3600) + 600,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 250,
    "label": "Task queue",
}
if env.str("Q_REDIS_URL", default=""):
    Q_CLUSTER["redis"] = env.str("Q_REDIS_URL")
else:
    Q_CLUSTER["orm"] = "default"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "py4j": {"level": "WARNING"},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- REST API (/api/v1/, see movierec_site/api_urls.py) ---
INSTALLED_APPS += [
    "rest_framework.authtoken",  # API tokens: POST /api/v1/auth/token/
    "drf_spectacular",  # OpenAPI 3 schema at /api/schema/
    "drf_spectacular_sidecar",  # Swagger UI files for /api/docs/, served locally (no CDN)
]


def _throttle_rate(name: str, default: str) -> str:
    """A DRF throttle rate such as "100/minute"; a malformed one stops the start, not the first request."""
    value = env.str(name, default=default).strip()
    if not re.fullmatch(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)", value):
        raise ImproperlyConfigured(
            f'{name} must look like "100/minute" (per second, minute, hour or day), not {value!r}'
        )
    return value


REST_FRAMEWORK.update(
    {
        # Token first: an unauthenticated request is answered 401 with `WWW-Authenticate: Token`
        # (with session auth first DRF would answer 403). Session auth serves the browsable API.
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.TokenAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
        # JSON bodies only: one documented format, and no half-parsed form or multipart bodies.
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
        "EXCEPTION_HANDLER": "movierec_site.api_errors.api_exception_handler",
        "DEFAULT_THROTTLE_CLASSES": [
            "rest_framework.throttling.AnonRateThrottle",
            "rest_framework.throttling.UserRateThrottle",
        ],
        # Per client address (anonymous) and per user, e.g. "100/minute", "5000/hour"; counted in
        # the default cache, which is per process unless CACHES points at a shared cache.
        "DEFAULT_THROTTLE_RATES": {
            "anon": _throttle_rate("API_THROTTLE_ANON", "100/minute"),
            "user": _throttle_rate("API_THROTTLE_USER", "1000/minute"),
        },
        # The client address for anonymous throttling: REMOTE_ADDR, or the hop our own proxy appended
        # (never a client-supplied X-Forwarded-For, which would let anyone dodge the limit).
        "NUM_PROXIES": 1 if env.bool("BEHIND_TLS_PROXY", default=False) else 0,
    }
)
SPECTACULAR_SETTINGS = {
    "TITLE": "MovieRec API",
    "DESCRIPTION": (
        "Browse movies, rate them, and get recommendations that reflect your ratings at once. "
        "Authenticate with `Authorization: Token <key>` (POST /api/v1/auth/token/) or a site session. "
        'Every error has the body {"error": {"code", "message", "fields"}}.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "movierec_site.api_errors.add_error_responses",
    ],
}
