from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Per-process caches (Django's cache, the movie cache) must not carry one test's data into another."""
    from django.core.cache import cache

    from catalog.selectors import movie_cache_clear

    cache.clear()
    movie_cache_clear()
    yield
    cache.clear()
    movie_cache_clear()
