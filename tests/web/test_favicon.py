import re


def test_a_browser_asking_for_the_favicon_gets_the_sites_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert re.fullmatch(r"/static/img/favicon[^/]*\.svg", response.url)
    assert client.get(response.url).status_code == 200
