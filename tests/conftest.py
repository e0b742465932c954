import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
# fake_tmdb (a local stand-in for TMDB's API) and tmdb_on (settings pointing at it); redis_server (a Redis of its own).
pytest_plugins = ["tests.fake_tmdb", "tests.redis_server"]


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session", autouse=True)
def _database_as_promised():
    """`.ci/run` runs the suite as the README promises it, with DATABASE_URL unset: then it must be on the embedded
    server. MOVIEREC_TEST_EXPECT_EMBEDDED_DB=1 turns a silent fallback to another server into a failure."""
    if os.environ.get("MOVIEREC_TEST_EXPECT_EMBEDDED_DB") != "1":
        return
    from django.conf import settings

    assert not os.environ.get("DATABASE_URL"), "MOVIEREC_TEST_EXPECT_EMBEDDED_DB=1 but DATABASE_URL is set"
    socket_dir = settings.DATABASES["default"].get("OPTIONS", {}).get("host", "")
    assert socket_dir.startswith("/") and Path(socket_dir).is_dir(), (
        f"the suite should run on the embedded PostgreSQL's Unix socket, not {settings.DATABASES['default']!r}"
    )


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local Spark session for the whole test run (starting one costs several seconds), shared by every test that
    needs it (tests/spark_engine, the browser test of a retrain). Only this fixture stops it: pytest-django runs
    transactional tests after the others, so a module that stopped the shared session would pull it from under
    tests still to come. Imported here, not at the top: a test run without Spark tests never loads pyspark."""
    from spark_engine.session import SparkConfig, get_spark, stop_spark

    session = get_spark(
        SparkConfig(
            master="local[2]",
            app_name="movierec-tests",
            driver_memory="2g",
            shuffle_partitions=2,
            checkpoint_dir=str(tmp_path_factory.mktemp("spark-checkpoints")),
        )
    )
    yield session
    stop_spark()


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Per-process caches (Django's, the movie cache, the fold-in's) must not carry one test's data into another."""
    from django.core.cache import cache

    from catalog.selectors import movie_cache_clear
    from recommendations.foldin import foldin_cache_clear

    cache.clear()
    movie_cache_clear()
    foldin_cache_clear()  # the runs' factors and masks; the live server of browser tests shares this process
    yield
    cache.clear()
    movie_cache_clear()
    foldin_cache_clear()


# --- Headless Chromium (tests/browser, and the CSP checks in tests/ops) ---

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = "Chromium not found at /usr/bin/chromium; install Debian's chromium package to run browser tests"
PLAYWRIGHT_MISSING = "playwright not installed; `pip install -r requirements-dev.txt` to run browser tests"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module.

    Module scope, not session: Playwright's sync API keeps an event loop on the main thread
    while it is running, which makes Django refuse ORM calls there (SynchronousOnlyOperation).
    The browser tests allow that for as long as the browser lives, and no longer, so the rest
    of the suite keeps Django's guard.
    """
    if not CHROMIUM.exists():
        pytest.skip(CHROMIUM_MISSING)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(PLAYWRIGHT_MISSING)

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
