"""Switching the flavour of the recommendations list in a real browser: another list, each pick explained."""

from decimal import Decimal

import pytest
from django.utils import timezone

from ratings.models import Rating
from tests.factories import UserFactory, long_tail, make_active_run, two_taste_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery staple")
    page.get_by_role("button", name="Log in").click()


def _titles(page) -> list[str]:
    return page.locator("ol.recommendations .card .movie-title").all_inner_texts()


def test_switching_flavours_shows_other_lists_that_explain_themselves_and_is_remembered(page):
    from playwright.sync_api import expect

    cat = two_taste_catalogue()
    make_active_run(long_tail(cat["factors"]))  # a real catalogue's long tail: see tests/api
    user = UserFactory(username="fan")
    Rating.objects.create(user=user, movie=cat["comedies"][0], value=Decimal("5"), rated_at=timezone.now())
    Rating.objects.create(user=user, movie=cat["dramas"][0], value=Decimal("4"), rated_at=timezone.now())

    _log_in(page, "fan")
    page.goto("/recommendations/?min_ratings=0")
    expect(page.get_by_role("button", name="Top picks")).to_have_attribute("aria-pressed", "true")
    top = _titles(page)
    assert top[:5] == [m.title for m in cat["comedies"][1:6]]
    expect(page.locator("[data-reason]")).to_have_count(0)

    page.get_by_role("button", name="Something different").click()
    expect(page.get_by_role("heading", name="Recommended for you: something different")).to_be_visible()
    expect(page.get_by_role("button", name="Something different")).to_have_attribute("aria-pressed", "true")
    assert page.url.endswith("/recommendations/?min_ratings=0")  # the filters are kept
    different = _titles(page)
    assert different != top and different[1].startswith("Drama")
    first_card = page.locator("ol.recommendations .card").first
    expect(first_card.locator("[data-reason]")).to_have_text("Your closest match")
    expect(page.locator("ol.recommendations .card").nth(1).locator("[data-reason]")).to_have_text(
        "Unlike the rest of your list"
    )

    page.get_by_role("button", name="Hidden gems").click()
    expect(page.get_by_role("button", name="Hidden gems")).to_have_attribute("aria-pressed", "true")
    gems = _titles(page)
    assert gems and all(title.startswith("Drama") for title in gems)
    expect(page.locator("[data-reason]").first).to_contain_text("Loved by few")

    # Remembered: a later visit opens on the same list.
    page.goto("/recommendations/")
    expect(page.get_by_role("button", name="Hidden gems")).to_have_attribute("aria-pressed", "true")
