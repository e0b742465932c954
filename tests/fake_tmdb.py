"""A local stand-in for TMDB's API v3: a real HTTP server on 127.0.0.1 answering with TMDB's documented shapes.

Tests script answers per path (`server.script("/3/movie/862", [answer, ...])`: one per request, the last
repeated); unscripted movie paths get 404 with status_code 34. Every request is recorded with its time.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


def movie_json(tmdb_id: int = 862, **overrides) -> dict:
    """GET /movie/{id}?append_to_response=credits, trimmed to the fields MovieRec reads (plus a few it ignores)."""
    data = {
        "adult": False,
        "id": tmdb_id,
        "imdb_id": "tt0114709",
        "title": "Toy Story",
        "original_title": "Toy Story",
        "overview": "Led by Woody, Andy's toys live happily in his room until Andy's birthday brings Buzz Lightyear.",
        "poster_path": "/uXDfjJbdP4ijW5hWSBrPrlKpxab.jpg",
        "release_date": "1995-10-30",
        "runtime": 81,
        "genres": [{"id": 16, "name": "Animation"}],
        "credits": {
            "cast": [
                {"id": 31, "name": "Tom Hanks", "character": "Woody (voice)", "order": 0},
                {"id": 12898, "name": "Tim Allen", "character": "Buzz Lightyear (voice)", "order": 1},
                {"id": 2106, "name": "Wallace Shawn", "character": "Rex (voice)", "order": 3},
                {"id": 7167, "name": "Don Rickles", "character": "Mr. Potato Head (voice)", "order": 2},
                {"id": 12899, "name": "John Ratzenberger", "character": "Hamm (voice)", "order": 5},
                {"id": 12900, "name": "Jim Varney", "character": "Slinky Dog (voice)", "order": 4},
                {"id": 7907, "name": "Annie Potts", "character": "Bo Peep (voice)", "order": 6},
            ],
            "crew": [
                {"id": 7879, "name": "John Lasseter", "job": "Director", "department": "Directing"},
                {"id": 7, "name": "Andrew Stanton", "job": "Screenplay", "department": "Writing"},
                {"id": 7879, "name": "John Lasseter", "job": "Director", "department": "Directing"},
                {"id": 12, "name": "Lee Unkrich", "job": "Director", "department": "Directing"},
            ],
        },
    }
    return data | overrides


NOT_FOUND = (
    404,
    {},
    {"success": False, "status_code": 34, "status_message": "The resource you requested could not be found."},
)
UNAUTHORIZED = (
    401,
    {},
    {"success": False, "status_code": 7, "status_message": "Invalid API key: You must be granted a valid key."},
)
RATE_LIMITED = (
    429,
    {"Retry-After": "1"},
    {
        "success": False,
        "status_code": 25,
        "status_message": "Your request count (#) is over the allowed limit of (40).",
    },
)
SERVER_ERROR = (
    500,
    {},
    {"success": False, "status_code": 11, "status_message": "Internal error: Something went wrong, contact TMDB."},
)


def ok(tmdb_id: int = 862, **overrides) -> tuple[int, dict, dict]:
    return (200, {}, movie_json(tmdb_id, **overrides))


@dataclass
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float


@dataclass
class FakeTmdb:
    url: str = ""
    requests: list[Request] = field(default_factory=list)
    answers: dict[str, list] = field(default_factory=dict)
    # Seconds to wait before answering the next n requests (to time the client out).
    stall: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, path: str, answers: list) -> None:
        with self.lock:
            self.answers[path] = list(answers)

    def movie(self, tmdb_id: int, *answers) -> None:
        self.script(f"/3/movie/{tmdb_id}", list(answers) or [ok(tmdb_id)])

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def answer(self, path: str):
        with self.lock:
            queue = self.answers.get(path)
            if not queue:
                return NOT_FOUND
            return queue.pop(0) if len(queue) > 1 else queue[0]


def _handler(server: FakeTmdb):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server API
            parts = urlsplit(self.path)
            with server.lock:
                server.requests.append(Request(parts.path, parse_qs(parts.query), dict(self.headers), time.monotonic()))
                delay = server.stall.pop(0) if server.stall else 0.0
            if delay:
                time.sleep(delay)
            status, headers, body = server.answer(parts.path)
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                pass

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def fake_tmdb():
    server = FakeTmdb()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}/3"
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def tmdb_on(settings, fake_tmdb):
    """TMDB configured with a v3 key, pointing at the fake server, unthrottled."""
    settings.TMDB_API_KEY = "test-api-key"
    settings.TMDB_READ_TOKEN = ""
    settings.TMDB_API_URL = fake_tmdb.url
    settings.TMDB_MAX_REQUESTS_PER_SECOND = 1000
    return fake_tmdb
