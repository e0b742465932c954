"""Movie night in a real browser: two people, two browser contexts, one group formed through the invite link."""

import pytest

from ratings.models import Rating
from ratings.services import rating_upsert
from tests.factories import GenreFactory, MovieFactory, UserFactory, make_active_run, two_taste_catalogue

from .conftest import TIMEOUT_MS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def _expect():
    from playwright.sync_api import expect

    return expect


def _log_in(page, username: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _group_titles(page) -> list[str]:
    return page.locator("[data-group-movies] .movie-title").all_inner_texts()


def test_two_people_form_a_group_by_invite_link_and_a_rating_changes_both_lists(browser, live_server):
    expect = _expect()
    cat = two_taste_catalogue()
    family = GenreFactory(name="Family")
    for i in range(3):
        movie = MovieFactory(title=f"Crowd-pleaser {i} (200{i})", year=2000 + i, rating_count=50 - i, rating_mean=3.4)
        movie.genres.add(family)
        cat["factors"][movie] = [1.0 - 0.05 * i, 1.0 - 0.05 * i]
    make_active_run(cat["factors"], stars={m: (0.0, f) for m, f in cat["factors"].items()})
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    for movie, stars in [(cat["comedies"][0], 5), (cat["dramas"][0], 1)]:
        rating_upsert(user=alice, movie=movie, value=stars)
    for movie, stars in [(cat["dramas"][1], 5), (cat["comedies"][1], 1.5)]:
        rating_upsert(user=bob, movie=movie, value=stars)

    contexts = [browser.new_context(base_url=live_server.url) for _ in range(2)]
    try:
        for context in contexts:
            context.set_default_timeout(TIMEOUT_MS)
        first, second = (context.new_page() for context in contexts)

        # Alice makes the group and copies its invite link.
        first.goto("/accounts/login/?next=/groups/")
        _log_in(first, "alice")
        expect(first.get_by_role("heading", level=1)).to_have_text("Movie night")
        first.get_by_label("Group name").fill("Friday films")
        first.get_by_role("button", name="Create group").click()
        expect(first.get_by_role("heading", level=1)).to_have_text("Friday films")
        link = first.locator("[data-invite-link]").input_value()
        assert link.startswith(f"{live_server.url}/groups/join/")

        # Bob opens it: log in first, then join.
        second.goto(link)
        expect(second.get_by_role("heading", level=1)).to_have_text("Log in")
        _log_in(second, "bob")
        expect(second.get_by_role("heading", level=1)).to_have_text("Join “Friday films”")
        second.get_by_role("button", name="Join the group").click()
        expect(second.get_by_role("heading", level=1)).to_have_text("Friday films")
        expect(second.locator(".messages")).to_contain_text("You joined “Friday films”.")
        expect(second.locator("[data-members] li")).to_have_count(2)

        # Both see the same list, with a prediction for each of them on every card.
        first.reload()
        expect(first.locator("[data-members] li")).to_have_count(2)
        before = _group_titles(first)
        assert before and _group_titles(second) == before
        card = second.locator("[data-group-movies] .card").first
        expect(card).to_contain_text("alice: ★")
        expect(card).to_contain_text("bob (you): ★")

        # Bob rates the top movie on its own page; it leaves both lists at once, and the list changes.
        top = before[0]
        second.get_by_role("link", name=top).click()
        expect(second.get_by_role("heading", level=1)).to_have_text(top)
        second.locator("[data-rating-form] label.star[title='2 stars']").click()
        expect(second.locator("[data-rating-status]")).to_have_text(f"You rated {top} 2 stars.")
        assert Rating.objects.filter(user=bob, movie__title=top).exists()

        second.go_back()
        second.reload()
        first.reload()
        after = _group_titles(first)
        assert after and top not in after and after != before
        assert _group_titles(second) == after
    finally:
        for context in contexts:
            context.close()
