"""End-to-end audit on every MovieLens release format (generated, never downloaded).

    DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/movierec_x .venv/bin/python bench/bench_releases.py \
        [--out /tmp/releases] [--only ml-1m,ml-25m] [--zip] [--no-retrain]

For each release of tests/fixtures/movielens_releases.py: a fresh database (a copy of DATABASE_URL's
database migrated once as a template), `manage.py import_movielens` on the folder (or the zip, as
people download it), `manage.py retrain`, `manage.py evaluate --ranks 4`, then every page and API
endpoint through Django's test client (home, browse sorts and filters, search, movie pages of the
awkward titles, an imported rater's recommendations, the staff page, every admin list, the API with
a token), checking status codes and content: titles as people read them ("The Matrix (1999)"), years,
genres, no mojibake. Finally ml-latest-small-v2 is imported over ml-latest-small and the summary must
name what changed. Prints one line per (release, step): ok or what went wrong.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fixtures.movielens_releases import SPECS, write_all  # noqa: E402

MOJIBAKE = re.compile("Ã.|Â.|â€|ï»¿|\ufffd")


def psql(admin_url: str, sql: str) -> None:
    subprocess.run(["psql", admin_url, "-q", "-c", sql], check=True, capture_output=True)


def manage(env: dict, *args: str) -> tuple[int, str, float]:
    started = time.monotonic()
    done = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def check_site(env: dict) -> list[str]:
    """Run the page checks in a child process on env's database; returns the problems found."""
    done = subprocess.run(
        [str(ROOT / ".venv/bin/python"), __file__, "--check-site"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        return [f"site check crashed: {done.stderr[-2000:]}"]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _site_problems() -> list[str]:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    django.setup()
    from django.contrib import admin
    from django.test import Client
    from django.urls import reverse
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from catalog.models import Genre, Movie

    problems: list[str] = []

    def get(client: Client, url: str, *, expect: int | tuple[int, ...] = 200, **headers) -> str:
        response = client.get(url, headers=headers)
        body = response.content.decode("utf-8", errors="replace") if hasattr(response, "content") else ""
        if response.status_code not in (expect if isinstance(expect, tuple) else (expect,)):
            problems.append(f"GET {url}: {response.status_code} (expected {expect}) {body[:160]!r}")
        if MOJIBAKE.search(body):
            problems.append(f"GET {url}: mojibake {MOJIBAKE.search(body).group()!r} in the page")
        return body

    anonymous = Client(HTTP_HOST="localhost")
    home = get(anonymous, "/")
    browse = get(anonymous, "/movies/")
    for sort in ("popular", "rating", "newest", "oldest", "title"):
        get(anonymous, f"/movies/?sort={sort}")
    genre = Genre.objects.order_by("-movie_count").first()
    if genre is not None:
        get(anonymous, f"/movies/?genre={genre.pk}&sort=rating&min_ratings=1")
    get(anonymous, "/movies/?decade=1990&sort=oldest")
    matrix = Movie.objects.filter(title="Matrix, The (1999)").first()
    if matrix is None:
        problems.append("no movie 'Matrix, The (1999)' imported")
    else:
        page = get(anonymous, f"/movies/{matrix.pk}/")
        if "The Matrix" not in page or "1999" not in page:
            problems.append("movie page of Matrix, The (1999) does not read 'The Matrix' and 1999")
        found = get(anonymous, "/movies/?q=the+matrix")
        if f"/movies/{matrix.pk}/" not in found:
            problems.append("search 'the matrix' does not find The Matrix")
    for title in ("Misérables, Les (1995)", "Death Note: Desu nôto (2006–2007)", "Your Name. (君の名は。) (2016)"):
        movie = Movie.objects.filter(title=title).first()
        if movie is None:
            continue
        page = get(anonymous, f"/movies/{movie.pk}/")
        main = title.split(" (")[0].split(",")[0]
        if main not in page:
            problems.append(f"movie page of {title!r} does not show {main!r}")
        if movie.year is None:
            problems.append(f"{title!r} has no year")
    search = get(anonymous, "/movies/?q=miserables")
    if Movie.objects.filter(title="Misérables, Les (1995)").exists() and "Misérables" not in search:
        problems.append("search 'miserables' does not find Les Misérables")
    no_genres = Movie.objects.filter(genres__isnull=True).exclude(title="unknown").first()
    if no_genres is not None:
        get(anonymous, f"/movies/{no_genres.pk}/")
    if "/movies/" not in home or "/movies/" not in browse:
        problems.append("the home page or browse lists no movie")

    # An imported rater (they cannot log in with a password; the session is forced as an admin would).
    rater = User.objects.filter(movielens_id__isnull=False).order_by("movielens_id").first()
    person = Client(HTTP_HOST="localhost")
    person.force_login(rater)
    recs = get(person, "/recommendations/")
    if "/movies/" not in recs:
        problems.append("an imported rater's recommendations page lists no movie")
    get(person, "/", expect=302)  # signed in: the home page is the recommendations
    for url in ("/ratings/", "/ratings/about/", "/accounts/data/", "/wishlist/", "/groups/", "/welcome/"):
        get(person, url)
    token, _ = Token.objects.get_or_create(user=rater)
    auth = {"Authorization": f"Token {token.key}"}
    api = Client(HTTP_HOST="localhost")
    for url in (
        "/api/v1/",
        "/api/v1/me/",
        "/api/v1/genres/",
        "/api/v1/movies/",
        "/api/v1/movies/?search=matrix",
        "/api/v1/me/ratings/",
        "/api/v1/me/recommendations/",
        "/api/v1/groups/",
    ):
        body = get(api, url, Accept="application/json", **auth)
        if url == "/api/v1/me/recommendations/" and '"movie"' not in body and '"id"' not in body:
            problems.append(f"GET {url}: no recommendations in {body[:200]!r}")
    for each in Genre.objects.filter(movie_count__gt=0):
        body = get(api, f"/api/v1/movies/?genre={quote(each.name)}", **auth)
        if '"count":0' in body.replace(" ", ""):
            problems.append(f"API: no movie of genre {each.name!r}")
        get(anonymous, f"/movies/?genre={each.pk}")
    for sort in ("popular", "rating", "newest", "oldest", "title"):
        get(api, f"/api/v1/movies/?sort={sort}&decade=1990", **auth)
    get(api, "/api/schema/")
    get(api, "/api/docs/")
    if matrix is not None:
        body = get(api, f"/api/v1/movies/{matrix.pk}/", **auth)
        if "Matrix" not in body:
            problems.append("API movie detail of The Matrix has no title")
        get(api, f"/api/v1/movies/{matrix.pk}/similar/", **auth)
        get(api, f"/api/v1/me/predictions/{matrix.pk}/", **auth)
    get(api, f"/api/v1/users/{rater.pk}/recommendations/", **auth)
    other = User.objects.filter(movielens_id__isnull=False).exclude(pk=rater.pk).first()
    get(api, f"/api/v1/users/{other.pk}/recommendations/", expect=(403, 404), **auth)
    get(api, "/api/v1/training-runs/", expect=403, **auth)
    get(api, "/api/v1/me/", expect=401)

    User.objects.filter(username="audit-staff").delete()
    staff = User.objects.create_superuser("audit-staff", "staff@example.org", "audit-password-1234")
    admin_client = Client(HTTP_HOST="localhost")
    admin_client.force_login(staff)
    get(admin_client, "/staff/training-runs/")
    staff_token, _ = Token.objects.get_or_create(user=staff)
    staff_auth = {"Authorization": f"Token {staff_token.key}"}
    get(api, "/api/v1/training-runs/", **staff_auth)
    get(api, "/api/v1/training-runs/1/", **staff_auth)
    get(api, f"/api/v1/users/{other.pk}/recommendations/", **staff_auth)
    get(admin_client, "/admin/")
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        get(admin_client, url)
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            get(admin_client, reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk]))
    if matrix is not None:
        get(admin_client, "/admin/catalog/movie/?q=matrix")
    staff.delete()
    return problems


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=Path("/tmp/movielens-releases"))
    parser.add_argument("--only", default="", help="comma-separated release names")
    parser.add_argument("--zip", action="store_true", help="import the zips instead of the folders")
    parser.add_argument("--no-retrain", action="store_true")
    parser.add_argument("--check-site", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.check_site:
        print(json.dumps(_site_problems()))
        return
    database_url = os.environ["DATABASE_URL"]
    parts = urlsplit(database_url)
    base = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    template = f"{base}_tpl"
    psql(admin_url, f"DROP DATABASE IF EXISTS {template}")
    psql(admin_url, f"CREATE DATABASE {template}")
    env = {**os.environ, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{template}"))}
    code, out, _ = manage(env, "migrate", "-v0")
    assert code == 0, out
    written = write_all(args.out, zips=True)
    names = [s.name for s in SPECS if not args.only or s.name in args.only.split(",")]
    print(f"load at start: {os.getloadavg()[0]:.1f}", flush=True)
    for name in names:
        target = written[f"{name}.zip"] if args.zip else written[name]
        database = f"{base}_{name.replace('-', '_')}"
        psql(admin_url, f"DROP DATABASE IF EXISTS {database}")
        psql(admin_url, f"CREATE DATABASE {database} TEMPLATE {template}")
        env = {**os.environ, "DATABASE_URL": urlunsplit(parts._replace(path=f"/{database}"))}
        steps = [("import", ("import_movielens", str(target), "--no-progress"))]
        if not args.no_retrain:
            steps += [("retrain", ("retrain",)), ("evaluate", ("evaluate", "--ranks", "4"))]
        for step, command in steps:
            code, out, seconds = manage(env, *command)
            tail = " | ".join(line for line in out.splitlines()[-3:] if line.strip())
            print(f"{name:<16} {step:<9} {'ok' if code == 0 else 'FAILED'} {seconds:6.1f}s  {tail[:300]}", flush=True)
            if code:
                print(out[-3000:])
                break
        else:
            problems = check_site(env)
            print(f"{name:<16} {'pages':<9} {'ok' if not problems else 'FAILED'} {len(problems)} problem(s)")
            for problem in problems:
                print(f"    {problem}")
        if name == "ml-latest-small":
            code, out, seconds = manage(env, "import_movielens", str(written["ml-latest-small-v2"]), "--no-progress")
            print(f"{name:<16} {'reimport':<9} {'ok' if code == 0 else 'FAILED'} {seconds:6.1f}s\n{out}", flush=True)
    print(f"load at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
