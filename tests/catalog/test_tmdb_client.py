"""The TMDB client against a local fake TMDB (tests/fake_tmdb.py): parsing, credentials, retries, limits."""

import pytest

from catalog.tmdb import RateLimiter, TmdbAuthError, TmdbClient, TmdbError, TmdbNotFound
from tests.fake_tmdb import NOT_FOUND, RATE_LIMITED, SERVER_ERROR, UNAUTHORIZED, ok


class FakeClock:
    """time.monotonic and time.sleep for a limiter: sleeping moves the clock on, and is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_for(server, **options) -> TmdbClient:
    options = {"api_key": "k3y", "base_url": server.url, "limiter": RateLimiter(1000), "timeout": 2} | options
    return TmdbClient(**options)


def test_movie_details_with_directors_and_top_billed_cast(fake_tmdb):
    fake_tmdb.movie(862)
    movie = client_for(fake_tmdb).movie(862)
    assert movie.poster_path == "/uXDfjJbdP4ijW5hWSBrPrlKpxab.jpg"
    assert movie.overview.startswith("Led by Woody")
    assert movie.runtime == 81
    assert movie.directors == ["John Lasseter", "Lee Unkrich"]  # crew order, once each, directors only
    assert movie.cast == ["Tom Hanks", "Tim Allen", "Don Rickles", "Wallace Shawn", "Jim Varney"]  # by "order"
    [request] = fake_tmdb.requests
    assert request.path == "/3/movie/862"
    assert request.query == {"append_to_response": ["credits"], "api_key": ["k3y"]}
    assert "Authorization" not in request.headers


def test_missing_fields_are_empty_not_errors(fake_tmdb):
    fake_tmdb.movie(5, ok(5, poster_path=None, overview=None, runtime=0, credits={}))
    movie = client_for(fake_tmdb).movie(5)
    assert (movie.poster_path, movie.overview, movie.runtime, movie.directors, movie.cast) == ("", "", None, [], [])


def test_a_v4_read_token_goes_in_a_bearer_header_not_the_url(fake_tmdb):
    fake_tmdb.movie(862)
    client_for(fake_tmdb, api_key="", read_token="eyJhbGciOi.token").movie(862)
    [request] = fake_tmdb.requests
    assert request.headers["Authorization"] == "Bearer eyJhbGciOi.token"
    assert "api_key" not in request.query


def test_unknown_movie_is_not_found(fake_tmdb):
    fake_tmdb.movie(999999, NOT_FOUND)
    with pytest.raises(TmdbNotFound):
        client_for(fake_tmdb).movie(999999)
    assert len(fake_tmdb.requests) == 1  # no retry: asking again changes nothing


def test_an_error_body_with_status_code_34_is_not_found_whatever_the_http_status(fake_tmdb):
    fake_tmdb.movie(7, (200, {}, {"success": False, "status_code": 34, "status_message": "Not found."}))
    with pytest.raises(TmdbNotFound):
        client_for(fake_tmdb).movie(7)


def test_bad_credentials_raise_a_clear_auth_error_at_once(fake_tmdb):
    fake_tmdb.movie(862, UNAUTHORIZED)
    with pytest.raises(TmdbAuthError, match="401.*Invalid API key.*TMDB_API_KEY"):
        client_for(fake_tmdb).movie(862)
    assert len(fake_tmdb.requests) == 1


def test_429_waits_for_retry_after_then_succeeds(fake_tmdb):
    fake_tmdb.movie(862, RATE_LIMITED, ok(862))
    movie = client_for(fake_tmdb, limiter=RateLimiter(1000)).movie(862)  # the real clock
    assert movie.runtime == 81
    first, second = fake_tmdb.requests
    assert second.at - first.at >= 0.95  # Retry-After: 1


def test_429_holds_back_every_caller_of_the_limiter(fake_tmdb):
    clock = FakeClock()
    limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    fake_tmdb.movie(862, RATE_LIMITED, ok(862))
    client_for(fake_tmdb, limiter=limiter).movie(862)
    assert clock.sleeps == [pytest.approx(1.0)]
    limiter.pause(5)  # as another thread's 429 would
    limiter.wait()
    assert clock.sleeps[-1] == pytest.approx(5.0)


def test_server_errors_are_retried_with_backoff(fake_tmdb):
    sleeps = []
    fake_tmdb.movie(862, SERVER_ERROR, ok(862))
    movie = client_for(fake_tmdb, sleep=sleeps.append, backoff=0.5).movie(862)
    assert movie.runtime == 81
    assert len(fake_tmdb.requests) == 2
    assert sleeps == [0.5]


def test_three_server_errors_give_up_with_an_error(fake_tmdb):
    sleeps = []
    fake_tmdb.movie(862, SERVER_ERROR)
    with pytest.raises(TmdbError, match="HTTP 500 after 3 tries") as raised:
        client_for(fake_tmdb, sleep=sleeps.append, backoff=0.5).movie(862)
    assert not isinstance(raised.value, TmdbNotFound | TmdbAuthError)
    assert len(fake_tmdb.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_a_timeout_is_retried(fake_tmdb):
    fake_tmdb.movie(862)
    fake_tmdb.stall = [1.0]  # the first answer comes after the client's timeout
    movie = client_for(fake_tmdb, timeout=0.3, sleep=lambda s: None).movie(862)
    assert movie.runtime == 81
    assert len(fake_tmdb.requests) == 2


def test_an_unreachable_server_is_an_error_after_retries():
    client = TmdbClient(api_key="k", base_url="http://127.0.0.1:9/3", limiter=RateLimiter(1000), sleep=lambda s: None)
    with pytest.raises(TmdbError, match="after 3 tries"):
        client.movie(862)


def test_the_key_never_appears_in_errors(fake_tmdb):
    fake_tmdb.movie(862, SERVER_ERROR)
    with pytest.raises(TmdbError) as raised:
        client_for(fake_tmdb, api_key="s3cret-key", sleep=lambda s: None).movie(862)
    assert "s3cret" not in str(raised.value)


def test_no_credentials_no_client():
    with pytest.raises(TmdbAuthError, match="not configured"):
        TmdbClient(base_url="http://127.0.0.1:9/3")


# --- The rate limiter ---


def test_limiter_spaces_requests_evenly():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock, sleep=clock.sleep)
    times = []
    for _ in range(5):
        limiter.wait()
        times.append(clock.now)
    assert [round(t - times[0], 6) for t in times] == [0.0, 0.05, 0.1, 0.15, 0.2]


def test_limiter_does_not_wait_when_callers_are_slower_than_the_limit():
    clock = FakeClock()
    limiter = RateLimiter(20, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        limiter.wait()
        clock.now += 0.2  # work between requests
    assert clock.sleeps == []


def test_limiter_refuses_a_zero_rate():
    with pytest.raises(ValueError):
        RateLimiter(0)
