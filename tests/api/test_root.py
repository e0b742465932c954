"""The API root at /api/v1/, the links between resources, and the browsable API's pages for people."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from movierec_site import api_urls
from ratings.models import Rating
from tests.factories import MovieFactory, RatingFactory

pytestmark = pytest.mark.django_db
ROOT = "/api/v1/"
PUBLIC_PATHS = {"/api/v1/auth/token/", "/api/v1/genres/", "/api/v1/movies/", "/api/v1/movies/{movie_id}/"}
STAFF_PATHS = {
    "/api/v1/users/{user_id}/recommendations/",
    "/api/v1/training-runs/",
    "/api/v1/training-runs/{run_id}/",
}


def _paths(body) -> set[str]:
    return {endpoint["path"] for endpoint in body["endpoints"]}


def _html(client, path: str, **params):
    response = client.get(path, params, HTTP_ACCEPT="text/html")
    assert response["Content-Type"].startswith("text/html")
    return response, response.content.decode()


def test_every_route_says_who_may_use_it():
    named = {pattern.name for pattern in api_urls.urlpatterns} - {"root", "not_found"}
    assert named == set(api_urls.ENDPOINT_ACCESS)


def test_anonymous_visitors_see_the_public_endpoints_and_how_to_authenticate(anon):
    response = anon.get(ROOT)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "MovieRec API" and body["user"] is None
    assert PUBLIC_PATHS <= _paths(body)
    assert {endpoint["access"] for endpoint in body["endpoints"]} == {"public"}
    assert "Authorization: Token" in body["authentication"]
    assert body["links"]["login"] == "http://testserver/accounts/login/?next=/api/v1/"
    assert body["links"]["token"] == "http://testserver/api/v1/auth/token/"
    movies = next(endpoint for endpoint in body["endpoints"] if endpoint["path"] == "/api/v1/movies/")
    assert movies["url"] == "http://testserver/api/v1/movies/" and movies["methods"] == ["GET"]
    assert movies["name"] == "Movies" and movies["description"].startswith("The catalogue: browse and search")
    movie = next(endpoint for endpoint in body["endpoints"] if endpoint["path"] == "/api/v1/movies/{movie_id}/")
    assert movie["url"] is None  # needs an id: reached from the list


def test_signed_in_people_see_their_endpoints_and_staff_theirs_too(alice_client, staff_client):
    mine = alice_client.get(ROOT).json()
    assert mine["user"]["username"] == "alice" and mine["authentication"] == "Signed in as alice."
    assert {"/api/v1/me/ratings/", "/api/v1/me/ratings/{movie_id}/", "/api/v1/me/recommendations/"} <= _paths(mine)
    assert not _paths(mine) & STAFF_PATHS
    ratings = next(endpoint for endpoint in mine["endpoints"] if endpoint["path"] == "/api/v1/me/ratings/")
    assert ratings["methods"] == ["GET", "POST"] and ratings["access"] == "signed_in"
    detail = next(endpoint for endpoint in mine["endpoints"] if endpoint["path"] == "/api/v1/me/ratings/{movie_id}/")
    assert detail["methods"] == ["GET", "PUT", "PATCH", "DELETE"]
    every = staff_client.get(ROOT).json()
    assert _paths(every) == _paths(mine) | STAFF_PATHS
    assert len(every["endpoints"]) == len(api_urls.ENDPOINT_ACCESS)
    assert all(endpoint["description"] and "\n" not in endpoint["description"] for endpoint in every["endpoints"])


def test_only_the_root_itself_answers_at_the_root_every_other_unknown_path_is_a_json_404(anon):
    for path in ("/api/v1/nothing/", "/api/v1/me/predictions/", "/api/v1/movies/1", "/api/v1/users/"):
        response = anon.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert anon.get("/api/v1").status_code == 301  # APPEND_SLASH, to the root


def test_movies_link_to_themselves_their_similar_movies_the_prediction_and_your_rating(anon, alice_client):
    movie = MovieFactory(title="Heat (1995)", rating_count=3, rating_mean=4.183333333333334)
    listed = anon.get(reverse("api:movie_list")).json()["results"][0]
    assert listed["url"] == f"http://testserver/api/v1/movies/{movie.pk}/"
    assert listed["rating_mean"] == 4.18
    body = anon.get(listed["url"]).json()
    assert body["rating_mean"] == 4.18
    assert body["similar_url"] == f"http://testserver/api/v1/movies/{movie.pk}/similar/"
    assert body["prediction_url"] == f"http://testserver/api/v1/me/predictions/{movie.pk}/"
    assert body["rating_url"] == f"http://testserver/api/v1/me/ratings/{movie.pk}/"
    assert anon.get(body["similar_url"]).status_code == 200
    prediction = alice_client.get(body["prediction_url"]).json()
    assert prediction["movie"]["url"] == listed["url"]


def test_ratings_link_to_themselves_and_their_movie(alice, alice_client):
    movie = MovieFactory(title="Heat (1995)")
    created = alice_client.post(reverse("api:my_rating_list"), {"movie": movie.pk, "value": 4.5}, format="json")
    assert created.status_code == 201
    rating = created.json()
    assert rating["url"] == f"http://testserver/api/v1/me/ratings/{movie.pk}/"
    assert rating["movie_url"] == f"http://testserver/api/v1/movies/{movie.pk}/"
    assert alice_client.get(reverse("api:my_rating_list")).json()["results"] == [rating]
    assert alice_client.delete(rating["url"]).status_code == 204
    assert not Rating.objects.filter(user=alice).exists()


def test_recommendations_link_to_their_movies(alice, alice_client, catalogue, active_run):
    RatingFactory(user=alice, movie=catalogue["comedies"][0], value=5)
    item = alice_client.get(reverse("api:my_recommendations"), {"n": 1}).json()["results"][0]
    assert item["movie"]["url"] == f"http://testserver/api/v1/movies/{item['movie']['id']}/"
    assert alice_client.get(item["movie"]["url"]).json()["id"] == item["movie"]["id"]
    if item["because"] is not None:
        assert item["because"]["url"] == f"http://testserver/api/v1/movies/{item['because']['id']}/"


def test_you_can_see_whether_you_have_a_token_without_its_key(alice, alice_client, anon):
    url = reverse("api:token")
    body = alice_client.get(url).json()  # alice_client authenticates with a token
    assert body["has_token"] is True and body["created"] and "token" not in body
    assert anon.get(url).status_code == 401
    session = APIClient()
    session.force_login(alice)
    alice.auth_token.delete()
    assert session.get(url).json() == {"has_token": False, "created": None}


# --- The browsable API ---


def test_the_root_page_is_titled_and_described_for_people_with_the_sites_log_in(anon):
    response, page = _html(anon, ROOT)
    assert response.status_code == 200
    assert "<title>MovieRec API · MovieRec API</title>" in page
    assert "Django REST framework" not in page and "Not Found Api" not in page
    assert "Browse movies, rate them" in page
    assert 'href="/accounts/login/?next=/api/v1/"' in page
    assert 'href="/"' in page  # back to the site
    assert re.search(r'<link rel="icon" href="/static/img/favicon[^"]*\.svg"', page)
    assert re.search(r'<link rel="stylesheet" type="text/css" href="/static/css/api[^"]*\.css"', page)
    assert "<a href='http://testserver/api/v1/movies/'" in page or 'href="http://testserver/api/v1/movies/"' in page


def test_breadcrumbs_follow_the_hierarchy(anon):
    movie = MovieFactory(title="Heat (1995)")
    _, page = _html(anon, f"/api/v1/movies/{movie.pk}/similar/")
    trail = re.search(r'<ul class="breadcrumb">(.*?)</ul>', page, re.S).group(1)
    crumbs = re.findall(r'<li(?: class="active")?><a href="([^"]+)">([^<]+)</a></li>', trail)
    assert crumbs == [
        ("/api/v1/", "MovieRec API"),
        ("/api/v1/movies/", "Movies"),
        (f"/api/v1/movies/{movie.pk}/", "Movie"),
        (f"/api/v1/movies/{movie.pk}/similar/", "Similar movies"),
    ]
    assert "<title>Similar movies · MovieRec API</title>" in page
    assert "The movies most like this one" in page


def test_pages_describe_each_method_from_its_docstring(alice):
    client = APIClient()
    client.force_login(alice)
    _, page = _html(client, reverse("api:my_rating_list"))
    assert "<h1>Your ratings</h1>" in page
    assert "<dt>GET</dt>" in page and "<dt>POST</dt>" in page
    assert "Rate a movie: 201 for a new rating" in page
    assert "Signed in as <strong>alice</strong>" in page
    assert 'action="/accounts/logout/"' in page


def test_forms_start_from_what_the_request_needs(alice, staff):
    client = APIClient()
    client.force_login(alice)
    movie = MovieFactory(title="Heat (1995)")
    _, page = _html(client, reverse("api:my_rating_list"))
    assert "&quot;movie&quot;: null,\n    &quot;value&quot;: null" in page  # RatingInputSerializer, not the output
    RatingFactory(user=alice, movie=movie, value=3.5)
    _, page = _html(client, reverse("api:my_rating_detail", args=[movie.pk]))
    assert "&quot;value&quot;: 3.5" in page and 'data-method="PUT"' in page and "deleteModal" in page
    _, page = _html(client, reverse("api:my_rating_bulk"))
    assert "&quot;ratings&quot;: []" in page
    _, page = _html(client, reverse("api:my_rating_import_list"))
    assert re.search(r'<input name="file"\s+type="file"', page)  # the upload form, from UploadSerializer
    _, page = _html(client, reverse("api:token"))
    assert "&quot;username&quot;: &quot;&quot;" in page and "deleteModal" in page
    client.force_login(staff)
    _, page = _html(client, reverse("api:training_run_list"))
    assert "<textarea" in page and "{}</textarea>" in page  # every retrain option is optional
