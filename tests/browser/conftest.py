"""Browser tests: the real site in Debian's headless Chromium, driven by Playwright.

Playwright's own browser downloads are never used: Chromium comes from the distribution
(`apt-get install chromium`, which .ci/run does). Where it or playwright is missing, the tests
skip with a message saying so, and the rest of `make test` runs as usual.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "test-screenshots"
# Generous for a loaded 2-core machine, short enough that a broken page fails fast.
TIMEOUT_MS = 10_000


def _page(browser, live_server, *, javascript: bool):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=javascript)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    return context, page


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context (no cookies) with JavaScript, pointed at the live server."""
    context, page = _page(browser, live_server, javascript=True)
    yield page
    context.close()


@pytest.fixture
def page_without_js(browser, live_server):
    """Like `page`, with JavaScript turned off: every form is a plain POST."""
    context, page = _page(browser, live_server, javascript=False)
    yield page
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing browser test, save a full-page screenshot of each open page as evidence."""
    report = yield
    if report.when == "call" and report.failed:
        pages = [value for value in getattr(item, "funcargs", {}).values() if _is_page(value)]
        for index, page in enumerate(pages):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", item.name) + (f"-{index}" if index else "")
            path = SCREENSHOTS / f"{name}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
            except Exception as exc:  # the page may have crashed: keep the original failure
                report.sections.append(("screenshot", f"could not save {path}: {exc}"))
            else:
                report.sections.append(("screenshot", f"saved {path} ({page.url})"))
    return report


def _is_page(value) -> bool:
    try:
        from playwright.sync_api import Page
    except ImportError:
        return False
    return isinstance(value, Page)
