"""MovieRec settings, read from the environment in one place, top to bottom.

Every variable is documented in `.env.example` (tests/ops/test_settings_documented.py checks).
Defaults suit a laptop: embedded PostgreSQL, local Spark, the django-q2 ORM broker. A malformed value stops
the start; with DEBUG off the site refuses to start without a real SECRET_KEY.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS as _JSON_LOG_RESERVED_ATTRS

from movierec_site.embedded_db import embedded_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (git-ignored) is read if present; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _rate(name: str, default: str, *, multiples: bool = False) -> str:
    """A rate such as "100/minute" or "10/h"; a malformed one stops the start, not the first request.

    DRF's throttles take N per second, minute, hour or day; django-ratelimit (`multiples`) also N per M units ("10/5m").
    """
    value = env.str(name, default=default).strip()
    every = "[0-9]*" if multiples else ""
    if not re.fullmatch(rf"[0-9]+/{every}(s|sec|second|m|min|minute|h|hour|d|day)", value):
        example = "10/h" if multiples else "100/minute"
        raise ImproperlyConfigured(f'{name} must look like "{example}" (per s, m, h or d), not {value!r}')
    return value


def _ip_networks(name: str, default: list[str]) -> list[str]:
    """Comma-separated IP addresses or networks, each checked."""
    entries = env.list(name, default=default)
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {entry!r} is not an IP address or network")
    return entries


# --- Core ---
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
# Behind a TLS-terminating proxy: trust its X-Forwarded-Proto, and take client addresses from the hop it appends
# to X-Forwarded-For (log-in lockouts, form rate limits, API throttles, /metrics).
_behind_tls_proxy = env.bool("BEHIND_TLS_PROXY", default=False)

# The order matters where apps share template or static names: earlier apps win.
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
    "movielens",
    "yourdata",
    "movienight",
    "ops",
    # Log-in rate limiting (failed attempts are stored in the database).
    "axes",
    "rest_framework.authtoken",  # API tokens: POST /api/v1/auth/token/
    "drf_spectacular",  # OpenAPI 3 schema at /api/schema/
    "drf_spectacular_sidecar",  # Swagger UI files for /api/docs/, served locally (no CDN)
    "csp",  # Content-Security-Policy header (django-csp)
    "django_ratelimit",  # sign-up and password-reset limits
]

MIDDLEWARE = [
    # Request id first, so every other middleware's log lines carry it; then the request timer.
    "ops.middleware.RequestIdMiddleware",
    "ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "ops.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Django's session, authentication and message middlewares, which a token-authenticated API request (it uses
    # none of them) skips: ops.middleware.is_token_api_request.
    "ops.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # An over-long API query string gets a JSON 414 in the API's error shape (after the host check).
    "movierec_site.api_errors.ApiQueryTooLongMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "ops.middleware.AuthenticationMiddleware",
    "ops.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Turns django-ratelimit's Ratelimited exception into RATELIMIT_VIEW (429).
    "django_ratelimit.middleware.RatelimitMiddleware",
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
            # The admin's long change lists write their rows in Python (templates/admin/plain_rows_change_list.html).
            "libraries": {"admin_rows": "movierec_site.admin_utils"},
        },
    },
]

# Django's form renderer with its input, select and textarea widget templates written in Python (the admin's
# change forms were half template renders of widgets): movierec_site.form_renderer.
FORM_RENDERER = "movierec_site.form_renderer.PlainWidgetRenderer"

WSGI_APPLICATION = "movierec_site.wsgi.application"

# --- Database: PostgreSQL only. DATABASE_URL, or an embedded server under EMBEDDED_DB_DIR. ---
EMBEDDED_DB_DIR = Path(env.str("EMBEDDED_DB_DIR", default=str(BASE_DIR / ".pgdata")))
if env.str("DATABASE_URL", default=""):
    _database_url = env.str("DATABASE_URL")
else:
    _database_url = embedded_database_url(EMBEDDED_DB_DIR)
DATABASES = {"default": environ.Env.db_url_config(_database_url)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point to PostgreSQL (postgres://...)")
# Django's backend with a health check of reused connections that needs no round trip (movierec_site.postgresql).
DATABASES["default"]["ENGINE"] = "movierec_site.postgresql"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
# The hottest queries (the API's token query) as server-side prepared statements per connection
# (movierec_site.postgresql.base.execute_prepared); 0 behind a transaction-mode pooler such as PgBouncer's.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Caches ---
CACHES = {
    # Rate-limit and API-throttle counters: per process unless CACHE_URL points at a shared cache
    # (redis://host:6379/1), in which case limits hold across gunicorn workers.
    "default": environ.Env.cache_url_config(env.str("CACHE_URL", default="") or "locmemcache://movierec"),
    # django-q2 clusters report their status (the /readyz heartbeat, `manage.py qinfo`) here with the ORM
    # broker (with Q_REDIS_URL they report to Redis). Shared with the web processes: by default a folder on
    # this machine; with qcluster on other machines, e.g. redis://.
    "django_q": environ.Env.cache_url_config(
        env.str("Q_STATS_CACHE_URL", default="") or f"filecache://{BASE_DIR / 'var' / 'django-q-stats'}"
    ),
}

# --- Accounts and log-in ---
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The axes backend goes first: it refuses locked-out clients before any password is checked.
AUTHENTICATION_BACKENDS = [
    "accounts.backends.LoginRateLimitBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# Log-in rate limiting (django-axes): LOGIN_FAILURE_LIMIT failed log-ins for one username from one address lock
# that pair out for LOGIN_LOCKOUT_MINUTES; a successful log-in resets the count. Locking the pair (not the
# address alone) means a neighbour behind the same NAT cannot lock everyone out.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_MINUTES", default=15) / 60  # axes takes hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_CLIENT_IP_CALLABLE = "accounts.backends.client_ip_address"  # the proxy's X-Forwarded-For hop, if any
AXES_VERBOSE = False

# Form rate limits (django-ratelimit), per client address (as for log-ins); password reset also per e-mail address.
SIGNUP_RATE_LIMIT = _rate("SIGNUP_RATE_LIMIT", "10/h", multiples=True)
PASSWORD_RESET_RATE_LIMIT = _rate("PASSWORD_RESET_RATE_LIMIT", "10/h", multiples=True)
PASSWORD_RESET_EMAIL_RATE_LIMIT = _rate("PASSWORD_RESET_EMAIL_RATE_LIMIT", "3/h", multiples=True)
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "accounts.backends.client_ip_address"
RATELIMIT_VIEW = "ops.views.rate_limited"
# django-ratelimit wants memcached or django-redis; Django's own Redis cache works as well (W001),
# and with the default per-process cache (E003) each gunicorn worker counts on its own: set CACHE_URL.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]

# --- Internationalisation and static files ---
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

# --- TMDB: posters, overviews, runtimes and credits (catalog.tmdb, catalog.enrichment); off unless a credential
# is set. With TMDB on, the Content-Security-Policy below allows its image host. ---
TMDB_API_KEY = env.str("TMDB_API_KEY", default="")  # v3 API key (sent as ?api_key=)
TMDB_READ_TOKEN = env.str("TMDB_READ_TOKEN", default="")  # v4 read access token (Bearer), preferred when both are set
TMDB_API_URL = env.str("TMDB_API_URL", default="https://api.themoviedb.org/3")
if not TMDB_API_URL.startswith(("https://", "http://")):
    raise ImproperlyConfigured(f"TMDB_API_URL must be an http(s) URL, not {TMDB_API_URL!r}")
TMDB_REFRESH_DAYS = env.int("TMDB_REFRESH_DAYS", default=30)
TMDB_NOT_FOUND_RETRY_DAYS = env.int("TMDB_NOT_FOUND_RETRY_DAYS", default=7)
TMDB_MAX_REQUESTS_PER_SECOND = env.float("TMDB_MAX_REQUESTS_PER_SECOND", default=20.0)
if not 0 < TMDB_MAX_REQUESTS_PER_SECOND <= 50:
    raise ImproperlyConfigured("TMDB_MAX_REQUESTS_PER_SECOND must be above 0 and at most 50 (TMDB's limit)")
# Where posters come from (catalog.tmdb.IMAGE_BASE_URL): an image source only while TMDB is on.
_tmdb_images = ["https://image.tmdb.org"] if TMDB_API_KEY or TMDB_READ_TOKEN else []

# --- Security: production defaults; `manage.py check --deploy` is clean with DEBUG off. ---
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Probes and scrapers talk plain HTTP to the app server directly: no redirect to https for them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if _behind_tls_proxy else None
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): only the site's own files (static files included: whitenoise serves
# them; a CDN's origin would have to join the *-src lists) and TMDB's posters when TMDB is on; no inline scripts
# or styles; never framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, *_tmdb_images],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Per-view additions for third-party pages (ops.middleware.ContentSecurityPolicyMiddleware).
CONTENT_SECURITY_POLICY_VIEW_UPDATES = {
    # /api/docs/ is drf-spectacular's split Swagger view: its start-up script is a file (?script), but
    # the page styles itself with an inline <style> and its CSS draws icons from data: URIs.
    "api_docs": {"style-src": [UNSAFE_INLINE], "img-src": ["data:"]},
    # DRF's browsable API (an API URL opened in a browser): inline style attributes, code highlighting.
    "api:*": {"style-src": [UNSAFE_INLINE]},
}

# --- REST API (/api/v1/, see movierec_site/api_urls.py) ---
REST_FRAMEWORK = {
    # Token first: an unauthenticated request is answered 401 with `WWW-Authenticate: Token`
    # (with session auth first DRF would answer 403). Session auth serves the browsable API.
    # accounts.authentication's token auth is DRF's with its query compiled once per process.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    # JSON bodies only: one documented format, and no half-parsed form or multipart bodies.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # JSON, and the browsable API for browsers: pages for people, titled by each view's `name` and described
    # by its docstrings (movierec_site.api, templates/rest_framework/api.html).
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "movierec_site.api.ApiBrowsableRenderer",
    ],
    "VIEW_DESCRIPTION_FUNCTION": "movierec_site.api.view_description",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "movierec_site.api_errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # Per client address (anonymous) and per user, counted in the default cache (see CACHES).
    "DEFAULT_THROTTLE_RATES": {
        "anon": _rate("API_THROTTLE_ANON", "100/minute"),
        "user": _rate("API_THROTTLE_USER", "1000/minute"),
        # The token endpoint, per client address (or user), on top of anon/user.
        "auth_token": _rate("API_THROTTLE_AUTH_TOKEN", "20/hour"),
    },
    # The client address for anonymous throttling: REMOTE_ADDR, or the hop our own proxy appended
    # (never a client-supplied X-Forwarded-For, which would let anyone dodge the limit).
    "NUM_PROXIES": 1 if _behind_tls_proxy else 0,
}
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

# --- MovieLens data ---
MOVIELENS_BUNDLED_DIR = BASE_DIR / "data" / "ml-latest-small"
MOVIELENS_CACHE_DIR = Path(env.str("MOVIELENS_CACHE_DIR", default=str(BASE_DIR / "var" / "downloads")))
MOVIELENS_DOWNLOAD_BASE_URL = env.str(
    "MOVIELENS_DOWNLOAD_BASE_URL", default="https://files.grouplens.org/datasets/movielens/"
)

# --- Spark and the retraining pipeline (defaults and their measurements: README, Retraining) ---
SPARK_MASTER = env.str("SPARK_MASTER", default="local[*]")
SPARK_DRIVER_MEMORY = env.str("SPARK_DRIVER_MEMORY", default="4g")
SPARK_EXECUTOR_MEMORY = env.str("SPARK_EXECUTOR_MEMORY", default="4g")
SPARK_SHUFFLE_PARTITIONS = env.int("SPARK_SHUFFLE_PARTITIONS", default=8)
# Up to this many ratings the Spark JVM starts with its quick JIT tier only (see spark_engine.session).
SPARK_QUICK_JIT_MAX_RATINGS = env.int("SPARK_QUICK_JIT_MAX_RATINGS", default=2_000_000)
SPARK_LOCAL_DIR = Path(env.str("SPARK_LOCAL_DIR", default=str(BASE_DIR / "var" / "spark-local")))
# Runs write their exported ratings and results here; on a cluster it must be a path every
# Spark node can read (NFS, or an object store URI Spark understands).
TRAINING_RUNS_DIR = Path(env.str("TRAINING_RUNS_DIR", default=str(BASE_DIR / "var" / "runs")))
TRAINING_RUNS_KEEP = env.int("TRAINING_RUNS_KEEP", default=3)
RECOMMENDATIONS_TOP_N = env.int("RECOMMENDATIONS_TOP_N", default=50)
SIMILAR_MOVIES_K = env.int("SIMILAR_MOVIES_K", default=20)
ONBOARDING_STRATEGY = env.str("ONBOARDING_STRATEGY", default="varied")  # recommendations.onboarding.STRATEGIES
# A new movie's content prior weighs like this many ratings in its item fold-in (recommendations.cold_items).
ITEM_FOLDIN_PRIOR_RATINGS = env.float("ITEM_FOLDIN_PRIOR_RATINGS", default=2.0)
# Stars (predicted ratings): biased ALS, i.e. regularised user and movie biases, then ALS on the residuals.
ALS_RANK = env.int("ALS_RANK", default=16)
ALS_MAX_ITER = env.int("ALS_MAX_ITER", default=10)
ALS_REG_PARAM = env.float("ALS_REG_PARAM", default=0.15)
# Each retrain chooses the stars regParam on its holdout split, starting from the last run's choice (ALS_REG_PARAM the
# first time); 0 keeps ALS_REG_PARAM fixed (saves two ALS fits per retrain).
ALS_REG_SEARCH = env.bool("ALS_REG_SEARCH", default=True)
# ...but when at most this share of the ratings changed (written since, or the count moved) since the run whose search
# made the last choice, a retrain keeps that choice and fits it alone (one fit instead of three or more); 0: always
# search.
ALS_REG_SEARCH_REUSE_CHANGE = env.float("ALS_REG_SEARCH_REUSE_CHANGE", default=0.05)
# With the search, small data (spark_engine.reg_search.RANK_MAX_RATINGS) also tries twice ALS_RANK and keeps it when
# better beyond noise; 0 keeps ALS_RANK (saves one larger fit per searching retrain).
ALS_RANK_SEARCH = env.bool("ALS_RANK_SEARCH", default=True)
# Each retrain blends the list model's score into the predicted stars, weighted as its holdout split says
# (spark_engine.blend; kept only when it helps beyond noise); 0: the stars model alone.
ALS_STARS_BLEND = env.bool("ALS_STARS_BLEND", default=True)
ALS_BIAS_REG_USER = env.float("ALS_BIAS_REG_USER", default=5.0)
ALS_BIAS_REG_ITEM = env.float("ALS_BIAS_REG_ITEM", default=3.0)
# Lists (top-N, similar movies): implicit-feedback ALS on rating - LIST_ALS_CENTER (lower ratings count against).
LIST_ALS_RANK = env.int("LIST_ALS_RANK", default=32)
LIST_ALS_MAX_ITER = env.int("LIST_ALS_MAX_ITER", default=5)
LIST_ALS_REG_PARAM = env.float("LIST_ALS_REG_PARAM", default=0.3)
LIST_ALS_ALPHA = env.float("LIST_ALS_ALPHA", default=2.0)
LIST_ALS_CENTER = env.float("LIST_ALS_CENTER", default=3.0)
ALS_NONNEGATIVE = env.bool("ALS_NONNEGATIVE", default=False)
ALS_SEED = env.int("ALS_SEED", default=42)
ALS_NUM_BLOCKS = env.int("ALS_NUM_BLOCKS", default=0)  # 0: chosen from data size and cores
# Top-N and similar movies are scored on the driver up to this many users x movies, where starting Spark's
# Python workers would cost more than the scoring; 0 always distributes.
TOPN_DRIVER_MAX_CELLS = env.int("TOPN_DRIVER_MAX_CELLS", default=50_000_000)
# Up to this many ratings the stars model's biases are fitted with numpy on the driver, where Spark's job
# overhead would dwarf the arithmetic; 0 always fits them in Spark.
BIASES_DRIVER_MAX_RATINGS = env.int("BIASES_DRIVER_MAX_RATINGS", default=5_000_000)
# Up to this many ratings a retrain fits its stars and list models side by side (two threads submitting Spark jobs;
# the evaluation's list fit beside its stars fits too): on small data each fit alone leaves cores idle between its
# short jobs. Above it they run one after the other, since there each keeps every core busy and together they only
# raise the peak memory. 0: always one after the other.
CONCURRENT_MAX_RATINGS = env.int("CONCURRENT_MAX_RATINGS", default=2_000_000)
EVALUATION_HOLDOUT_FRACTION = env.float("EVALUATION_HOLDOUT_FRACTION", default=0.2)
# Above this many ratings the retrain evaluates on the ratings of a random share of the users (whole
# histories), so the holdout fit costs a fraction of the final one; 0 evaluates on everything.
EVALUATION_MAX_RATINGS = env.int("EVALUATION_MAX_RATINGS", default=5_000_000)
# Retrain nightly (cron syntax, server time zone) and after this many new ratings (0 disables).
RETRAIN_SCHEDULE_CRON = env.str("RETRAIN_SCHEDULE_CRON", default="30 3 * * *")
RETRAIN_AFTER_NEW_RATINGS = env.int("RETRAIN_AFTER_NEW_RATINGS", default=1000)
RETRAIN_CHECK_MINUTES = env.int("RETRAIN_CHECK_MINUTES", default=10)
# The django-q2 task a queued retrain runs (recommendations queues it by name; only spark_engine imports Spark).
RETRAIN_TASK = "spark_engine.tasks.retrain_task"

# --- Task queue (django-q2): the ORM broker by default, Redis when Q_REDIS_URL is set. ---
_q_task_timeout = env.int("Q_TASK_TIMEOUT", default=3600)
_q_redis_url = env.str("Q_REDIS_URL", default="")
Q_REDIS_URL = _q_redis_url
# With Redis (no delivery receipts), a worker holds a lease on its running task, renewed every third of
# Q_LEASE_SECONDS; a task whose lease expired (its worker died) is queued again until it was started
# Q_LOST_TASK_ATTEMPTS times, then recorded as failed (ops.taskqueue).
Q_LEASE_SECONDS = env.float("Q_LEASE_SECONDS", default=30.0)
Q_LOST_TASK_ATTEMPTS = env.int("Q_LOST_TASK_ATTEMPTS", default=2)
if Q_LEASE_SECONDS < 1 or Q_LOST_TASK_ATTEMPTS < 1:
    raise ImproperlyConfigured("Q_LEASE_SECONDS must be at least 1 and Q_LOST_TASK_ATTEMPTS at least 1")
Q_CLUSTER = {
    "name": "movierec",
    "workers": env.int("Q_WORKERS", default=1),
    "timeout": _q_task_timeout,
    # retry must exceed timeout, or a long retrain would be handed to a second worker.
    "retry": _q_task_timeout + 600,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 250,
    "label": "Task queue",
    **({"redis": _q_redis_url} if _q_redis_url else {"orm": "default"}),
    "cache": "django_q",
}

# --- Serving: `manage.py serve` (gunicorn with DEBUG off; README, Running in production) ---
HOST = env.str("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)
# gunicorn workers x threads: one process per core of a 2-core machine, threads to overlap database waits.
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=2)
WEB_THREADS = env.int("WEB_THREADS", default=4)
# gunicorn's access log on stdout (one line per request, with its request id). Off where a proxy in front logs each
# request already: the line is formatted and written by the worker on every request.
WEB_ACCESS_LOG = env.bool("WEB_ACCESS_LOG", default=True)

# --- Health and metrics ---
# /readyz: seconds to wait for the database (libpq's minimum is 2); how recently a cluster must have reported.
READYZ_DB_TIMEOUT = env.int("READYZ_DB_TIMEOUT", default=2)
READYZ_QCLUSTER_MAX_AGE = env.float("READYZ_QCLUSTER_MAX_AGE", default=30.0)
# /metrics: allowed from these addresses or networks, or with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_ALLOWED_IPS = _ip_networks("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN must be at least 32 characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )

# --- Logging: JSON lines in production, text in development; request and run ids from movierec_site.logging. ---
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f'LOG_FORMAT must be "json" or "text", not {LOG_FORMAT!r}')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "movierec_site.logging.ContextFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s%(context)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "timestamp": "time",  # ISO 8601, UTC
            "rename_fields": {"levelname": "level", "name": "logger"},
            # Django passes the request (and runserver its socket) as extras: the request id says more.
            "reserved_attrs": [*_JSON_LOG_RESERVED_ATTRS, "context", "request", "server_time"],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers are replaced by ours, so its lines get the same format and ids.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "INFO"},
        # Spark's Python side; the JVM's own log level is set by spark_engine.session.
        "py4j": {"level": "WARNING"},
        "pyspark": {"level": "WARNING"},
    },
}
