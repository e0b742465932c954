"""Your data in a real browser: the about page's chart and the downloads under the strict CSP, then deleting
the account from the page."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from axes.models import AccessAttempt, AccessLog

from accounts.models import User
from tests.browser.conftest import SCREENSHOTS
from tests.factories import RatingFactory, UserFactory, make_active_run, two_taste_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"


def _log_in(page, username):
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_about_download_and_delete(page, live_server):
    from playwright.sync_api import expect

    violations = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    catalogue = two_taste_catalogue()
    make_active_run(catalogue["factors"])
    zoe = UserFactory(username="zoe", password=PASSWORD)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for day, movie in enumerate(catalogue["dramas"][:3] + catalogue["comedies"][:5]):
        value = Decimal("1.0") if movie in catalogue["dramas"] else Decimal("4.5")
        RatingFactory(user=zoe, movie=movie, value=value, rated_at=start + timedelta(days=day))

    _log_in(page, "zoe")
    page.get_by_role("link", name="Your data").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your data")
    page.get_by_role("link", name="what your ratings say about you").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("About your ratings")
    expect(page.locator("svg.chart rect.chart-bar")).to_have_count(2)
    expect(page.get_by_role("heading", name="How your last ratings changed your list")).to_be_visible()
    page.screenshot(path=str(SCREENSHOTS / "about-your-ratings.png"), full_page=True)

    page.goto("/accounts/data/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Your ratings", exact=True).click()
    assert download.value.suggested_filename.endswith("-ratings.csv")
    with open(download.value.path(), encoding="utf-8") as handle:
        assert handle.readline() == "movie_id,imdb_id,tmdb_id,title,year,rating,rated_at\n"

    page.get_by_role("link", name="Delete my account…").click()
    page.fill("#id_password", "wrong")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".field-error")).to_have_text("That is not your password.")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator(".messages")).to_contain_text("Your account and everything in it are deleted.")
    expect(page.get_by_role("banner").get_by_role("link", name="Log in")).to_be_visible()
    assert not User.objects.filter(username="zoe").exists()
    # Signing out after the deletion records nothing new about the account.
    assert not AccessLog.objects.filter(username="zoe").exists()
    assert not AccessAttempt.objects.filter(username="zoe").exists()
    page.wait_for_load_state("networkidle")
    assert violations == []
