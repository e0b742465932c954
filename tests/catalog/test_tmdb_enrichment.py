"""TMDB enrichment: which movies are fetched, what is stored, the command, the task and the queueing."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.enrichment import movie_details_due, movie_details_enqueue, movie_details_enrich
from catalog.models import MovieDetails
from catalog.tasks import tmdb_enrich_task
from catalog.tmdb import RateLimiter, TmdbClient
from tests.factories import MovieFactory
from tests.fake_tmdb import NOT_FOUND, SERVER_ERROR, UNAUTHORIZED, ok

pytestmark = pytest.mark.django_db
OK, NOT_FOUND_STATUS, ERROR = MovieDetails.Status.OK, MovieDetails.Status.NOT_FOUND, MovieDetails.Status.ERROR


def age(movie, days: float) -> None:
    MovieDetails.objects.filter(movie=movie).update(fetched_at=timezone.now() - timedelta(days=days))


def test_enrich_stores_details_and_does_not_ask_again_while_fresh(tmdb_on):
    toy_story = MovieFactory(title="Toy Story (1995)", tmdb_id=862)
    MovieFactory(title="No TMDB id (2000)", tmdb_id=None)
    tmdb_on.movie(862)
    summary = movie_details_enrich()
    assert (summary.ok, summary.not_found, summary.errors, summary.aborted) == (1, 0, 0, "")
    details = MovieDetails.objects.get(movie=toy_story)
    assert details.status == OK and details.tmdb_id == 862
    assert details.poster_path == "/uXDfjJbdP4ijW5hWSBrPrlKpxab.jpg"
    assert details.runtime == 81 and details.directors == ["John Lasseter", "Lee Unkrich"]
    assert details.cast[:2] == ["Tom Hanks", "Tim Allen"] and len(details.cast) == 5

    assert movie_details_enrich().fetched == 0  # a cache: fresh details are not fetched again
    age(toy_story, days=29)
    assert movie_details_enrich().fetched == 0
    age(toy_story, days=31)  # older than TMDB_REFRESH_DAYS (30)
    assert movie_details_enrich().ok == 1
    assert len(tmdb_on.requests) == 2


def test_not_found_is_remembered_and_asked_again_after_a_while(tmdb_on):
    gone = MovieFactory(tmdb_id=404404)
    tmdb_on.movie(404404, NOT_FOUND)
    assert movie_details_enrich().not_found == 1
    assert MovieDetails.objects.get(movie=gone).status == NOT_FOUND_STATUS
    assert movie_details_enrich().fetched == 0
    age(gone, days=8)  # TMDB_NOT_FOUND_RETRY_DAYS: 7
    assert movie_details_enrich().not_found == 1
    assert len(tmdb_on.requests) == 2


def test_bad_credentials_stop_the_batch_and_store_nothing(tmdb_on):
    for tmdb_id in (1, 2, 3):
        MovieFactory(tmdb_id=tmdb_id)
        tmdb_on.movie(tmdb_id, UNAUTHORIZED)
    summary = movie_details_enrich()
    assert "401" in summary.aborted and summary.fetched == 0
    assert len(tmdb_on.requests) == 1
    assert not MovieDetails.objects.exists()


def test_a_failure_keeps_the_details_fetched_before(tmdb_on):
    movie = MovieFactory(tmdb_id=862)
    tmdb_on.movie(862)
    movie_details_enrich()
    age(movie, days=40)
    tmdb_on.movie(862, SERVER_ERROR)
    client = TmdbClient(api_key="k", base_url=tmdb_on.url, limiter=RateLimiter(1000), sleep=lambda s: None)
    assert movie_details_enrich(client=client).errors == 1
    details = MovieDetails.objects.get(movie=movie)
    assert details.status == OK and details.runtime == 81 and "HTTP 500" in details.error
    assert movie in movie_details_due()  # still due: the next batch tries again


def test_a_failure_without_earlier_details_is_recorded_and_retried_later(tmdb_on):
    movie = MovieFactory(tmdb_id=862)
    tmdb_on.movie(862, SERVER_ERROR)
    client = TmdbClient(api_key="k", base_url=tmdb_on.url, limiter=RateLimiter(1000), sleep=lambda s: None)
    assert movie_details_enrich(client=client).errors == 1
    assert MovieDetails.objects.get(movie=movie).status == ERROR
    assert movie not in movie_details_due()
    age(movie, days=0.1)  # more than an hour
    assert movie in movie_details_due()


def test_details_for_an_old_tmdb_id_are_due_and_dropped_with_the_id(tmdb_on):
    movie = MovieFactory(tmdb_id=862)
    tmdb_on.movie(862)
    tmdb_on.movie(863, ok(863, runtime=92))
    movie_details_enrich()
    movie.tmdb_id = 863
    movie.save()
    assert list(movie_details_due()) == [movie]
    movie_details_enrich()
    assert MovieDetails.objects.get(movie=movie).runtime == 92
    movie.tmdb_id = None
    movie.save()
    movie_details_enrich()
    assert not MovieDetails.objects.exists()


def test_limit_takes_never_fetched_movies_first(tmdb_on):
    fetched = MovieFactory(tmdb_id=1)
    tmdb_on.movie(1)
    movie_details_enrich()
    age(fetched, days=60)
    newer = [MovieFactory(tmdb_id=tmdb_id) for tmdb_id in (2, 3)]
    for movie in newer:
        tmdb_on.movie(movie.tmdb_id)
    movie_details_enrich(limit=2)
    assert tmdb_on.paths()[1:] == ["/3/movie/2", "/3/movie/3"]


def test_given_movies_are_fetched_only_when_due_unless_forced(tmdb_on):
    movie = MovieFactory(tmdb_id=862)
    tmdb_on.movie(862)
    assert movie_details_enrich(movie_ids=[movie.pk]).ok == 1
    assert movie_details_enrich(movie_ids=[movie.pk]).fetched == 0
    assert movie_details_enrich(movie_ids=[movie.pk], force=True).ok == 1


# --- The command, the task, the queue ---


def test_command_fetches_and_reports(tmdb_on, capsys):
    MovieFactory(title="Toy Story (1995)", tmdb_id=862)
    MovieFactory(tmdb_id=404404)
    tmdb_on.movie(862)
    call_command("enrich_tmdb", "--limit", "5", verbosity=2)
    out = capsys.readouterr().out
    assert "Toy Story (1995): ok" in out
    assert "1 fetched, 1 not found, 0 failed" in out


def test_command_with_one_movie(tmdb_on):
    movie = MovieFactory(tmdb_id=862)
    MovieFactory(tmdb_id=863)
    tmdb_on.movie(862)
    call_command("enrich_tmdb", "--movie", str(movie.pk))
    assert tmdb_on.paths() == ["/3/movie/862"]


def test_command_fails_loudly_on_a_bad_key(tmdb_on):
    MovieFactory(tmdb_id=862)
    tmdb_on.movie(862, UNAUTHORIZED)
    with pytest.raises(CommandError, match="stopped: TMDB refused the credentials"):
        call_command("enrich_tmdb")


def test_command_needs_a_credential(settings):
    settings.TMDB_API_KEY = settings.TMDB_READ_TOKEN = ""
    with pytest.raises(CommandError, match="TMDB_API_KEY"):
        call_command("enrich_tmdb")


def test_task_does_nothing_without_tmdb(settings):
    settings.TMDB_API_KEY = settings.TMDB_READ_TOKEN = ""
    MovieFactory(tmdb_id=862)
    assert tmdb_enrich_task() == {"skipped": "TMDB is not configured"}


def test_task_raises_on_bad_credentials_so_the_failure_is_recorded(tmdb_on):
    MovieFactory(tmdb_id=862)
    tmdb_on.movie(862, UNAUTHORIZED)
    with pytest.raises(RuntimeError, match="401"):
        tmdb_enrich_task()


def test_enqueue_runs_the_task_after_commit(tmdb_on, django_capture_on_commit_callbacks):
    movie = MovieFactory(tmdb_id=862)
    tmdb_on.movie(862)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert movie_details_enqueue(movie_ids=[movie.pk])
        assert not tmdb_on.requests  # nothing before the commit
    assert len(callbacks) == 1
    assert MovieDetails.objects.get(movie=movie).status == OK  # test settings run tasks inline


def test_enqueue_is_a_no_op_without_tmdb(settings, django_capture_on_commit_callbacks):
    settings.TMDB_API_KEY = settings.TMDB_READ_TOKEN = ""
    with django_capture_on_commit_callbacks() as callbacks:
        assert not movie_details_enqueue(movie_ids=[1])
    assert callbacks == []
