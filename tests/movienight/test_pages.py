"""The movie-night pages: who may open and do what, and what the group page shows."""

import pytest
from django.urls import reverse

from movienight.models import Group, Membership
from ratings.services import rating_upsert

from .conftest import make_group

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(alice, bob, outsider):
    group = make_group(alice, bob)
    return {"owner": alice, "member": bob, "outsider": outsider, "group": group}


# (method, url name, url args from the world) -> expected status per actor; anonymous visitors always go to log in.
def _group(w):
    return [w["group"].pk]


def _token(w):
    return [w["group"].invite_token]


PAGES = {
    "my groups": ("get", "movienight_groups", lambda w: [], {"owner": 200, "member": 200, "outsider": 200}),
    "group page": ("get", "movienight_group", _group, {"owner": 200, "member": 200, "outsider": 404}),
    "leave": ("post", "movienight_leave", _group, {"owner": 302, "member": 302, "outsider": 404}),
    "delete (confirm)": (
        "get", "movienight_delete", _group, {"owner": 200, "member": 403, "outsider": 404},
    ),
    "delete": ("post", "movienight_delete", _group, {"owner": 302, "member": 403, "outsider": 404}),
    "new invite link": (
        "post", "movienight_invite", _group, {"owner": 302, "member": 403, "outsider": 404},
    ),
    "invite link": (
        "get", "movienight_join", _token, {"owner": 302, "member": 302, "outsider": 200},
    ),
    "join": (
        "post", "movienight_join", _token, {"owner": 302, "member": 302, "outsider": 302},
    ),
}  # fmt: skip

MATRIX = [(case, actor, status) for case, spec in PAGES.items() for actor, status in [*spec[3].items(), ("anon", 302)]]


@pytest.mark.parametrize("case, actor, expected", MATRIX, ids=[f"{c}-{a}" for c, a, _ in MATRIX])
def test_page_access(world, client, case, actor, expected):
    method, name, args, _ = PAGES[case]
    if actor != "anon":
        client.force_login(world[actor])
    url = reverse(name, args=args(world))
    response = getattr(client, method)(url)
    assert response.status_code == expected
    if actor == "anon":
        assert response["Location"] == f"{reverse('login')}?next={url}"
    group_exists = Group.objects.filter(pk=world["group"].pk).exists()
    assert group_exists == (not (case == "delete" and actor == "owner"))


def test_no_page_takes_the_wrong_method(world, client):
    client.force_login(world["owner"])
    group = world["group"]
    assert client.get(reverse("movienight_leave", args=[group.pk])).status_code == 405
    assert client.get(reverse("movienight_invite", args=[group.pk])).status_code == 405
    assert client.post(reverse("movienight_group", args=[group.pk])).status_code == 405
    assert client.get(reverse("movienight_group", args=[2**63])).status_code == 404
    assert client.get(reverse("movienight_join", args=["not-a-token"])).status_code == 404


def test_create_a_group_then_see_its_page_with_the_invite_link(client, alice):
    client.force_login(alice)
    response = client.post(reverse("movienight_groups"), {"name": "Friday films"})
    group = Group.objects.get()
    assert response["Location"] == reverse("movienight_group", args=[group.pk])
    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == 200 and "Friday films" in html
    assert f"http://testserver/groups/join/{group.invite_token}/" in html
    assert "Alice Liddell (alice) · you · owner" in html
    assert "New invite link" in html and "Delete group" in html
    listing = client.get(reverse("movienight_groups")).content.decode()
    assert "Friday films" in listing and "1 member · you own it" in listing


def test_a_blank_name_is_refused_on_the_page(client, alice):
    client.force_login(alice)
    response = client.post(reverse("movienight_groups"), {"name": "   "})
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not Group.objects.exists()


def test_the_invite_link_leads_through_log_in_to_joining(client, alice, bob):
    group = make_group(alice)
    link = reverse("movienight_join", args=[group.invite_token])
    to_login = client.get(link)
    assert to_login["Location"] == f"{reverse('login')}?next={link}"
    logged_in = client.post(
        to_login["Location"], {"username": "bob", "password": "correct horse battery staple"}, follow=True
    )
    assert logged_in.redirect_chain[-1][0] == link
    assert "Join “Film club”" in logged_in.content.decode()
    joined = client.post(link, follow=True)
    assert joined.redirect_chain[-1][0] == reverse("movienight_group", args=[group.pk])
    assert "You joined “Film club”." in joined.content.decode()
    assert Membership.objects.filter(group=group, user=bob).exists()


def test_members_see_predictions_per_member_never_ratings(client, catalogue, stars_run, alice, bob):
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    rating_upsert(user=bob, movie=catalogue["dramas"][0], value=4.5)
    group = make_group(alice, bob)
    client.force_login(bob)
    response = client.get(reverse("movienight_group", args=[group.pk]), {"aggregation": "least_misery"})
    html = response.content.decode()
    result = response.context["result"]
    assert result.personal and result.aggregation == "least_misery"
    assert "Least happy of you" in html and "Alice Liddell: ★" in html and "bob (you): ★" in html
    titles = [item.movie.title for item in result.items]
    assert catalogue["comedies"][0].title not in titles and catalogue["dramas"][0].title not in titles


def test_the_page_says_when_the_list_is_popular_movies(client, catalogue, alice):
    group = make_group(alice)
    client.force_login(alice)
    html = client.get(reverse("movienight_group", args=[group.pk])).content.decode()
    assert "These are popular movies, not picks for your group." in html
    assert "Popular · average ★ 3.5" in html


def test_the_page_filters_by_genre_and_minimum_ratings(client, catalogue, stars_run, alice):
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    group = make_group(alice)
    client.force_login(alice)
    url = reverse("movienight_group", args=[group.pk])
    items = client.get(url, {"genre": "Family"}).context["result"].items
    assert {i.movie for i in items} == set(catalogue["middles"])
    items = client.get(url, {"min_ratings": "95"}).context["result"].items
    assert {i.movie for i in items} == set(catalogue["comedies"][1:6])
    assert client.get(url, {"min_ratings": "-1", "aggregation": "median"}).status_code == 200  # ignored, as elsewhere


def test_the_group_page_query_count_is_pinned(client, catalogue, stars_run, alice, bob, django_assert_num_queries):
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    rating_upsert(user=bob, movie=catalogue["dramas"][0], value=4)
    group = make_group(alice, bob)
    client.force_login(alice)
    url = reverse("movienight_group", args=[group.pk])
    client.get(url)  # loads the factors, the mask and the movies; caches the list
    # session, user, the group with its members, the active run, its new movies (the genre choices are cached)
    with django_assert_num_queries(5):
        assert client.get(url).status_code == 200
    rating_upsert(user=bob, movie=catalogue["dramas"][1], value=4)
    with django_assert_num_queries(7):  # and, computing again, the members' ratings and hidden movies
        assert catalogue["dramas"][1] not in [i.movie for i in client.get(url).context["result"].items]


def test_rating_a_listed_movie_from_the_group_page_takes_it_off_the_list(client, catalogue, stars_run, alice, bob):
    rating_upsert(user=alice, movie=catalogue["comedies"][0], value=5)
    group = make_group(alice, bob)
    client.force_login(bob)
    url = reverse("movienight_group", args=[group.pk])
    page = client.get(url)
    top = page.context["result"].items[0].movie
    assert f'action="{reverse("rate", args=[top.pk])}"' in page.content.decode()
    back = client.post(reverse("rate", args=[top.pk]), {"value": "3.5", "next": url}, follow=True)
    assert back.redirect_chain[-1][0] == url
    assert top not in [item.movie for item in back.context["result"].items]
