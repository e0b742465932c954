"""Admin pages for staff over the catalogue: they render, stay within a fixed number of
queries per page, and the training-run actions work."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Movie
from movielens.services import movielens_import
from recommendations.models import TrainingRun
from tests.factories import GenreFactory, MovieFactory, MovieLensUserFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def catalogue():
    drama, comedy = GenreFactory(name="Drama"), GenreFactory(name="Comedy")
    movies = MovieFactory.create_batch(30)
    for i, movie in enumerate(movies):
        movie.genres.set([drama] if i % 2 else [drama, comedy])
        movie.year = 1950 + i * 2
        movie.save()
    raters = MovieLensUserFactory.create_batch(5)
    for rater in raters:
        for movie in movies[:10]:
            RatingFactory(user=rater, movie=movie, value=Decimal("3.5"))
    return movies


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:catalog_movie_changelist",
        "admin:catalog_genre_changelist",
        "admin:catalog_tag_changelist",
        "admin:ratings_rating_changelist",
        "admin:accounts_user_changelist",
        "admin:recommendations_trainingrun_changelist",
    ],
)
def test_staff_can_open_every_list_page(staff_client, catalogue, url_name):
    response = staff_client.get(reverse(url_name))
    assert response.status_code == 200


def test_movie_list_filters_by_genre_and_decade_and_searches_titles(staff_client, catalogue):
    url = reverse("admin:catalog_movie_changelist")
    assert staff_client.get(url, {"decade": "1950"}).context["cl"].result_count == 5
    assert (
        staff_client.get(url, {"genres__id__exact": catalogue[0].genres.get(name="Comedy").pk})
        .context["cl"]
        .result_count
        == 15
    )
    catalogue[3].title = "Godfather, The (1972)"
    catalogue[3].save()
    assert staff_client.get(url, {"q": "godfather"}).context["cl"].result_count == 1


def test_movie_change_page_shows_genres_tags_and_links(staff_client, catalogue):
    response = staff_client.get(reverse("admin:catalog_movie_change", args=[catalogue[0].pk]))
    assert response.status_code == 200
    assert b"genres" in response.content


def test_rating_list_queries_do_not_grow_with_rows(staff_client, catalogue, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse("admin:ratings_rating_changelist"))
    assert response.status_code == 200
    # Raw id inputs instead of dropdowns listing every user and movie.
    add = staff_client.get(reverse("admin:ratings_rating_add"))
    assert b"vForeignKeyRawIdAdminField" in add.content


def test_user_list_shows_rating_counts_and_kind(staff_client, catalogue, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        response = staff_client.get(reverse("admin:accounts_user_changelist"), {"kind": "movielens"})
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert len(rows) == 5 and all(row.rating_count == 10 for row in rows)


def test_non_staff_users_cannot_reach_the_admin(client):
    client.force_login(UserFactory())
    response = client.get(reverse("admin:catalog_movie_changelist"))
    assert response.status_code == 302 and "login" in response.url


def test_admin_action_activates_an_older_successful_run(staff_client):
    older = TrainingRun.objects.create(status="succeeded", finished_at=timezone.now())
    newer = TrainingRun.objects.create(status="succeeded", finished_at=timezone.now(), is_active=True)
    failed = TrainingRun.objects.create(status="failed")
    url = reverse("admin:recommendations_trainingrun_changelist")

    staff_client.post(url, {"action": "activate_run", "_selected_action": [older.pk]})
    assert TrainingRun.objects.get(is_active=True) == older

    response = staff_client.post(url, {"action": "activate_run", "_selected_action": [failed.pk]}, follow=True)
    assert TrainingRun.objects.get(is_active=True) == older
    assert "only a succeeded run can serve" in response.content.decode()
    assert newer.pk


def test_retrain_button_queues_a_run(staff_client, monkeypatch):
    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: queued.append(args))
    response = staff_client.post(reverse("admin:recommendations_trainingrun_retrain"))
    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert run.trigger == "admin" and run.status == "queued"


def test_retrain_button_records_a_skip_while_a_run_is_queued(staff_client, monkeypatch):
    monkeypatch.setattr("django_q.tasks.async_task", lambda *args, **kwargs: None)
    TrainingRun.objects.create(status="queued")
    staff_client.post(reverse("admin:recommendations_trainingrun_retrain"))
    assert TrainingRun.objects.filter(status="skipped", trigger="admin").count() == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_admin_pages_over_the_imported_ml_latest_small(client, settings, django_assert_max_num_queries):
    movielens_import(path=settings.MOVIELENS_BUNDLED_DIR, progress=False)
    client.force_login(UserFactory(username="staff", is_staff=True, is_superuser=True))
    godfather = Movie.objects.get(title="Godfather, The (1972)")

    pages = [
        reverse("admin:catalog_movie_changelist"),
        reverse("admin:catalog_movie_changelist") + "?q=godfather",
        reverse("admin:catalog_movie_changelist") + "?decade=1970",
        reverse("admin:catalog_movie_change", args=[godfather.pk]),
        reverse("admin:catalog_genre_changelist"),
        reverse("admin:catalog_tag_changelist"),
        reverse("admin:ratings_rating_changelist"),
        reverse("admin:ratings_rating_changelist") + f"?q={godfather.pk}",
        reverse("admin:accounts_user_changelist"),
        reverse("admin:accounts_user_changelist") + "?kind=movielens",
    ]
    for url in pages:
        with django_assert_max_num_queries(20):
            response = client.get(url)
        assert response.status_code == 200, url
    movies = client.get(reverse("admin:catalog_movie_changelist") + "?q=godfather").context["cl"]
    titles = {m.title for m in movies.result_list}
    assert {"Godfather, The (1972)", "Godfather: Part II, The (1974)", "Tokyo Godfathers (2003)"} <= titles
