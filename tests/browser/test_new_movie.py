"""Issue 14's "done when": a movie added in the admin is recommended at once, labelled new, to people it suits and in
similar movies; ratings move it (item fold-in); the next retrain trains it. A real retrain (local Spark, with its
content map) before and after, the site in Chromium."""

from decimal import Decimal

import numpy as np
import pytest

from catalog.models import Genre, Movie
from ratings.models import Rating
from ratings.services import movie_stats_refresh, rating_upsert
from recommendations.models import ContentMap, ItemFactor, TrainingRun
from spark_engine.pipeline import retrain
from tests.factories import UserFactory
from tests.spark_engine.test_pipeline import _options

pytestmark = [pytest.mark.browser, pytest.mark.spark, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
NEW_TITLE = "Laughing Matter (2026)"


def _taste_world(seed=3):
    """16 comedies and 16 dramas; 20 comedy fans and 20 drama fans who rate most of them by their taste. cleo, a
    comedy fan who can log in, rated only a few."""
    rng = np.random.default_rng(seed)
    comedy, drama = Genre.objects.create(name="Comedy"), Genre.objects.create(name="Drama")
    movies = {"comedy": [], "drama": []}
    for kind, genre, first in (("comedy", comedy, 100), ("drama", drama, 200)):
        for j in range(16):
            movie = Movie.objects.create(id=first + j, title=f"{kind.title()} {j} (19{70 + j})", year=1970 + j)
            movie.genres.add(genre)
            movies[kind].append(movie)
    people = {"comedy": [], "drama": []}
    ratings = []
    for kind, other in (("comedy", "drama"), ("drama", "comedy")):
        for i in range(20):
            person = UserFactory(username=f"{kind}-fan-{i}", password=PASSWORD)
            people[kind].append(person)
            share = 0.25 if person.username == "comedy-fan-0" else 0.85
            for movie in movies[kind] + movies[other]:
                if rng.random() < share:
                    liked = movie in movies[kind]
                    value = rng.choice([4.0, 4.5, 5.0]) if liked else rng.choice([1.0, 1.5, 2.0])
                    ratings.append(
                        Rating(user=person, movie=movie, value=Decimal(str(value)), rated_at="2024-01-01T00:00Z")
                    )
    Rating.objects.bulk_create(ratings)
    movie_stats_refresh()
    return movies, people


def _log_in(page, username: str, next_url: str) -> None:
    page.goto(f"/accounts/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _place(page, title: str) -> int | None:
    """The card's place (1 = first) of `title` on the recommendations page, None if it is not there."""
    titles = page.locator("ol.recommendations .movie-title").all_inner_texts()
    return titles.index(title) + 1 if title in titles else None


def _new_label_of(page, title: str):
    return page.locator("ol.recommendations li.card", has_text=title).locator("[data-new]")


def _retrain() -> TrainingRun:
    run = retrain(options=_options(evaluate=False, top_n=40), on_stage=lambda stage, detail: None)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    return run


def test_a_movie_added_in_the_admin_is_recommended_new_moves_with_ratings_and_is_trained_next(
    browser, live_server, spark
):
    from playwright.sync_api import expect

    movies, people = _taste_world()
    first = _retrain()
    assert ContentMap.objects.filter(run=first).exists(), first.warnings  # the retrain learned its content map
    UserFactory(username="admin", password=PASSWORD, is_staff=True, is_superuser=True)
    # cleo is unchanged since the run: the page serves her stored top-N, with new movies merged in.
    cleo = "comedy-fan-0"

    admin = browser.new_context(base_url=live_server.url, java_script_enabled=False).new_page()
    viewer = browser.new_context(base_url=live_server.url, java_script_enabled=False).new_page()
    try:
        # The admin adds a comedy.
        admin.goto("/admin/catalog/movie/add/")
        admin.fill("#id_username", "admin")
        admin.fill("#id_password", PASSWORD)
        admin.locator("input[type=submit]").click()
        admin.fill("#id_title", NEW_TITLE)
        admin.fill("#id_year", "2026")
        admin.select_option("#id_genres", label="Comedy")
        admin.locator("input[name=_save]").click()
        expect(admin.locator(".messagelist")).to_contain_text("was added successfully")
        new = Movie.objects.get(title=NEW_TITLE)

        # Without a retrain, a comedy fan is offered it, labelled new, with predicted stars.
        _log_in(viewer, cleo, "/recommendations/")
        before = _place(viewer, NEW_TITLE)
        assert before is not None, viewer.locator("ol.recommendations").inner_text()
        expect(_new_label_of(viewer, NEW_TITLE)).to_have_text("New")
        card = viewer.locator("ol.recommendations li.card", has_text=NEW_TITLE)
        expect(card.locator(".predicted")).to_contain_text("We think you'd give it")

        # Its page lists similar (trained) comedies; a comedy's page lists it, labelled new.
        viewer.goto(f"/movies/{new.pk}/")
        expect(viewer.get_by_role("heading", level=1)).to_contain_text("New")
        similar = viewer.locator("ul.similar").inner_text()
        assert "Comedy" in similar and "Drama" not in similar.split("\n")[0]
        viewer.goto(f"/movies/{movies['comedy'][0].pk}/")
        expect(viewer.locator("ul.similar li", has_text=NEW_TITLE).locator(".new-label")).to_have_text("New")

        # Other comedy fans dislike it: its factors move away from their taste, and down cleo's list.
        for fan in people["comedy"][1:6]:
            rating_upsert(user=fan, movie=new, value=1)
        viewer.goto("/recommendations/")
        after = _place(viewer, NEW_TITLE)
        assert after is None or after > before, (before, after)

        # The next retrain trains it: it has factors of its own and is no longer new.
        second = _retrain()
        assert ItemFactor.objects.filter(run=second, movie=new).exists()
        viewer.goto(f"/movies/{new.pk}/")
        expect(viewer.get_by_role("heading", level=1)).to_have_text(NEW_TITLE)
        viewer.goto("/recommendations/")
        expect(viewer.locator("ol.recommendations [data-new]")).to_have_count(0)
    finally:
        admin.context.close()
        viewer.context.close()
