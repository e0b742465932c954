"""Adding a movie in the admin: validation, immediate visibility on the site, TMDB enrichment."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.forms import LOCAL_MOVIE_ID_START
from catalog.models import Movie, MovieDetails
from catalog.selectors import movie_in_bulk_cached
from tests.factories import GenreFactory, MovieFactory, UserFactory
from tests.fake_tmdb import UNAUTHORIZED

pytestmark = pytest.mark.django_db
ADD = reverse("admin:catalog_movie_add")
CHANGELIST = reverse("admin:catalog_movie_changelist")


@pytest.fixture
def admin_user():
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def drama():
    return GenreFactory(name="Drama")


def movie_data(**fields) -> dict:
    data = {
        "id": "",
        "title": "Anora (2024)",
        "year": "2024",
        "genres": [],
        "imdb_id": "",
        "tmdb_id": "",
        "tags-TOTAL_FORMS": "0",
        "tags-INITIAL_FORMS": "0",
        "tags-MIN_NUM_FORMS": "0",
        "tags-MAX_NUM_FORMS": "1000",
    }
    return data | fields


def errors_of(response) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form was accepted"
    return {name: list(errors) for name, errors in response.context["adminform"].form.errors.items()}


def test_added_movie_gets_a_local_id_normalised_imdb_id_genres_and_tags(staff_client, admin_user, drama):
    response = staff_client.post(
        ADD,
        movie_data(
            genres=[drama.pk],
            imdb_id="tt28607951",
            tmdb_id="1064213",
            **{
                "tags-TOTAL_FORMS": "1",
                "tags-0-tag": "palme d'or",
                "tags-0-user": str(admin_user.pk),
                "tags-0-tagged_at_0": "2025-05-24",
                "tags-0-tagged_at_1": "20:00:00",
            },
        ),
    )
    assert response.status_code == 302, errors_of(response)
    movie = Movie.objects.get(title="Anora (2024)")
    assert movie.pk == LOCAL_MOVIE_ID_START
    assert (movie.year, movie.imdb_id, movie.tmdb_id) == (2024, "28607951", 1064213)
    assert [g.name for g in movie.genres.all()] == ["Drama"]
    assert [t.tag for t in movie.tags.all()] == ["palme d'or"]
    staff_client.post(ADD, movie_data(title="Flow (2024)", imdb_id="4772188"))
    assert Movie.objects.get(title="Flow (2024)").pk == LOCAL_MOVIE_ID_START + 1
    assert Movie.objects.get(title="Flow (2024)").imdb_id == "4772188"


def test_short_imdb_digits_are_padded_as_imdb_does(staff_client):
    staff_client.post(ADD, movie_data(imdb_id="tt114709"))
    assert Movie.objects.get().imdb_id == "0114709"


def test_a_movielens_id_can_be_given(staff_client):
    staff_client.post(ADD, movie_data(id="288167"))
    assert Movie.objects.get().pk == 288167


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"title": "   "}, "title", "This field is required."),
        ({"year": "1869"}, "year", "A year from 1870 to"),
        ({"year": str(timezone.now().year + 2)}, "year", "A year from 1870 to"),
        ({"imdb_id": "nm0000158"}, "imdb_id", "An IMDb title id looks like tt0114709"),
        ({"genres": ["999999"]}, "genres", "Select a valid choice"),
        ({"tmdb_id": "-5"}, "tmdb_id", "greater than or equal to 0"),
    ],
)
def test_invalid_input_is_refused_with_a_message(staff_client, fields, field, message):
    errors = errors_of(staff_client.post(ADD, movie_data(**fields)))
    assert message in " ".join(errors[field])
    assert not Movie.objects.exists()


def test_duplicate_imdb_and_tmdb_ids_name_the_other_movie(staff_client):
    MovieFactory(id=1, title="Toy Story (1995)", imdb_id="0114709", tmdb_id=862)
    errors = errors_of(staff_client.post(ADD, movie_data(imdb_id="tt0114709", tmdb_id="862", id="1")))
    assert errors["imdb_id"] == ["IMDb id tt0114709 already belongs to “Toy Story (1995)” (movie 1)."]
    assert errors["tmdb_id"] == ["TMDB id 862 already belongs to “Toy Story (1995)” (movie 1)."]
    assert errors["id"] == ["“Toy Story (1995)” already has this id."]


def test_editing_a_movie_keeps_its_own_ids_valid(staff_client):
    movie = MovieFactory(id=1, title="Toy Story (1995)", imdb_id="0114709", tmdb_id=862)
    url = reverse("admin:catalog_movie_change", args=[movie.pk])
    response = staff_client.post(url, movie_data(title="Toy Story (1995) ", imdb_id="0114709", tmdb_id="862"))
    assert response.status_code == 302, errors_of(response)


def test_a_new_movie_is_searchable_and_has_its_page_at_once(staff_client, client):
    MovieFactory(id=LOCAL_MOVIE_ID_START - 5, title="Heat (1995)")
    # Warm the per-process movie cache, as serving recommendations does, asking for the id to come as well.
    assert list(movie_in_bulk_cached(movie_ids=[LOCAL_MOVIE_ID_START - 5, LOCAL_MOVIE_ID_START])) == [
        LOCAL_MOVIE_ID_START - 5
    ]
    staff_client.post(ADD, movie_data(title="Anora (2024)"))
    movie = Movie.objects.get(title="Anora (2024)")
    visitor = Client()
    assert [m.title for m in visitor.get(reverse("movie_list"), {"q": "anora"}).context["movies"]] == ["Anora (2024)"]
    page = visitor.get(reverse("movie_detail", args=[movie.pk]))
    assert page.status_code == 200 and b"Anora (2024)" in page.content
    assert visitor.get(reverse("api:movie_list"), {"search": "anora"}).json()["count"] == 1
    assert movie_in_bulk_cached(movie_ids=[movie.pk])[movie.pk].title == "Anora (2024)"  # misses are not cached


# --- TMDB ---


def test_adding_a_movie_with_a_tmdb_id_fetches_its_details_in_the_background(
    staff_client, tmdb_on, django_capture_on_commit_callbacks
):
    tmdb_on.movie(1064213)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(ADD, movie_data(tmdb_id="1064213"), follow=True)
    assert "fetched from TMDB in the background" in response.content.decode()
    assert tmdb_on.paths() == ["/3/movie/1064213"]
    assert MovieDetails.objects.get(movie__title="Anora (2024)").status == MovieDetails.Status.OK


def test_without_tmdb_adding_a_movie_queues_nothing(staff_client, settings, django_capture_on_commit_callbacks):
    settings.TMDB_API_KEY = settings.TMDB_READ_TOKEN = ""
    with django_capture_on_commit_callbacks() as callbacks:
        staff_client.post(ADD, movie_data(tmdb_id="1064213"))
    assert callbacks == [] and Movie.objects.exists()


def test_fetch_tmdb_details_action(staff_client, tmdb_on):
    found, missing = MovieFactory(tmdb_id=862), MovieFactory(tmdb_id=404404)
    tmdb_on.movie(862)
    response = staff_client.post(
        CHANGELIST, {"action": "fetch_tmdb_details", "_selected_action": [found.pk, missing.pk]}, follow=True
    )
    assert "TMDB details: 1 fetched, 1 not found on TMDB, 0 failed." in response.content.decode()
    assert MovieDetails.objects.get(movie=found).status == MovieDetails.Status.OK
    change = staff_client.get(reverse("admin:catalog_movie_change", args=[found.pk])).content.decode()
    assert "Ok on " in change


def test_fetch_tmdb_details_action_reports_a_bad_key(staff_client, tmdb_on):
    movie = MovieFactory(tmdb_id=862)
    tmdb_on.movie(862, UNAUTHORIZED)
    response = staff_client.post(
        CHANGELIST, {"action": "fetch_tmdb_details", "_selected_action": [movie.pk]}, follow=True
    )
    assert "TMDB refused the credentials" in response.content.decode()


def test_fetch_tmdb_details_action_without_tmdb(staff_client, settings):
    settings.TMDB_API_KEY = settings.TMDB_READ_TOKEN = ""
    movie = MovieFactory(tmdb_id=862)
    response = staff_client.post(
        CHANGELIST, {"action": "fetch_tmdb_details", "_selected_action": [movie.pk]}, follow=True
    )
    assert "TMDB is not configured" in response.content.decode()
