"""A movie lover's first visit, in a real browser against the live site."""

from decimal import Decimal

import pytest

from ratings.models import Rating, WishlistEntry
from tests.factories import MovieFactory, UserFactory, make_active_run, two_taste_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AMELIE = "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"
# Pages show titles as people read them: the article in front.
AMELIE_SHOWN = "Amélie (Le Fabuleux destin d'Amélie Poulain) (2001)"


def _expect():
    from playwright.sync_api import expect

    return expect


def _rate(scope, stars: str) -> None:
    """Click the half-star whose label is e.g. "4.5 stars", as a person would (the radios are hidden)."""
    scope.locator(f"label.star[title='{stars}']").click()


def _recommended_titles(page) -> list[str]:
    return page.locator("ol.recommendations .movie-title").all_inner_texts()


def test_sign_up_onboard_rate_see_recommendations_change_search_wishlist_log_out(page, live_server):
    expect = _expect()
    cat = two_taste_catalogue()
    make_active_run(cat["factors"])
    MovieFactory(title=AMELIE, year=2001, rating_count=40, rating_mean=3.9)
    comedy, drama = cat["comedies"][0], cat["dramas"][0]
    disliked = cat["dramas"][1]

    # Sign up: straight to the onboarding page, signed in.
    page.goto("/accounts/signup/")
    page.fill("#id_username", "newbie")
    page.fill("#id_password1", "a long and unusual passphrase 42")
    page.fill("#id_password2", "a long and unusual passphrase 42")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(f"{live_server.url}/welcome/")
    expect(page.locator(".signed-in")).to_have_text("Signed in as newbie")

    # Onboarding: rate two movies on the one page, then save.
    _rate(page.locator(".card", has_text=comedy.title), "5 stars")
    _rate(page.locator(".card", has_text=disliked.title), "1.5 stars")
    page.get_by_role("button", name="Save and see my recommendations").click()
    expect(page).to_have_url(f"{live_server.url}/recommendations/")
    expect(page.locator(".messages")).to_contain_text("Here is what we suggest.")
    expect(page.get_by_role("heading", level=1)).to_have_text("Recommended for you")
    assert all(title.startswith("Comedy") for title in _recommended_titles(page)[:4])

    # A change of heart, rated inline on movie pages: fetch saves it, the page does not reload.
    for movie, stars, said in [(comedy, "0.5 stars", "0.5 stars"), (drama, "5 stars", "5 stars")]:
        page.goto(f"/movies/{movie.pk}/")
        page.evaluate("window.stillTheSamePage = true")
        _rate(page.locator("[data-rating-form]"), stars)
        expect(page.locator("[data-rating-status]")).to_have_text(f"You rated {movie.title} {said}.")
        expect(page.locator("[data-rating-value]")).to_have_text(f"{said.split()[0]} / 5")
        assert page.evaluate("window.stillTheSamePage") is True
    assert Rating.objects.get(user__username="newbie", movie=comedy).value == Decimal("0.5")

    # The very next recommendations page already reflects it, without a retrain.
    page.get_by_role("link", name="For you").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recommended for you")
    titles = _recommended_titles(page)
    assert all(title.startswith("Drama") for title in titles[:4]), titles
    assert drama.title not in titles and comedy.title not in titles

    # Title search ignores accents and case; the result leads to the movie page.
    page.get_by_label("Search movies by title").fill("amelie")
    page.get_by_label("Search movies by title").press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Movies matching “amelie”")
    page.get_by_role("link", name=AMELIE_SHOWN).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(AMELIE_SHOWN)

    # Wishlist: the button flips in place, and the movie is on the wishlist page.
    page.get_by_role("button", name="Add to wishlist").click()
    expect(page.get_by_role("button", name="Remove from wishlist")).to_be_visible()
    page.get_by_role("link", name="Wishlist").click()
    expect(page.locator(".card .movie-title")).to_have_text([AMELIE_SHOWN])
    assert WishlistEntry.objects.filter(user__username="newbie", movie__title=AMELIE).exists()

    # Log out: signed out everywhere, personal pages ask to log in again.
    page.get_by_role("button", name="Log out").click()
    expect(page.locator(".signed-in")).to_have_text("Not signed in")
    page.goto("/recommendations/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")


def test_rating_form_works_without_javascript(page_without_js, live_server):
    expect = _expect()
    page = page_without_js
    UserFactory(username="plain", password="correct horse battery staple")
    heat = MovieFactory(title="Heat (1995)", year=1995, rating_count=30, rating_mean=3.9)

    page.goto(f"/accounts/login/?next=/movies/{heat.pk}/")
    page.fill("#id_username", "plain")
    page.fill("#id_password", "correct horse battery staple")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Heat (1995)")

    # Without JavaScript a star only selects; "Save" posts the form and the page comes back.
    _rate(page.locator("[data-rating-form]"), "4.5 stars")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_have_text("You rated Heat (1995) 4.5 stars.")
    expect(page.locator("[data-rating-value]")).to_have_text("4.5 / 5")
    expect(page.locator(".star-input:checked")).to_have_value("4.5")
    assert Rating.objects.get(user__username="plain", movie=heat).value == Decimal("4.5")

    page.get_by_role("button", name="Remove").click()
    expect(page.locator(".messages")).to_have_text("Removed your rating of Heat (1995).")
    expect(page.locator("[data-rating-value]")).to_have_text("Not rated")
    assert not Rating.objects.exists()
