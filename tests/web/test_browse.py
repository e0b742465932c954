import pytest
from django.urls import reverse

from catalog.models import Tag
from recommendations.models import SimilarMovie
from tests.factories import GenreFactory, MovieFactory, RatingFactory, UserFactory

from .conftest import make_active_run

pytestmark = pytest.mark.django_db
LIST = reverse("movie_list")


def _titles(response) -> list[str]:
    return [m.title for m in response.context["movies"]]


@pytest.fixture
def amelie():
    return MovieFactory(title="Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)", year=2001, rating_count=50)


@pytest.mark.parametrize("query", ["amelie", "AMELIE", "Amélie", "fabuleux poulain", "d'amelie"])
def test_title_search_ignores_case_and_accents(client, amelie, query):
    MovieFactory(title="Amelia (2009)", rating_count=5)
    response = client.get(LIST, {"q": query})
    assert response.status_code == 200
    assert _titles(response) == [amelie.title]


def test_search_matches_every_word_in_any_order(client):
    matrix = MovieFactory(title="Matrix, The (1999)")
    MovieFactory(title="The Other (1972)")
    assert _titles(client.get(LIST, {"q": "the matrix"})) == [matrix.title]


def test_search_treats_like_wildcards_literally(client):
    MovieFactory(title="100% Arabica (1997)")
    MovieFactory(title="1000 Arabian nights (1990)")
    assert _titles(client.get(LIST, {"q": "100%"})) == ["100% Arabica (1997)"]
    assert _titles(client.get(LIST, {"q": "_"})) == []


def test_filter_by_genre_and_decade(client):
    drama = GenreFactory(name="Drama")
    eighties = MovieFactory(title="Eighties drama (1985)", year=1985)
    nineties = MovieFactory(title="Nineties drama (1995)", year=1995)
    MovieFactory(title="Nineties other (1996)", year=1996)
    eighties.genres.add(drama)
    nineties.genres.add(drama)
    assert _titles(client.get(LIST, {"genre": "Drama", "decade": "1990"})) == [nineties.title]
    assert sorted(_titles(client.get(LIST, {"genre": "Drama"}))) == [eighties.title, nineties.title]


def test_sorts(client):
    MovieFactory(title="B popular (2000)", year=2000, rating_count=500, rating_mean=3.0)
    MovieFactory(title="A acclaimed (1950)", year=1950, rating_count=40, rating_mean=4.6)
    MovieFactory(title="C obscure gem (2010)", year=2010, rating_count=3, rating_mean=5.0)
    assert _titles(client.get(LIST))[0] == "B popular (2000)"
    # Average rating leaves out movies with fewer than 25 ratings unless asked.
    assert _titles(client.get(LIST, {"sort": "rating"})) == ["A acclaimed (1950)", "B popular (2000)"]
    assert _titles(client.get(LIST, {"sort": "rating", "min_ratings": 0}))[0] == "C obscure gem (2010)"
    assert _titles(client.get(LIST, {"sort": "newest"}))[0] == "C obscure gem (2010)"
    assert _titles(client.get(LIST, {"sort": "oldest"}))[0] == "A acclaimed (1950)"
    assert _titles(client.get(LIST, {"sort": "title"}))[0] == "A acclaimed (1950)"


def test_pagination_keeps_the_filters(client):
    for i in range(30):
        MovieFactory(title=f"Film {i:02d} (2000)", rating_count=100 - i)
    first = client.get(LIST, {"q": "film", "sort": "popular"})
    assert len(first.context["movies"]) == 24
    assert b"q=film&amp;sort=popular&amp;page=2" in first.content
    second = client.get(LIST, {"q": "film", "sort": "popular", "page": 2})
    assert _titles(second) == [f"Film {i:02d} (2000)" for i in range(24, 30)]


def test_bad_filter_values_do_not_break_the_page(client):
    MovieFactory()
    response = client.get(LIST, {"decade": "abc", "genre": "Nope", "sort": "drop table", "page": "x"})
    assert response.status_code == 200


def test_movie_list_query_count_is_pinned(client, django_assert_num_queries):
    user = UserFactory()
    genre = GenreFactory(name="Drama")
    for i in range(30):
        movie = MovieFactory(title=f"Film {i} (2000)", rating_count=100 - i)
        movie.genres.add(genre)
        RatingFactory(user=user, movie=movie)
    client.force_login(user)
    # session, user, genre lookup, count, page of movies, their genres, my ratings, genre choices
    with django_assert_num_queries(8):
        response = client.get(LIST, {"q": "film", "genre": "Drama"})
    assert len(response.context["movies"]) == 24


def test_movie_page_shows_everything_about_the_movie(logged_in, user):
    genre = GenreFactory(name="Comedy")
    movie = MovieFactory(
        title="Toy Story (1995)", year=1995, imdb_id="0114709", tmdb_id=862, rating_count=215, rating_mean=3.92
    )
    movie.genres.add(genre)
    other = MovieFactory(title="Toy Story 2 (1999)")
    tagger, tagger2 = UserFactory(), UserFactory()
    Tag.objects.create(movie=movie, user=tagger, tag="pixar", tagged_at="2020-01-01T00:00Z")
    Tag.objects.create(movie=movie, user=tagger2, tag="Pixar", tagged_at="2020-01-01T00:00Z")
    Tag.objects.create(movie=movie, user=tagger, tag="fun", tagged_at="2020-01-01T00:00Z")
    run = make_active_run({movie: [1.0, 0.5], other: [1.0, 0.4]})
    SimilarMovie.objects.create(run=run, movie=movie, similar=other, rank=1, score=0.99)
    RatingFactory(user=user, movie=other, value=5)

    response = logged_in.get(reverse("movie_detail", args=[movie.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Toy Story (1995)" in content and "Comedy" in content
    assert "★ 3.9 / 5 from 215 ratings" in content
    assert "https://www.imdb.com/title/tt0114709/" in content
    assert "https://www.themoviedb.org/movie/862" in content
    assert response.context["tags"][0][1] == 2 and response.context["tags"][1] == ("fun", 1)
    assert "Toy Story 2 (1999)" in content  # similar movies
    assert response.context["predicted"] is not None and "We think you'd give it" in content
    assert response.context["rating"] is None


def test_movie_page_for_visitors_invites_to_log_in(client):
    movie = MovieFactory()
    response = client.get(reverse("movie_detail", args=[movie.pk]))
    assert response.status_code == 200
    assert b"to rate this movie" in response.content
    assert client.get(reverse("movie_detail", args=[999999])).status_code == 404
