"""The onboarding page (/welcome/): the configured strategy picks the movies; "Show me others" pages on."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse

from ratings.models import Rating
from recommendations.selectors import onboarding_stats_clear
from tests.factories import GenreFactory, MovieFactory, RatingFactory, UserFactory, make_active_run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_onboarding_stats():
    onboarding_stats_clear()
    yield
    onboarding_stats_clear()


@pytest.fixture
def catalogue():
    comedy = GenreFactory(name="Comedy")
    movies = [MovieFactory(title=f"Movie {i}", year=1995, rating_count=1000 - i) for i in range(35)]
    for movie in movies:
        movie.genres.add(comedy)
    return movies


def test_the_page_uses_the_configured_strategy(client, settings, catalogue):
    client.force_login(UserFactory())
    settings.ONBOARDING_STRATEGY = "popular"
    assert client.get(reverse("welcome")).context["movies"] == catalogue[:10]

    # popular_entropy: the least popular of the pool has the only divisive ratings, so it comes first.
    raters = [UserFactory() for _ in range(4)]
    for rater, value in zip(raters, ["1", "5", "1", "5"], strict=True):
        RatingFactory(user=rater, movie=catalogue[-1], value=value)
    for rater in raters[:2]:
        RatingFactory(user=rater, movie=catalogue[0], value="4")
    settings.ONBOARDING_STRATEGY = "popular_entropy"
    assert client.get(reverse("welcome")).context["movies"][0] == catalogue[-1]


def test_the_informative_strategy_asks_about_what_the_model_does_not_know_yet(client, settings):
    settings.ONBOARDING_STRATEGY = "informative"
    comedies = [MovieFactory(title=f"Comedy {i}", rating_count=100 - i) for i in range(3)]
    drama = MovieFactory(title="Drama", rating_count=50)
    make_active_run({**{m: [1.0, 0.0] for m in comedies}, drama: [0.0, 1.0]}, stars={})
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("welcome")).context["movies"][:2] == [comedies[0], drama]
    RatingFactory(user=user, movie=comedies[0], value="4")
    # One comedy rated: the drama is worth more than the other comedies.
    assert client.get(reverse("welcome")).context["movies"][0] == drama


def test_an_unknown_strategy_fails_loudly(client, settings, catalogue):
    settings.ONBOARDING_STRATEGY = "random"
    client.force_login(UserFactory())
    with pytest.raises(ImproperlyConfigured, match="ONBOARDING_STRATEGY"):
        client.get(reverse("welcome"))


def test_show_me_others_saves_ratings_and_leaves_out_every_movie_shown(client, settings, catalogue):
    settings.ONBOARDING_STRATEGY = "popular"
    user = UserFactory()
    client.force_login(user)
    first = client.get(reverse("welcome"))
    assert b"show me others" in first.content
    first_page = first.context["movies"]
    response = client.post(
        reverse("welcome"),
        {"shown": first.context["shown"], "action": "others", f"rating-{first_page[0].pk}": "4"},
    )
    assert response.status_code == 302 and urlparse(response.url).path == reverse("welcome")
    assert Rating.objects.filter(user=user).count() == 1

    second = client.get(response.url)
    second_page = second.context["movies"]
    assert second_page == catalogue[10:20]
    shown = parse_qs(urlparse(response.url).query)["shown"][0]
    third_page = client.get(reverse("welcome"), {"shown": second.context["shown"]}).context["movies"]
    assert third_page == catalogue[20:30]
    assert set(map(int, shown.split(","))) == {m.pk for m in first_page}

    # The shown ids travel in the page itself: no JavaScript needed.
    assert f'name="shown" value="{second.context["shown"]}"'.encode() in second.content
    last = client.get(reverse("welcome"), {"shown": ",".join(str(m.pk) for m in catalogue)})
    assert last.context["movies"] == [] and b"No more movies to show" in last.content


def test_saving_from_a_later_page_shows_the_recommendations(client, settings, catalogue):
    settings.ONBOARDING_STRATEGY = "popular"
    user = UserFactory()
    client.force_login(user)
    response = client.post(reverse("welcome"), {"shown": "1,2,junk", f"rating-{catalogue[12].pk}": "3.5"})
    assert response.url == reverse("recommendations")
    assert Rating.objects.get(user=user).movie == catalogue[12]


def test_picking_a_taste_group_asks_about_its_best_known_films(client, settings, monkeypatch):
    from recommendations import selectors
    from recommendations.selectors import taste_groups, taste_groups_clear
    from tests.factories import two_taste_catalogue

    monkeypatch.setattr(selectors, "TASTE_GROUP_MIN_MOVIES", 5)
    taste_groups_clear()
    catalogue = two_taste_catalogue()
    make_active_run(catalogue["factors"], stars={})
    user = UserFactory()
    client.force_login(user)
    page = client.get(reverse("welcome"))
    groups = page.context["taste_groups"]
    assert len(groups) == 2
    drama_group = next(g for g in groups if g.genres == ("Drama",))
    assert drama_group.examples == tuple(m.title for m in catalogue["dramas"][:3])
    assert b"pick groups you like" in page.content

    response = client.post(
        reverse("welcome"), {"shown": page.context["shown"], "action": "groups", "group": str(drama_group.key)}
    )
    assert parse_qs(urlparse(response.url).query)["groups"] == [str(drama_group.key)]
    movies = client.get(response.url).context["movies"]
    shown_first = {m.pk for m in page.context["movies"]}
    assert movies and all(m in catalogue["dramas"] and m.pk not in shown_first for m in movies)
    assert not Rating.objects.filter(user=user).exists()  # choosing a group rates nothing
    taste_groups_clear()
    assert taste_groups() is not None


def test_a_cold_start_report_is_listed_on_the_staff_page_but_not_charted(client):
    from recommendations.models import EvaluationReport

    client.force_login(UserFactory(is_staff=True))
    EvaluationReport.objects.create(
        kind="cold_start",
        ratings_count=100,
        rmse=0.91,
        ndcg_at_10=0.2,
        popularity_ndcg_at_10=0.08,
        summary="cold start varied NDCG@10 0.2000 popularity NDCG@10 0.0800 RMSE 0.9100",
    )
    response = client.get(reverse("staff_runs"))
    body = response.content.decode()
    assert "evaluate --cold-start" in body and "cold start varied NDCG@10 0.2000" in body
    assert body.count("Nothing to chart yet: run manage.py evaluate.") == 2


def test_the_system_check_refuses_an_unknown_strategy(settings):
    from recommendations.apps import check_onboarding_strategy

    assert check_onboarding_strategy(None) == []
    settings.ONBOARDING_STRATEGY = "random"
    (error,) = check_onboarding_strategy(None)
    assert "ONBOARDING_STRATEGY" in error.msg and error.id == "recommendations.E001"
