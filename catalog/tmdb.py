"""A small client for TMDB's API v3 (https://developer.themoviedb.org/reference/movie-details).

Only what the catalogue needs: one movie's details with its credits. Standard library HTTP, a request
rate limit shared by the client's callers, retries with backoff on 5xx and timeouts, Retry-After on 429.
Nothing here touches the database; catalog.enrichment stores what it returns.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

logger = logging.getLogger(__name__)

# Posters are served from here (TMDB's configuration endpoint names it; it has not changed in years).
IMAGE_BASE_URL = "https://image.tmdb.org/t/p/"
CAST_SHOWN = 5
# TMDB's status_code for "The resource you requested could not be found." (and 7: invalid API key).
STATUS_NOT_FOUND = 34
STATUS_INVALID_KEY = 7
RETRY_AFTER_MAX_SECONDS = 60.0


class TmdbError(Exception):
    """TMDB could not answer this request (after retries); other movies may still work."""


class TmdbNotFound(TmdbError):
    """TMDB has no movie with that id (404, status_code 34)."""


class TmdbAuthError(TmdbError):
    """TMDB refused the credentials (401): every further request would fail too, so a batch stops."""


def tmdb_enabled() -> bool:
    return bool(settings.TMDB_API_KEY or settings.TMDB_READ_TOKEN)


def poster_url(poster_path: str, size: str = "w185") -> str:
    return f"{IMAGE_BASE_URL}{size}{poster_path}" if poster_path else ""


@dataclass(frozen=True)
class TmdbMovie:
    tmdb_id: int
    poster_path: str = ""
    overview: str = ""
    runtime: int | None = None
    directors: list[str] = field(default_factory=list)
    cast: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> TmdbMovie:
        """From GET /movie/{id}?append_to_response=credits: directors in crew order, the first CAST_SHOWN billed."""
        credits = data.get("credits") or {}
        directors: list[str] = []
        for person in credits.get("crew") or []:
            name = (person.get("name") or "").strip()
            if person.get("job") == "Director" and name and name not in directors:
                directors.append(name)
        billed = sorted(credits.get("cast") or [], key=lambda person: person.get("order", 1_000_000))
        cast = [(person.get("name") or "").strip() for person in billed]
        runtime = data.get("runtime")
        return cls(
            tmdb_id=int(data["id"]),
            poster_path=data.get("poster_path") or "",
            overview=(data.get("overview") or "").strip(),
            runtime=runtime if isinstance(runtime, int) and 0 < runtime < 32_768 else None,
            directors=directors,
            cast=[name for name in cast if name][:CAST_SHOWN],
        )


class RateLimiter:
    """At most `per_second` requests a second, evenly spaced (a minimum interval), across threads.

    `pause(seconds)` holds every caller back, for a 429's Retry-After. Clock and sleep are injectable for tests.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.interval = 1.0 / per_second
        self._clock, self._sleep = clock, sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class TmdbClient:
    """GET requests to TMDB with the v4 read token (Bearer) or the v3 api_key, rate limited and retried.

    `tries` attempts for a 5xx answer, a timeout or a dropped connection (waiting `backoff` × 2^n between
    them) and for a 429 (waiting its Retry-After, at most RETRY_AFTER_MAX_SECONDS).
    """

    def __init__(
        self,
        *,
        api_key: str = "",
        read_token: str = "",
        base_url: str = "https://api.themoviedb.org/3",
        limiter: RateLimiter | None = None,
        timeout: float = 10.0,
        tries: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not (api_key or read_token):
            raise TmdbAuthError("TMDB is not configured: set TMDB_API_KEY or TMDB_READ_TOKEN")
        self.api_key, self.read_token = api_key, read_token
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or RateLimiter(20)
        self.timeout, self.tries, self.backoff, self._sleep = timeout, max(1, tries), backoff, sleep

    @classmethod
    def from_settings(cls, **overrides) -> TmdbClient:
        options = {
            "api_key": settings.TMDB_API_KEY,
            "read_token": settings.TMDB_READ_TOKEN,
            "base_url": settings.TMDB_API_URL,
            "limiter": RateLimiter(settings.TMDB_MAX_REQUESTS_PER_SECOND),
        }
        return cls(**(options | overrides))

    def movie(self, tmdb_id: int) -> TmdbMovie:
        """The movie's details and credits. Raises TmdbNotFound, TmdbAuthError, or TmdbError."""
        data = self.get(f"/movie/{int(tmdb_id)}", {"append_to_response": "credits"})
        try:
            return TmdbMovie.from_json(data)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise TmdbError(f"unexpected answer for movie {tmdb_id}: {error!r}") from error

    def get(self, path: str, params: dict[str, str] | None = None) -> dict:
        params = dict(params or {})
        headers = {"Accept": "application/json", "User-Agent": "MovieRec"}
        if self.read_token:
            headers["Authorization"] = f"Bearer {self.read_token}"
        else:
            params["api_key"] = self.api_key
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        last_problem = ""
        for attempt in range(1, self.tries + 1):
            self.limiter.wait()
            try:
                status, body, retry_after = self._send(url, headers)
            except (TimeoutError, ConnectionError, http.client.HTTPException, urllib.error.URLError) as e:
                status, body, retry_after = None, b"", None
                last_problem = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            if status is not None and status < 400:
                try:
                    data = json.loads(body)
                except ValueError as error:
                    raise TmdbError(f"{path}: answer is not JSON") from error
                if not isinstance(data, dict):
                    raise TmdbError(f"{path}: answer is not a JSON object")
                if data.get("success") is False:  # TMDB's error body, whatever the HTTP status said
                    self._raise_for_final(404 if data.get("status_code") == STATUS_NOT_FOUND else 400, body, path)
                return data
            if status is not None:
                last_problem = f"HTTP {status}"
                self._raise_for_final(status, body, path)
            if attempt == self.tries:
                break
            if status == 429:
                wait = retry_after if retry_after is not None else self.backoff * 2 ** (attempt - 1)
                self.limiter.pause(wait)  # every caller of this limiter, not only this one
                logger.info("TMDB rate limit (429) on %s: waiting %.1f s", path, wait)
            else:
                wait = self.backoff * 2 ** (attempt - 1)
                logger.info(
                    "TMDB %s on %s (try %d of %d): waiting %.1f s", last_problem, path, attempt, self.tries, wait
                )
                self._sleep(wait)
        raise TmdbError(f"{path}: {last_problem} after {self.tries} tries")

    def _send(self, url: str, headers: dict[str, str]) -> tuple[int, bytes, float | None]:
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, response.read(), None
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read(), _retry_after(error.headers.get("Retry-After"))

    @staticmethod
    def _raise_for_final(status: int, body: bytes, path: str) -> None:
        """Raise for answers that another try cannot change; return for 429 and 5xx (retried)."""
        if status == 429 or status >= 500:
            return
        message = ""
        try:
            payload = json.loads(body)
            message = payload.get("status_message", "") if isinstance(payload, dict) else ""
            code = payload.get("status_code") if isinstance(payload, dict) else None
        except ValueError:
            code = None
        if status == 401 or code == STATUS_INVALID_KEY:
            raise TmdbAuthError(
                f"TMDB refused the credentials (401{': ' + message if message else ''}); "
                "check TMDB_API_KEY (v3 key) or TMDB_READ_TOKEN (v4 read access token)"
            )
        if status == 404 or code == STATUS_NOT_FOUND:
            raise TmdbNotFound(f"{path}: not found on TMDB")
        raise TmdbError(f"{path}: HTTP {status}{': ' + message if message else ''}")


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (TMDB sends seconds), capped; None when absent or not a number."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return None if seconds is None else min(max(seconds, 0.0), RETRY_AFTER_MAX_SECONDS)
