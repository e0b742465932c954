import pytest
from django.urls import reverse

from catalog.models import Tag
from tests.factories import GenreFactory, MovieFactory, UserFactory

pytestmark = pytest.mark.django_db
LIST = reverse("api:movie_list")


def _detail(movie_id) -> str:
    return reverse("api:movie_detail", args=[movie_id])


def _titles(response) -> list[str]:
    return [movie["title"] for movie in response.json()["results"]]


def test_movies_are_public_paginated_and_most_rated_first(anon):
    for i in range(25):
        MovieFactory(title=f"Film {i:02d} (2001)", rating_count=i)
    response = anon.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 25
    assert len(body["results"]) == 20
    assert body["results"][0]["title"] == "Film 24 (2001)"
    assert body["next"].endswith("?page=2")
    assert len(anon.get(LIST, {"page": 2}).json()["results"]) == 5
    assert len(anon.get(LIST, {"page_size": 3}).json()["results"]) == 3


def test_movie_filters_search_genre_decade_and_sort(anon):
    noir = GenreFactory(name="Film-Noir")
    old = MovieFactory(title="Maltese Falcon, The (1941)", year=1941, rating_count=10, rating_mean=4.1)
    old.genres.add(noir)
    MovieFactory(title="Falcon Rising (2014)", year=2014, rating_count=50, rating_mean=3.0)
    MovieFactory(title="Heat (1995)", year=1995, rating_count=90)

    assert _titles(anon.get(LIST, {"search": "falcon"})) == ["Falcon Rising (2014)", "Maltese Falcon, The (1941)"]
    assert _titles(anon.get(LIST, {"search": "the maltese"})) == ["Maltese Falcon, The (1941)"]
    assert _titles(anon.get(LIST, {"genre": "film-noir"})) == ["Maltese Falcon, The (1941)"]
    assert _titles(anon.get(LIST, {"decade": 1990})) == ["Heat (1995)"]
    assert _titles(anon.get(LIST, {"sort": "oldest"}))[0] == "Maltese Falcon, The (1941)"
    assert _titles(anon.get(LIST, {"sort": "title"}))[0] == "Falcon Rising (2014)"
    assert _titles(anon.get(LIST, {"min_ratings": 60})) == ["Heat (1995)"]


def test_an_unknown_genre_matches_no_movie(anon):
    MovieFactory().genres.add(GenreFactory(name="Drama"))
    response = anon.get(LIST, {"genre": "Nonexistent"})
    assert response.status_code == 200
    assert response.json()["count"] == 0 and response.json()["results"] == []


@pytest.mark.parametrize(
    "params, field",
    [
        ({"genre": "x" * 65}, "genre"),
        ({"decade": 1995}, "decade"),
        ({"decade": "nineties"}, "decade"),
        ({"decade": 10**30}, "decade"),
        ({"sort": "best"}, "sort"),
        ({"min_ratings": -1}, "min_ratings"),
        ({"search": "x" * 201}, "search"),
        ({"search": "nul\x00byte"}, "search"),
    ],
)
def test_invalid_movie_filters_are_400_with_the_field_named(anon, params, field):
    response = anon.get(LIST, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_a_page_past_the_end_is_404_in_the_error_shape(anon):
    MovieFactory()
    response = anon.get(LIST, {"page": 99})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_movie_list_query_count_does_not_grow_with_the_page(anon, django_assert_num_queries):
    genre = GenreFactory(name="Drama")
    for i in range(20):
        MovieFactory(rating_count=i).genres.add(genre)
    # count, page of movies, their genres
    with django_assert_num_queries(3):
        assert anon.get(LIST).status_code == 200
    # a genre filter adds the genre lookup
    with django_assert_num_queries(4):
        assert anon.get(LIST, {"genre": "Drama"}).status_code == 200


def test_movie_detail_has_average_count_links_genres_and_tags(anon):
    movie = MovieFactory(
        id=1, title="Toy Story (1995)", year=1995, imdb_id="0114709", tmdb_id=862, rating_count=215, rating_mean=3.92
    )
    movie.genres.add(GenreFactory(name="Animation"), GenreFactory(name="Comedy"))
    tagger = UserFactory()
    Tag.objects.create(movie=movie, user=tagger, tag="pixar", tagged_at="2020-01-01T00:00:00Z")
    response = anon.get(_detail(1))
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Toy Story (1995)"
    assert body["rating_count"] == 215
    assert body["rating_mean"] == pytest.approx(3.92)
    assert body["genres"] == ["Animation", "Comedy"]
    assert body["links"] == {
        "movielens": "https://movielens.org/movies/1",
        "imdb": "https://www.imdb.com/title/tt0114709/",
        "tmdb": "https://www.themoviedb.org/movie/862",
    }
    assert body["tags"] == [{"tag": "pixar", "count": 1}]


@pytest.mark.parametrize("path", ["/api/v1/movies/999/", "/api/v1/movies/0/", "/api/v1/movies/-3/",
                                  "/api/v1/movies/99999999999999999999999/", "/api/v1/movies/abc/"])  # fmt: skip
def test_unknown_or_impossible_movie_ids_are_json_404(anon, path):
    response = anon.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_similar_movies_come_from_the_active_run(anon, catalogue, active_run, django_assert_num_queries):
    comedies = catalogue["comedies"]
    url = reverse("api:movie_similar", args=[comedies[0].pk])
    anon.get(url)  # the similar movies into the movie cache
    # movie, its genres, the active run, similar rows; the movies from the cache (a run of one explicit model serves
    # no new movies; a two-model run's are one more indexed query: tests/api/test_two_model_runs.py)
    with django_assert_num_queries(4):
        response = anon.get(url)
    assert response.status_code == 200
    body = response.json()
    assert [item["movie"]["title"] for item in body] == [m.title for m in comedies[1:4]]
    assert body[0]["rank"] == 1 and body[0]["similarity"] == pytest.approx(0.9)
    assert body[0]["movie"]["genres"] == ["Comedy"]
    assert len(anon.get(url, {"n": 2}).json()) == 2
    assert anon.get(url, {"n": 0}).status_code == 400
    assert anon.get(url, {"n": 10**6}).status_code == 400


def test_similar_movies_before_any_run_are_an_empty_list(anon):
    movie = MovieFactory()
    response = anon.get(reverse("api:movie_similar", args=[movie.pk]))
    assert response.status_code == 200 and response.json() == []


def test_genres_list(anon):
    GenreFactory(name="Western")
    GenreFactory(name="Action")
    assert [g["name"] for g in anon.get(reverse("api:genre_list")).json()] == ["Action", "Western"]
