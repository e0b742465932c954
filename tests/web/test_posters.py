"""Posters, overviews and credits from TMDB on the pages; a same-size placeholder without a poster; the credit."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import MovieDetails
from ratings.models import WishlistEntry
from tests.factories import GenreFactory, MovieFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db
POSTER = "/uXDfjJbdP4ijW5hWSBrPrlKpxab.jpg"
CREDIT = "This product uses the TMDB API but is not endorsed or certified by TMDB."


@pytest.fixture
def tmdb_key(settings):
    settings.TMDB_API_KEY = "test-api-key"
    settings.TMDB_READ_TOKEN = ""


def with_details(movie, **fields):
    values = {
        "tmdb_id": movie.tmdb_id,
        "status": MovieDetails.Status.OK,
        "fetched_at": timezone.now(),
        "poster_path": POSTER,
        "overview": "Led by Woody, Andy's toys live happily in his room.",
        "runtime": 81,
        "directors": ["John Lasseter"],
        "cast": ["Tom Hanks", "Tim Allen", "Don Rickles"],
    }
    MovieDetails.objects.create(movie=movie, **(values | fields))
    return movie


@pytest.fixture
def toy_story():
    return with_details(
        MovieFactory(title="Toy Story (1995)", year=1995, tmdb_id=862, rating_count=200, rating_mean=3.9)
    )


def test_cards_show_lazy_posters_of_fixed_size(client, tmdb_key, toy_story):
    html = client.get(reverse("home")).content.decode()
    assert (
        f'<img class="poster poster-card" loading="lazy" width="185" height="278" '
        f'src="https://image.tmdb.org/t/p/w185{POSTER}" alt="Poster of Toy Story (1995)">'
    ) in html
    assert CREDIT in html


def test_a_movie_without_a_poster_gets_a_placeholder_box_with_its_initials(client, tmdb_key):
    MovieFactory(title="Matrix, The (1999)", tmdb_id=603, rating_count=90)
    with_details(MovieFactory(title="Heat (1995)", tmdb_id=949, rating_count=80), poster_path="")
    with_details(MovieFactory(title="Lost film (1920)", tmdb_id=1, rating_count=70), status="not_found")
    html = client.get(reverse("home")).content.decode()
    assert '<span class="poster poster-card poster-placeholder" aria-hidden="true">M</span>' in html
    assert '<span class="poster poster-card poster-placeholder" aria-hidden="true">H</span>' in html
    assert '<span class="poster poster-card poster-placeholder" aria-hidden="true">LF</span>' in html
    assert "image.tmdb.org" not in html


def test_details_fetched_for_another_tmdb_id_are_not_shown(client, tmdb_key, toy_story):
    toy_story.tmdb_id = 863
    toy_story.save()
    html = client.get(reverse("movie_detail", args=[toy_story.pk])).content.decode()
    assert "image.tmdb.org" not in html and "Led by Woody" not in html


def test_movie_page_shows_poster_overview_runtime_director_and_cast(client, tmdb_key, toy_story):
    html = client.get(reverse("movie_detail", args=[toy_story.pk])).content.decode()
    assert (
        f'<img class="poster poster-page" loading="lazy" width="342" height="513" '
        f'src="https://image.tmdb.org/t/p/w342{POSTER}" alt="Poster of Toy Story (1995)">'
    ) in html
    assert "Led by Woody, Andy&#x27;s toys live happily in his room." in html
    assert "<dt>Runtime</dt><dd>1 h 21 min</dd>" in html
    assert "<dt>Directed by</dt><dd>John Lasseter</dd>" in html
    assert "<dt>Starring</dt><dd>Tom Hanks, Tim Allen, Don Rickles</dd>" in html


def test_without_tmdb_pages_show_no_posters_details_or_credit(client, settings, toy_story):
    settings.TMDB_API_KEY = settings.TMDB_READ_TOKEN = ""
    for url in (reverse("home"), reverse("movie_detail", args=[toy_story.pk]), reverse("movie_list")):
        html = client.get(url).content.decode()
        assert "image.tmdb.org" not in html and "poster-placeholder" not in html
        assert "Led by Woody" not in html and CREDIT not in html
    assert "Toy Story (1995)" in html


def test_movie_list_posters_cost_no_extra_query(client, tmdb_key, django_assert_num_queries):
    user = UserFactory()
    genre = GenreFactory(name="Drama")
    for i in range(30):
        movie = MovieFactory(title=f"Film {i} (2000)", rating_count=100 - i, tmdb_id=1000 + i)
        movie.genres.add(genre)
        RatingFactory(user=user, movie=movie)
        if i % 2:
            with_details(movie)
    client.force_login(user)
    # As tests/web/test_browse.py pins it: the details come with the page of movies (a join).
    with django_assert_num_queries(8):
        response = client.get(reverse("movie_list"), {"q": "film", "genre": "Drama"})
    html = response.content.decode()
    assert html.count('class="poster poster-row"') == 12
    assert html.count("poster poster-row poster-placeholder") == 12


def test_wishlist_cards_show_posters(client, tmdb_key, toy_story):
    user = UserFactory()
    WishlistEntry.objects.create(user=user, movie=toy_story)
    client.force_login(user)
    html = client.get(reverse("wishlist")).content.decode()
    assert f"https://image.tmdb.org/t/p/w185{POSTER}" in html


def test_recommendation_cards_show_posters(client, tmdb_key, toy_story):
    user = UserFactory()
    other = MovieFactory(title="Heat (1995)", rating_count=10, rating_mean=Decimal("3.5"))
    RatingFactory(user=user, movie=other)
    client.force_login(user)
    html = client.get(reverse("recommendations")).content.decode()  # popular movies: no run yet
    assert f"https://image.tmdb.org/t/p/w185{POSTER}" in html
