"""Flavours on the recommendations page: the choice is remembered per person, each list explains itself."""

from unittest import mock

import pytest
from django.urls import reverse

from ratings.services import rating_upsert
from recommendations import cold_items, flavours
from recommendations.models import ListPreference
from recommendations.selectors import recommendation_list_for_user_fresh, training_run_serving
from tests.factories import UserFactory, long_tail

from .conftest import make_active_run

pytestmark = pytest.mark.django_db
URL = reverse("recommendations")
CHOOSE = reverse("recommendations_flavour")


@pytest.fixture
def two_tastes(user, two_taste_catalogue):
    cat = two_taste_catalogue
    make_active_run(long_tail(cat["factors"]))  # a real catalogue's long tail: see tests/api
    rating_upsert(user=user, movie=cat["comedies"][0], value=5)
    rating_upsert(user=user, movie=cat["dramas"][0], value=4)
    return cat


def _titles(response) -> list[str]:
    return [item.movie.title for item in response.context["result"].items]


def test_the_page_offers_every_flavour_and_starts_with_top_picks(logged_in, two_tastes):
    response = logged_in.get(URL)
    assert response.context["flavour"] == "top_picks"
    content = response.content.decode()
    for label in ("Top picks", "Something different", "Hidden gems", "Your genre mix"):
        assert label in content
    assert 'aria-pressed="true" title="The movies that match your taste best"' in content
    assert "data-reason" not in content


def test_choosing_a_flavour_is_remembered_and_keeps_the_filters(logged_in, user, two_tastes):
    top = _titles(logged_in.get(URL))
    response = logged_in.post(CHOOSE, {"flavour": "different", "next": f"{URL}?min_ratings=0"})
    assert response.status_code == 302 and response.url == f"{URL}?min_ratings=0"
    assert ListPreference.objects.get(user=user).flavour == "different"
    page = logged_in.get(response.url)
    assert page.context["flavour"] == "different"
    assert _titles(page) != top
    assert _titles(page)[1].startswith("Drama")
    assert b"Unlike the rest of your list" in page.content
    assert b"Recommended for you: something different" in page.content


def test_the_choice_is_per_person_and_survives_a_new_session(client, user, two_tastes):
    other = UserFactory(username="bob")
    ListPreference.objects.create(user=user, flavour="hidden_gems")
    client.force_login(user)
    assert client.get(URL).context["flavour"] == "hidden_gems"
    client.logout()
    client.force_login(other)
    assert client.get(URL).context["flavour"] == "top_picks"


def test_hidden_gems_on_the_page_explain_themselves(logged_in, user, two_tastes):
    ListPreference.objects.create(user=user, flavour="hidden_gems")
    page = logged_in.get(URL)
    assert all(title.startswith("Drama") for title in _titles(page))
    assert b"Loved by few (" in page.content


def test_an_unknown_flavour_or_a_foreign_next_url_is_refused(logged_in, user, two_tastes):
    response = logged_in.post(CHOOSE, {"flavour": "surprise"})
    assert response.status_code == 302 and response.url == URL
    assert not ListPreference.objects.filter(user=user).exists()
    response = logged_in.post(CHOOSE, {"flavour": "genre_mix", "next": "https://evil.example/"})
    assert response.url == URL
    assert ListPreference.objects.get(user=user).flavour == "genre_mix"


def test_choosing_needs_a_login_and_a_post(client, logged_in):
    assert logged_in.get(CHOOSE).status_code == 405
    client.logout()
    response = client.post(CHOOSE, {"flavour": "different"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_the_fold_in_cache_keeps_flavours_apart(user, two_tastes):
    first = recommendation_list_for_user_fresh(user=user, limit=5, min_ratings=0)
    different = recommendation_list_for_user_fresh(user=user, limit=5, min_ratings=0, flavour="different")
    again = recommendation_list_for_user_fresh(user=user, limit=5, min_ratings=0)
    assert [i.movie.pk for i in first.items] == [i.movie.pk for i in again.items]
    assert [i.movie.pk for i in first.items] != [i.movie.pk for i in different.items]
    assert different.flavour == "different" and all(i.reason for i in different.items)


def test_an_unknown_flavour_is_refused_by_the_selector(user, two_tastes):
    with pytest.raises(ValueError, match="unknown flavour"):
        recommendation_list_for_user_fresh(user=user, flavour="surprise")


def test_hidden_gems_follow_the_movies_the_person_rated_at_or_above_their_mean(user, two_tastes):
    # The neighbourhood term needs the person's favourites: the comedy rated 5 (their mean is 4.5), not the drama.
    with mock.patch.object(flavours, "flavour_list", wraps=flavours.flavour_list) as spy:
        result = recommendation_list_for_user_fresh(user=user, limit=5, min_ratings=0, flavour="hidden_gems")
    assert result.items
    (call,) = spy.call_args_list
    factors = cold_items.serving_item_factors(training_run_serving())
    assert factors.movie_ids[call.kwargs["liked"]].tolist() == [two_tastes["comedies"][0].pk]
