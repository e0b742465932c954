import re
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from ratings.models import NotInterested, Rating, WishlistEntry
from tests.factories import MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db
FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_rating_needs_a_login_and_a_post(client, logged_in):
    movie = MovieFactory()
    url = reverse("rate", args=[movie.pk])
    assert logged_in.get(url).status_code == 405
    client.logout()
    response = client.post(url, {"value": "4"})
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert not Rating.objects.exists()


def test_plain_form_post_saves_and_redirects_back_with_a_message(logged_in, user):
    movie = MovieFactory(title="Heat (1995)")
    response = logged_in.post(reverse("rate", args=[movie.pk]), {"value": "4.5", "next": "/movies/?q=heat"})
    assert response.status_code == 302 and response.url == "/movies/?q=heat"
    assert Rating.objects.get(user=user, movie=movie).value == Decimal("4.5")
    assert _messages(response) == ["You rated Heat (1995) 4.5 stars."]


def test_redirect_never_leaves_the_site(logged_in):
    movie = MovieFactory()
    response = logged_in.post(reverse("rate", args=[movie.pk]), {"value": "3", "next": "https://evil.example/"})
    assert response.url == reverse("movie_detail", args=[movie.pk])


@pytest.mark.parametrize("value", ["0", "5.5", "4.25", "abc", "", "-1", "nan"])
def test_invalid_values_change_nothing_and_say_why(logged_in, user, value):
    rating = RatingFactory(user=user, value=Decimal("2.0"))
    response = logged_in.post(reverse("rate", args=[rating.movie.pk]), {"value": value})
    assert response.status_code == 302
    assert Rating.objects.get(pk=rating.pk).value == Decimal("2.0")
    (message,) = _messages(response)
    assert "0.5" in message and "5" in message


def test_fetch_gets_json_for_success_and_400_for_invalid_values(logged_in, user):
    movie = MovieFactory(title="Heat (1995)")
    url = reverse("rate", args=[movie.pk])
    ok = logged_in.post(url, {"value": "3.5"}, **FETCH)
    assert ok.status_code == 200
    assert ok.json() == {"ok": True, "message": "You rated Heat (1995) 3.5 stars.", "value": "3.5"}
    bad = logged_in.post(url, {"value": "7"}, **FETCH)
    assert bad.status_code == 400 and bad.json()["ok"] is False and "half" in bad.json()["message"]
    assert Rating.objects.get(user=user, movie=movie).value == Decimal("3.5")


def test_remove_a_rating(logged_in, user):
    rating = RatingFactory(user=user)
    response = logged_in.post(reverse("rate", args=[rating.movie.pk]), {"action": "remove", "value": "4"}, **FETCH)
    assert response.json()["ok"] is True
    assert not Rating.objects.filter(pk=rating.pk).exists()


def test_csrf_is_enforced_on_rating(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    movie = MovieFactory()
    assert client.post(reverse("rate", args=[movie.pk]), {"value": "4"}).status_code == 403
    assert not Rating.objects.exists()


def test_my_ratings_lists_only_mine_sorted_with_remove(logged_in, user):
    RatingFactory(user=user, movie=MovieFactory(title="B (2000)"), value=Decimal("5"))
    RatingFactory(user=user, movie=MovieFactory(title="A (2000)"), value=Decimal("1"))
    RatingFactory(user=UserFactory(), movie=MovieFactory(title="Not mine (2000)"))
    response = logged_in.get(reverse("my_ratings"), {"sort": "title"})
    assert [r.movie.title for r in response.context["ratings"]] == ["A (2000)", "B (2000)"]
    assert b"Not mine" not in response.content
    assert b'value="remove"' in response.content
    by_value = logged_in.get(reverse("my_ratings"), {"sort": "value"})
    assert [r.movie.title for r in by_value.context["ratings"]] == ["B (2000)", "A (2000)"]


# The rows of my ratings as the template wrote them before the rating_row tag.
MY_RATINGS_ROW = """{% load rating_controls %}<tr>
        <th scope="row"><a href="{% url 'movie_detail' rating.movie_id %}">{{ rating.movie.natural_title }}</a></th>
        <td>{% rating_control rating.movie rating.value %}</td>
        <td><time datetime="{{ rating.rated_at|date:'c' }}">{{ rating.rated_at|date:"j M Y" }}</time></td>
      </tr>"""


def test_my_ratings_rows_are_written_as_the_template_wrote_them(logged_in, user, settings):
    from datetime import UTC, datetime

    from django.template import engines
    from django.utils import translation

    settings.TIME_ZONE = "America/New_York"  # the dates as the viewer's zone has them: 1 Jan 2024 is 31 Dec there
    RatingFactory(user=user, movie=MovieFactory(title='<b>"Tom & Jerry"</b> (1992)'), value=Decimal("4.5"))
    matrix = MovieFactory(title="Matrix, The (1999)")
    RatingFactory(user=user, movie=matrix, rated_at=datetime(2024, 1, 1, 2, tzinfo=UTC))
    csrf = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')  # masked afresh each time it is read
    response = logged_in.get(reverse("my_ratings"))
    page = csrf.sub("", response.content.decode())
    row = engines["django"].from_string(MY_RATINGS_ROW)
    for rating in response.context["ratings"]:
        assert csrf.sub("", row.render({"rating": rating}, request=response.wsgi_request)) in page
    assert "31 Dec 2023" in page and "The Matrix (1999)" in page
    with translation.override("de"):
        german = csrf.sub("", logged_in.get(reverse("my_ratings"), HTTP_ACCEPT_LANGUAGE="de").content.decode())
        for rating in response.context["ratings"]:
            assert csrf.sub("", row.render({"rating": rating}, request=response.wsgi_request)) in german


def test_wishlist_add_list_remove_and_privacy(logged_in, user):
    movie = MovieFactory(title="Alien (1979)")
    WishlistEntry.objects.create(user=UserFactory(), movie=MovieFactory(title="Someone else's wish"))
    logged_in.post(reverse("wishlist_toggle", args=[movie.pk]), {"action": "add"})
    page = logged_in.get(reverse("wishlist"))
    assert b"Alien (1979)" in page.content and b"Someone else" not in page.content
    response = logged_in.post(reverse("wishlist_toggle", args=[movie.pk]), {"action": "remove"}, **FETCH)
    assert response.json() == {"ok": True, "message": "Took Alien (1979) off your wishlist.", "on_wishlist": False}
    assert not WishlistEntry.objects.filter(user=user).exists()


def test_not_interested_can_be_undone_from_the_hidden_page(logged_in, user):
    movie = MovieFactory(title="Cats (2019)")
    logged_in.post(reverse("not_interested", args=[movie.pk]), {"action": "add"})
    assert b"Cats (2019)" in logged_in.get(reverse("hidden_movies")).content
    logged_in.post(reverse("not_interested", args=[movie.pk]), {"action": "remove"})
    assert not NotInterested.objects.exists()


@pytest.mark.parametrize("name", ["my_ratings", "wishlist", "hidden_movies", "welcome"])
def test_personal_pages_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
