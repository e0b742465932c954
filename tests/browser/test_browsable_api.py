"""The browsable API as a person uses it, in a real browser: log in on the site, start from /api/v1/, follow links,
rate a movie through the API's own form, change and delete the rating, log out; no console error, no CSP violation."""

import json
import re
from decimal import Decimal

import pytest

from ratings.models import Rating
from tests.factories import MovieFactory, UserFactory, make_active_run, two_taste_catalogue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"


def _expect():
    from playwright.sync_api import expect

    return expect


def _problems(page) -> list[str]:
    """Console errors (CSP violations among them) and uncaught exceptions, as the page reports them."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    return problems


def _body_link(page, url: str):
    """A link in the response body: the browsable API turns the absolute URLs of a JSON body into links."""
    return page.locator(".response-info a", has_text=url).first


def _send(page, body: dict, button: str) -> None:
    """Fill the raw-data form with `body` and press its `button` (POST, PUT or PATCH)."""
    form = page.locator("form", has=page.get_by_role("button", name=button, exact=True))
    form.locator("textarea").fill(json.dumps(body))
    form.get_by_role("button", name=button, exact=True).click()


def test_a_person_browses_the_api_rates_a_movie_and_takes_the_rating_back(page, live_server):
    expect = _expect()
    problems = _problems(page)
    cat = two_taste_catalogue()
    comedies = cat["comedies"]
    make_active_run(cat["factors"], similar={comedies[0]: comedies[1:4]})
    # More popular movies than fit a page: the catalogue's comedies are on page 2.
    for i in range(20):
        MovieFactory(title=f"Blockbuster {i} (2010)", year=2010, rating_count=500 - i, rating_mean=4.183333333333334)
    UserFactory(username="ada", password=PASSWORD)
    movie = comedies[0]
    base = f"{live_server.url}/api/v1"

    # Log in on the site, straight back to the API root, which lists what a signed-in person may use.
    page.goto("/api/v1/")
    expect(page.get_by_role("heading", level=1)).to_have_text("MovieRec API")
    expect(page.locator(".api-signed-in")).to_have_text("Not signed in")
    expect(page).to_have_title("MovieRec API · MovieRec API")
    page.locator(".api-header").get_by_role("link", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(".api-signed-in")).to_have_text("Signed in as ada")
    expect(page.locator(".response-info")).to_contain_text('"path": "/api/v1/me/ratings/"')
    expect(page.locator(".response-info")).not_to_contain_text("/api/v1/training-runs/")  # staff only

    # Movies, page 2 by the pagination control, the movie, and its similar movies.
    _body_link(page, f"{base}/movies/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Movies")
    expect(page.locator(".response-info")).to_contain_text(re.compile(r'"rating_mean": 4\.18\s'))
    page.locator(".pagination").get_by_role("link", name="Next").click()
    expect(page).to_have_url(f"{base}/movies/?page=2")
    _body_link(page, f"{base}/movies/{movie.pk}/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Movie")
    expect(page.locator(".response-info")).to_contain_text(movie.title)
    expect(page.locator(".breadcrumb a")).to_have_text(["MovieRec API", "Movies", "Movie"])
    _body_link(page, f"{base}/movies/{movie.pk}/similar/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Similar movies")
    for similar in comedies[1:4]:
        expect(page.locator(".response-info")).to_contain_text(similar.title)
    expect(page.locator(".breadcrumb a")).to_have_text(["MovieRec API", "Movies", "Movie", "Similar movies"])

    # Rate it with the form of "my ratings", reached from the root.
    page.locator(".breadcrumb").get_by_role("link", name="MovieRec API").click()
    _body_link(page, f"{base}/me/ratings/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your ratings")
    _send(page, {"movie": movie.pk, "value": 4.5}, "POST")
    expect(page.locator(".response-info")).to_contain_text("HTTP 201 Created")
    assert Rating.objects.get(user__username="ada", movie=movie).value == Decimal("4.5")

    # A wrong value answers in the API's error shape, on the same page (and the browser notes the failed request).
    assert problems == []
    _send(page, {"movie": movie.pk, "value": 7}, "POST")
    expect(page.locator(".response-info")).to_contain_text("HTTP 400 Bad Request")
    expect(page.locator(".response-info")).to_contain_text('"code": "invalid"')
    expect(page.locator(".response-info")).to_contain_text("half steps")
    assert problems == [
        "console error: Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]
    problems.clear()

    # It is in my ratings; its link leads to the rating, where it changes (PUT) and goes (DELETE).
    page.locator(".breadcrumb").get_by_role("link", name="Your ratings").click()
    expect(page.locator(".response-info")).to_contain_text(movie.title)
    _body_link(page, f"{base}/me/ratings/{movie.pk}/").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your rating")
    expect(page.locator("textarea[name=_content]").last).to_have_value('{\n    "value": 4.5\n}')
    _send(page, {"value": 3}, "PUT")
    expect(page.locator(".response-info")).to_contain_text("HTTP 200 OK")
    expect(page.locator(".response-info")).to_contain_text('"value": 3.0')
    assert Rating.objects.get(user__username="ada", movie=movie).value == Decimal("3")
    page.get_by_role("button", name="DELETE").click()
    page.locator("#deleteModal").get_by_role("button", name="Delete").click()
    expect(page.locator(".response-info")).to_contain_text("HTTP 204 No Content")
    assert not Rating.objects.filter(user__username="ada").exists()

    # Log out: back at the root, signed out, with the public endpoints only.
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(f"{base}/")
    expect(page.locator(".api-signed-in")).to_have_text("Not signed in")
    expect(page.locator(".response-info")).not_to_contain_text("/api/v1/me/ratings/")

    page.wait_for_load_state("networkidle")
    assert problems == []
