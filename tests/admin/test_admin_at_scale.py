"""The admin's change lists at ML-25M scale (bench/bench_pages.py): no query that reads every rating or user to
draw a filter, count a large result or answer a search."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from movierec_site.admin_utils import EstimatedCountPaginator
from ratings.models import Rating
from tests.factories import MovieFactory, MovieLensUserFactory, RatingFactory, UserFactory

pytestmark = pytest.mark.django_db
RATINGS = reverse("admin:ratings_rating_changelist")
USERS = reverse("admin:accounts_user_changelist")


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def ratings():
    movies = MovieFactory.create_batch(4)
    raters = [MovieLensUserFactory(username=f"movielens-{n}", movielens_id=n) for n in (7, 70, 700)]
    for i, rater in enumerate(raters):
        for j, movie in enumerate(movies):
            RatingFactory(user=rater, movie=movie, value=Decimal("4.0") if (i + j) % 2 else Decimal("2.5"))
    return movies, raters


def _sql(context) -> list[str]:
    return [query["sql"] for query in context.captured_queries]


def test_the_star_filter_is_offered_without_reading_every_rating(staff_client, ratings):
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(RATINGS)
    assert response.status_code == 200
    # Django's filter for a plain field finds its choices with SELECT DISTINCT over the table: 4-5 s at 25M.
    assert not [sql for sql in _sql(queries) if "DISTINCT" in sql.upper() and "ratings_rating" in sql]
    assert "5.0" in response.content.decode()  # the ten half-star values, known in advance
    filtered = staff_client.get(RATINGS, {"value": "4.0"}).context["cl"]
    assert filtered.result_count == 6
    assert {r.value for r in filtered.result_list} == {Decimal("4.0")}


def test_the_ratings_search_finds_a_username_or_a_movie_id_with_one_indexed_condition_each(staff_client, ratings):
    movies, raters = ratings
    by_user = staff_client.get(RATINGS, {"q": raters[1].username}).context["cl"]
    assert {r.user_id for r in by_user.result_list} == {raters[1].pk} and by_user.result_count == 4
    by_movie = staff_client.get(RATINGS, {"q": str(movies[2].pk)}).context["cl"]
    assert {r.movie_id for r in by_movie.result_list} == {movies[2].pk} and by_movie.result_count == 3
    assert staff_client.get(RATINGS, {"q": "nobody"}).context["cl"].result_count == 0
    # Not `username = term OR movie_id = term` across the join: no index serves that, and newest first PostgreSQL
    # walked all 25M ratings backwards (80 s).
    where = str(by_movie.queryset.query).split("WHERE", 1)[1]
    assert "username" not in where


def test_a_filtered_list_the_planner_expects_to_be_large_is_estimated_not_counted(staff_client, ratings, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)  # as if the 6 ratings were millions
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(RATINGS, {"value": "4.0"})
    assert response.status_code == 200
    assert not [sql for sql in _sql(queries) if "COUNT(" in sql.upper()]
    assert response.context["cl"].result_count >= 1  # the planner's estimate


def test_small_filtered_lists_are_counted_exactly(staff_client, ratings):
    with CaptureQueriesContext(connection) as queries:
        cl = staff_client.get(USERS, {"kind": "movielens"}).context["cl"]
    assert cl.result_count == 3
    assert [sql for sql in _sql(queries) if "COUNT(" in sql.upper()]
    assert Rating.objects.count() == 12


def test_the_user_search_takes_a_username_prefix_an_email_or_a_movielens_id(staff_client, ratings):
    _, raters = ratings
    person = UserFactory(username="Cinephile", email="Cine@Example.com")

    def found(term: str) -> set[str]:
        return {u.username for u in staff_client.get(USERS, {"q": term}).context["cl"].result_list}

    assert found("movielens-7") == {"movielens-7", "movielens-70", "movielens-700"}
    assert found("CINE") == {"Cinephile"}
    assert found("cine@example.com") == {"Cinephile"}
    assert found("70") == {"movielens-70"}
    assert found("ephile") == set()  # a prefix, not any substring: an indexed lookup
    assert person.pk


def test_the_movie_list_offers_decades_without_reading_every_movie(staff_client):
    MovieFactory(title="Old (1931)", year=1931)
    MovieFactory(title="New (2004)", year=2004)
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(reverse("admin:catalog_movie_changelist"))
    assert not [sql for sql in _sql(queries) if "DISTINCT" in sql.upper() and "catalog_movie" in sql]
    page = response.content.decode()
    assert "1930s" in page and "2000s" in page and "1960s" in page  # every decade in between
    assert "1920s" not in page and "2010s" not in page


def test_the_movie_page_queries_do_not_grow_with_its_tags(staff_client):
    from django.utils import timezone

    from catalog.models import Tag

    def queries_for(tags: int) -> int:
        movie = MovieFactory()
        for _ in range(tags):
            Tag.objects.create(movie=movie, user=UserFactory(), tag="cult", tagged_at=timezone.now())
        with CaptureQueriesContext(connection) as queries:
            response = staff_client.get(reverse("admin:catalog_movie_change", args=[movie.pk]))
        assert response.status_code == 200
        assert response.content.decode().count("cult") >= tags
        return len(queries)

    queries_for(1)  # the first page of the session loads what later pages reuse
    assert queries_for(12) == queries_for(1)


def test_the_movie_search_ignores_accents_and_reads_the_stored_folded_title(staff_client):
    amelie = MovieFactory(title="Amélie (2001)")
    other = MovieFactory(title="Amelia (2009)")
    cl = staff_client.get(reverse("admin:catalog_movie_changelist"), {"q": "AMELIE"}).context["cl"]
    assert [m.pk for m in cl.result_list] == [amelie.pk]
    by_id = staff_client.get(reverse("admin:catalog_movie_changelist"), {"q": str(other.pk)}).context["cl"]
    assert other.pk in [m.pk for m in by_id.result_list]
    # Not UPPER(title) LIKE '%…%' over every title (no index serves it).
    assert "title_folded" in str(cl.queryset.query) and "UPPER" not in str(cl.queryset.query)


def test_a_deep_page_reads_its_keys_without_the_joins_then_joins_only_its_own_rows(staff_client, ratings, monkeypatch):
    from ratings.admin import RatingAdmin

    # As if page 2 of 5 ratings were page 1000 of 100: OFFSET 99,900 joined every skipped rating (395 ms at 25M).
    monkeypatch.setattr(RatingAdmin, "list_per_page", 5)
    monkeypatch.setattr(EstimatedCountPaginator, "keys_first_from_offset", 5)
    with CaptureQueriesContext(connection) as queries:
        cl = staff_client.get(RATINGS, {"p": "2"}).context["cl"]
    newest_first = list(Rating.objects.order_by("-pk").values_list("pk", flat=True))
    assert [r.pk for r in cl.result_list] == newest_first[5:10]
    with CaptureQueriesContext(connection) as later:
        assert all(r.user.username and r.movie.title for r in cl.result_list)
    assert not later.captured_queries  # the page's rows came joined: no query per row
    offset = [sql for sql in _sql(queries) if "OFFSET" in sql.upper() and "ratings_rating" in sql]
    assert offset and all("JOIN" not in sql.upper() for sql in offset)
    # The same rows on the last page, and shallow pages keep the one joined query.
    assert [r.pk for r in staff_client.get(RATINGS, {"p": "3"}).context["cl"].result_list] == newest_first[10:]
    with CaptureQueriesContext(connection) as queries:
        first = staff_client.get(RATINGS).context["cl"]
    assert [r.pk for r in first.result_list] == newest_first[:5]
    assert [sql for sql in _sql(queries) if "LIMIT" in sql.upper() and "JOIN" in sql.upper()]


@pytest.mark.parametrize(
    "changelist", ["ratings_rating", "catalog_movie", "accounts_user", "catalog_tag", "recommendations_trainingrun"]
)
def test_the_long_lists_write_the_rows_checkbox_and_link_as_django_does_without_a_template_per_row(
    staff_client, ratings, changelist, monkeypatch
):
    from django.contrib import admin
    from django.contrib.admin.views.main import ChangeList
    from django.utils import timezone

    from catalog.models import Tag
    from recommendations.models import TrainingRun

    movies, raters = ratings
    odd = MovieFactory(title='<b>"Tom & Jerry"</b> (1992)')  # its label must be escaped once, as Django does
    RatingFactory(user=raters[0], movie=odd)
    Tag.objects.create(movie=odd, user=raters[0], tag="<cat & mouse>", tagged_at=timezone.now())
    TrainingRun.objects.create()
    from django.contrib.admin.views import main

    per_row = []
    monkeypatch.setattr(main, "reverse", lambda *args, **kwargs: per_row.append(args) or reverse(*args, **kwargs))
    response = staff_client.get(reverse(f"admin:{changelist}_changelist"))
    assert response.status_code == 200
    assert not per_row  # Django's ChangeList.url_for_result reverses the change URL once per row
    monkeypatch.undo()
    assert "django/forms/widgets/checkbox.html" not in [t.name for t in response.templates]
    cl = response.context["cl"]
    model_admin = cl.model_admin
    assert cl.result_list
    page = response.content.decode()
    for obj in cl.result_list:
        theirs = admin.ModelAdmin.action_checkbox(model_admin, obj)
        assert model_admin.action_checkbox(obj) == theirs and theirs in page
        assert cl.url_for_result(obj) == ChangeList.url_for_result(cl, obj)
        assert f'href="{cl.url_for_result(obj)}"' in page


@pytest.mark.parametrize(
    "changelist, query",
    [
        ("ratings_rating", {}),
        ("ratings_rating", {"q": "movielens-7", "value": "4.0"}),  # the links carry the filters back
        ("ratings_rating", {"o": "3"}),
        ("catalog_movie", {}),
        ("catalog_movie", {"q": "tom"}),
        ("accounts_user", {}),
        ("accounts_user", {"kind": "movielens"}),
        ("catalog_tag", {}),
        ("recommendations_trainingrun", {}),
        ("recommendations_trainingrun", {"status__exact": "succeeded"}),
    ],
)
def test_the_long_lists_rows_are_written_in_python_as_djangos_result_list_writes_them(
    staff_client, ratings, changelist, query, monkeypatch
):
    import re

    from django.contrib.admin.templatetags import admin_list
    from django.utils import timezone

    from catalog.models import Tag
    from movierec_site import admin_utils
    from recommendations.models import TrainingRun

    movies, raters = ratings
    odd = MovieFactory(title='<b>"Tom & Jerry"</b> (1992)', imdb_id=1234)
    RatingFactory(user=raters[0], movie=odd)
    Tag.objects.create(movie=odd, user=raters[0], tag="<cat & mouse>", tagged_at=timezone.now())
    Tag.objects.create(movie=odd, user=raters[1], tag="  ", tagged_at=timezone.now())  # blank: the empty text
    raters[0].last_login = timezone.now()
    raters[0].email = "seven@example.com"
    raters[0].save()
    TrainingRun.objects.create(status=TrainingRun.Status.SUCCEEDED, is_active=True, metrics={"rmse": 0.81234})
    TrainingRun.objects.create(status=TrainingRun.Status.FAILED)
    url = reverse(f"admin:{changelist}_changelist")
    items = []
    original = admin_list.items_for_result
    monkeypatch.setattr(admin_list, "items_for_result", lambda *a: items.append(1) or original(*a))
    ours = staff_client.get(url, query)
    assert ours.status_code == 200 and ours.context["cl"].result_list
    assert not items  # no cell went through Django's items_for_result
    monkeypatch.setattr(admin_utils, "plain_rows", lambda cl: None)  # Django's own result list
    theirs = staff_client.get(url, query)
    assert items
    csrf = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')
    assert csrf.sub("", ours.content.decode()) == csrf.sub("", theirs.content.decode())


def test_the_movie_page_lists_its_tags_in_one_table_and_removes_the_ticked_ones(staff_client):
    from django.utils import timezone

    from catalog.models import Tag

    movie = MovieFactory()
    users = [UserFactory(username=f"tagger{n}") for n in range(3)]
    tags = [
        Tag.objects.create(movie=movie, user=user, tag=text, tagged_at=timezone.now())
        for user, text in zip(users, ["cult", "<b>noir</b> & rain", "twist"], strict=True)
    ]
    url = reverse("admin:catalog_movie_change", args=[movie.pk])
    page = staff_client.get(url).content.decode()
    assert "&lt;b&gt;noir&lt;/b&gt; &amp; rain" in page and "<b>noir</b>" not in page  # escaped once
    assert all(f'name="remove_tags" value="{tag.pk}"' in page for tag in tags) and "tagger2" in page
    assert "tags-0-id" not in page  # no form per existing tag
    form = staff_client.get(url).context["adminform"].form
    data = {
        name: ("" if value is None else value)
        for name, value in ((n, form[n].value()) for n in ["title", "year", "imdb_id", "tmdb_id"])
    }
    data |= {
        "genres": [],
        "remove_tags": [str(tags[0].pk), str(tags[2].pk)],
        "tags-TOTAL_FORMS": "1",
        "tags-INITIAL_FORMS": "0",
        "tags-MIN_NUM_FORMS": "0",
        "tags-MAX_NUM_FORMS": "1000",
        "tags-0-tag": "rainy",
        "tags-0-user": str(users[0].pk),
        "tags-0-tagged_at_0": "2025-05-24",
        "tags-0-tagged_at_1": "20:00:00",
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    assert sorted(Tag.objects.filter(movie=movie).values_list("tag", flat=True)) == ["<b>noir</b> & rain", "rainy"]
    other = MovieFactory()
    kept = Tag.objects.create(movie=other, user=users[0], tag="cult", tagged_at=timezone.now())
    data |= {"remove_tags": [str(kept.pk)], "tags-TOTAL_FORMS": "0"}
    response = staff_client.post(url, data)  # another movie's tag is no choice here
    assert response.status_code == 200 and Tag.objects.filter(pk=kept.pk).exists()


def test_the_movie_list_filtered_by_a_genre_takes_the_kept_count_and_counts_nothing(staff_client):
    from catalog.models import Genre
    from tests.factories import GenreFactory

    drama, comedy = GenreFactory(name="Drama"), GenreFactory(name="Comedy")
    for n in range(7):
        MovieFactory().genres.set([drama] if n % 2 else [drama, comedy])
    url = reverse("admin:catalog_movie_changelist")
    with CaptureQueriesContext(connection) as queries:
        cl = staff_client.get(url, {"genres__id__exact": comedy.pk}).context["cl"]
    assert cl.result_count == 4 == Genre.objects.get(pk=comedy.pk).movie_count and len(cl.result_list) == 4
    # Neither the filtered list nor the whole catalogue is counted (show_full_result_count is off).
    assert not [sql for sql in _sql(queries) if "COUNT(" in sql.upper() and "catalog_movie" in sql]
    searched = staff_client.get(url, {"genres__id__exact": comedy.pk, "q": "no such title"}).context["cl"]
    assert searched.result_count == 0  # with a search too, the rows are counted
    assert staff_client.get(url, {"genres__id__exact": drama.pk, "o": "3"}).context["cl"].result_count == 7


def test_the_movie_list_filtered_by_one_genre_walks_its_order_without_distinct(staff_client):
    from tests.factories import GenreFactory

    drama, comedy = GenreFactory(name="Drama"), GenreFactory(name="Comedy")
    for n in range(6):
        MovieFactory(year=1990 + n).genres.set([drama, comedy] if n % 2 else [drama])
    url = reverse("admin:catalog_movie_changelist")
    with CaptureQueriesContext(connection) as queries:
        cl = staff_client.get(url, {"genres__id__exact": drama.pk, "decade": "1990"}).context["cl"]
    assert sorted(m.pk for m in cl.result_list) == sorted(drama.movies.values_list("pk", flat=True))
    assert not [sql for sql in _sql(queries) if "DISTINCT" in sql.upper() and "catalog_movie_genres" in sql]
    # Two genres at once could meet one movie twice: Django's de-duplication stays.
    both = staff_client.get(url + f"?genres__id__exact={drama.pk}&genres__id__exact={comedy.pk}").context["cl"]
    assert len(both.result_list) == len({m.pk for m in both.result_list})
