"""Two gunicorn instances, as `manage.py serve` starts them, behind one database and one Redis cache (issue 16).

Production settings (DEBUG off) with CACHE_URL on a Redis of the test's own: the API throttle counts a
user's requests across both instances, a list folded in by one is served from the cache by the other, and a
rating made through one changes the very next list the other serves. Real processes, real HTTP.
"""

import json
import os
import secrets
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from ops.management.commands.serve import gunicorn_command
from tests.factories import UserFactory, make_active_run, two_taste_catalogue
from tests.ops.conftest import ROOT, subprocess_env
from tests.redis_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

THROTTLE = 12  # requests per minute per user, across the whole site


def _request(base: str, path: str, *, token: str | None = None, method: str = "GET", body=None):
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _foldins(base: str) -> float:
    """How many fold-ins this instance computed (its workers' Prometheus histogram, summed)."""
    status, text = _request(base, "/metrics")
    assert status == 200, text[:500]
    for line in text.decode().splitlines():
        if line.startswith("movierec_foldin_duration_seconds_count"):
            return float(line.split()[-1])
    return 0.0


@pytest.fixture
def two_instances(redis_server, tmp_path):
    redis_server.client(1).flushdb()
    instances, processes = [], []
    for name in ("a", "b"):
        port = free_port()
        env = subprocess_env(
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(64),
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            LOG_LEVEL="WARNING",
            CACHE_URL=redis_server.url(1),
            API_THROTTLE_USER=f"{THROTTLE}/minute",
            PROMETHEUS_MULTIPROC_DIR=str(tmp_path / f"prometheus-{name}"),
            OPENBLAS_NUM_THREADS="1",
            OMP_NUM_THREADS="1",
            MKL_NUM_THREADS="1",
        )
        env.pop("DJANGO_SETTINGS_MODULE", None)
        log = (tmp_path / f"gunicorn-{name}.log").open("w")
        processes.append(
            subprocess.Popen(
                gunicorn_command(f"127.0.0.1:{port}"),
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        instances.append(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 90
        for base, process in zip(instances, processes, strict=True):
            while True:
                assert process.poll() is None, "gunicorn exited: see its log in " + str(tmp_path)
                try:
                    if _request(base, "/healthz")[0] == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield instances
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _items(body) -> list[tuple]:
    """A list as served, without the host in its links (each instance names itself)."""
    return [
        (r["rank"], r["movie"]["id"], r["predicted_rating"], (r["because"] or {}).get("id"), r["explanation"])
        for r in body["results"]
    ]


def _token(user) -> str:
    return Token.objects.create(user=user).key


def test_the_api_throttle_counts_a_users_requests_over_both_instances(two_instances):
    a, b = two_instances
    token = _token(UserFactory(username="hasty"))
    statuses = [_request((a, b)[i % 2], "/api/v1/me/", token=token)[0] for i in range(THROTTLE)]
    assert statuses == [200] * THROTTLE
    # Each instance saw only half of them (and each of its workers fewer): only a shared count says "enough".
    assert _request(a, "/api/v1/me/", token=token)[0] == 429
    assert _request(b, "/api/v1/me/", token=token)[0] == 429


def test_a_list_and_a_rating_through_one_instance_are_seen_at_once_through_the_other(two_instances, redis_server):
    a, b = two_instances
    catalogue = two_taste_catalogue()
    comedies, dramas = catalogue["comedies"], catalogue["dramas"]
    run = make_active_run(catalogue["factors"])
    alice = UserFactory(username="alice")
    token = _token(alice)

    status, _ = _request(
        a, "/api/v1/me/ratings/", token=token, method="POST", body={"movie": comedies[0].pk, "value": 5}
    )
    assert status == 201
    status, body = _request(a, "/api/v1/me/recommendations/", token=token)
    assert status == 200
    listed_by_a = json.loads(body)
    assert listed_by_a["personal"] and listed_by_a["run"] == run.pk
    assert [r["movie"]["id"] for r in listed_by_a["results"][:5]] == [m.pk for m in comedies[1:6]]
    assert _foldins(a) == 1 and _foldins(b) == 0
    assert redis_server.client(1).keys(f"*fresh-recs:{run.pk}:{alice.pk}:*")  # in the shared cache

    # B serves the list A folded in, from the shared cache: the same answer, and B folds nothing in.
    status, body = _request(b, "/api/v1/me/recommendations/", token=token)
    assert status == 200 and _items(json.loads(body)) == _items(listed_by_a)
    assert _foldins(b) == 0

    # A change of heart through B; A's very next answer follows it.
    assert (
        _request(b, f"/api/v1/me/ratings/{comedies[0].pk}/", token=token, method="PUT", body={"value": 0.5})[0] == 200
    )
    assert (
        _request(b, "/api/v1/me/ratings/", token=token, method="POST", body={"movie": dramas[0].pk, "value": 5})[0]
        == 201
    )
    status, body = _request(a, "/api/v1/me/recommendations/", token=token)
    assert status == 200
    assert [r["movie"]["id"] for r in json.loads(body)["results"][:5]] == [m.pk for m in dramas[1:6]]
    status, body = _request(a, f"/api/v1/me/ratings/{comedies[0].pk}/", token=token)
    assert status == 200 and float(json.loads(body)["value"]) == 0.5
