import pytest
from django.urls import reverse
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from movierec_site.api_errors import MAX_QUERY_STRING_BYTES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing-here/", "/api/v1/movies", "/api/v1/me/ratings/x/", "/api/v1/me/predictions/"]
)
def test_unknown_api_paths_are_json_404(anon, path):
    response = anon.post(path, {}, format="json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_is_405_in_the_error_shape(alice_client):
    response = alice_client.delete(reverse("api:movie_list"))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_garbage_token_is_401(anon):
    anon.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anon.get(reverse("api:movie_list"))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_anonymous_and_user_throttles(anon, alice_client, monkeypatch):
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/minute"})
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "5/minute"})
    url = reverse("api:genre_list")
    assert [anon.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    response = anon.get(url)
    assert response.json()["error"]["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    # Users are counted per user, not with the anonymous address.
    assert [alice_client.get(url).status_code for _ in range(6)] == [200] * 5 + [429]


def test_an_unexpected_error_is_a_json_500_and_is_reported(alice_client, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("kaput")

    monkeypatch.setattr("recommendations.api.selectors.recommendation_list_for_user_fresh", boom)
    alice_client.raise_request_exception = False
    response = alice_client.get(reverse("api:my_recommendations"))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "kaput" not in response.content.decode()


def test_an_unsupported_accept_header_is_406_in_json(alice_client):
    response = alice_client.get(reverse("api:me"), HTTP_ACCEPT="application/xml")
    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_session_writes_need_the_csrf_token(alice):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(reverse("api:my_rating_bulk"), {"ratings": []}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_an_over_long_query_string_is_a_json_414(alice_client):
    # gunicorn (ops/gunicorn_conf.py) lets request lines up to 8190 bytes through: Django answers these.
    response = alice_client.get(reverse("api:my_recommendations"), {"genre": "x" * MAX_QUERY_STRING_BYTES})
    assert response.status_code == 414
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "uri_too_long"
    assert response.json()["error"]["fields"] == {}
    # Up to the limit the request goes through (a parameter the API does not know is ignored).
    fits = {"padding": "x" * (MAX_QUERY_STRING_BYTES - len("padding="))}
    assert alice_client.get(reverse("api:my_recommendations"), fits).status_code == 200


def test_site_pages_leave_long_query_strings_to_the_page(client):
    response = client.get("/movies/", {"q": "x" * (MAX_QUERY_STRING_BYTES + 1)})
    assert response.status_code == 200


def test_too_many_query_parameters_are_a_400_in_the_error_shape(anon):
    # Django's DATA_UPLOAD_MAX_NUMBER_FIELDS (1000) refuses them; that was an unhandled error (a 500).
    response = anon.get(reverse("api:movie_list") + "?" + "&".join(["a=1"] * 1001))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
