"""The recommendation cards tell the truth about the person's own lists, in a real browser."""

from decimal import Decimal

import pytest
from django.utils import timezone

from ratings.models import Rating, WishlistEntry
from tests.factories import UserFactory, make_active_run, two_taste_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery staple")
    page.get_by_role("button", name="Log in").click()


def test_a_recommended_movie_already_on_the_wishlist_offers_removal_not_adding(page):
    from playwright.sync_api import expect

    cat = two_taste_catalogue()
    make_active_run(cat["factors"])
    user = UserFactory(username="fan")
    Rating.objects.create(user=user, movie=cat["comedies"][0], value=Decimal("5"), rated_at=timezone.now())
    wished = cat["comedies"][1]
    WishlistEntry.objects.create(user=user, movie=wished)

    _log_in(page, "fan")
    page.goto("/recommendations/")
    wished_card = page.locator("ol.recommendations .card", has_text=wished.title)
    expect(wished_card).to_have_count(1)
    expect(wished_card.get_by_role("button", name="Remove from wishlist")).to_be_visible()
    expect(wished_card.get_by_role("button", name="Add to wishlist")).to_have_count(0)
    other_card = page.locator("ol.recommendations .card", has_text=cat["comedies"][2].title)
    expect(other_card.get_by_role("button", name="Add to wishlist")).to_be_visible()

    # Removing it from the card flips the button in place, and the wishlist page agrees.
    wished_card.get_by_role("button", name="Remove from wishlist").click()
    expect(wished_card.get_by_role("button", name="Add to wishlist")).to_be_visible()
    page.goto("/wishlist/")
    expect(page.get_by_text(wished.title)).to_have_count(0)


def test_not_interested_on_the_movie_page_hides_it_from_the_list_and_can_be_undone(page):
    from playwright.sync_api import expect

    cat = two_taste_catalogue()
    make_active_run(cat["factors"])
    user = UserFactory(username="fan")
    Rating.objects.create(user=user, movie=cat["comedies"][0], value=Decimal("5"), rated_at=timezone.now())
    unwanted = cat["comedies"][1]

    _log_in(page, "fan")
    page.goto("/recommendations/")
    expect(page.locator("ol.recommendations .card", has_text=unwanted.title)).to_have_count(1)

    page.goto(f"/movies/{unwanted.pk}/")
    page.get_by_role("button", name="Not interested").click()
    expect(page.get_by_text("Hidden from your recommendations.")).to_be_visible()
    page.goto("/recommendations/")
    expect(page.locator("ol.recommendations .card", has_text=unwanted.title)).to_have_count(0)

    # Undo, from the same place.
    page.goto(f"/movies/{unwanted.pk}/")
    page.get_by_role("button", name="Show it again").click()
    expect(page.get_by_role("button", name="Not interested")).to_be_visible()
    page.goto("/recommendations/")
    expect(page.locator("ol.recommendations .card", has_text=unwanted.title)).to_have_count(1)
