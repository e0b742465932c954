"""Every page and endpoint a person or client uses, at ML-25M scale: one client, p50/p95 per page.

    .venv/bin/python bench/bench_pages.py --prepare          # once: data, a published run, the bench users
    .venv/bin/python bench/bench_pages.py [--repeat 40] [--only REGEX] [--markdown]

Goal: every page p95 <= 100 ms.

The database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/movierec_pages) is prepared once
by `--prepare`, each step skipped when already done:

1. the database itself when the server lacks it, migrations, and the synthetic ML-25M-shaped data set
   (`generate_movielens_synthetic --into-db`: 25M ratings, 162,541 users, 59,047 movies);
2. realistic titles: the synthetic movies are called "Synthetic Movie N", which no person searches for, so their
   titles are replaced with ml-latest-small's 9,742 titles in turn (each used about six times, as remakes and
   namesakes are; year kept), so "the", "love" and a rare word match as often as in a real catalogue;
3. a published run: `manage.py retrain --no-evaluate` with few iterations (page timing does not depend on model
   quality; the factors have the default ranks, which is what the fold-in's cost depends on);
4. `bench-staff`, a superuser, and the bench person: the synthetic rater with the number of ratings closest to
   3,000 (it is a MovieLens rater, logged in here by a session made for it), with 40 movies on their wishlist
   and 10 hidden.

Then gunicorn serves the project as `manage.py serve` starts it (DEBUG off, 2 workers x 4 gthread threads,
ops.gunicorn_conf), and one client sends each request `--repeat` times over one keep-alive HTTP connection,
after `--warmup` untimed requests (each worker loads its caches). Real HTTP, so the figure is what a browser
waits for on loopback: gunicorn, every middleware, the session or token, the database, the template. Every
response must be 200, or the bench stops.

Recommendations are timed twice: as people re-read them (the per-user result cache or the stored top-N) and
"after a change": before each timed request the bench hides or shows again one obscure movie for the user
(a real write through ratings.services; the database triggers bump the user's taste version), so every
request folds the user's 3,000 ratings in afresh, as the first view after rating something does.

Prints one row per page (p50, p95, max in ms, response size) and the load average before and after; the
machine may be shared, so the load average belongs with every figure.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_api import _free_port, process_tree_cpu_seconds, serve_environment, start_gunicorn  # noqa: E402

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/movierec_pages"
SMALL_MOVIES = ROOT / "data" / "ml-latest-small" / "movies.csv"
STAFF = "bench-staff"
TARGET_P95_MS = 100.0
HEAVY_RATINGS = 3000
WISHLIST_SIZE = 40
HIDDEN_SIZE = 10


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()


def _manage(*args: str) -> None:
    print("$ manage.py", " ".join(args), flush=True)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True, cwd=ROOT, env=os.environ.copy())


# --- Preparing the database -------------------------------------------------------------------------------


def _realistic_titles() -> int:
    """Give "Synthetic Movie N (year)" movies ml-latest-small's titles in turn, keeping their year."""
    import csv

    from django.db import connection, transaction
    from psycopg2.extras import execute_values

    from catalog.models import Movie
    from catalog.titles import split_year

    with SMALL_MOVIES.open(newline="", encoding="utf-8") as handle:
        names = [split_year(row["title"])[0] for row in csv.DictReader(handle)]
    ids = list(Movie.objects.filter(title__startswith="Synthetic Movie ").order_by("pk").values_list("pk", "year"))
    if not ids:
        return 0
    rows = [
        (pk, f"{names[i % len(names)]} ({year})" if year else names[i % len(names)]) for i, (pk, year) in enumerate(ids)
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE bench_titles (id integer PRIMARY KEY, title text) ON COMMIT DROP")
        execute_values(cursor.cursor, "INSERT INTO bench_titles (id, title) VALUES %s", rows, page_size=5000)
        cursor.execute("UPDATE catalog_movie m SET title = t.title FROM bench_titles t WHERE t.id = m.id")
    return len(rows)


def prepare(*, max_iter: int) -> None:
    from django.db import connection

    from accounts.models import User
    from catalog.models import Movie
    from movierec_site.database import database_create_if_missing
    from ratings.models import NotInterested, Rating, WishlistEntry
    from recommendations.models import TrainingRun

    if database_create_if_missing(connection.settings_dict):
        print(f"created database {connection.settings_dict['NAME']}")
    _manage("migrate", "-v0")
    if not Rating.objects.exists():
        _manage("generate_movielens_synthetic", "--into-db", "--no-progress")
    changed = _realistic_titles()
    if changed:
        print(f"gave {changed} movies ml-latest-small's titles")
    if not TrainingRun.objects.filter(is_active=True).exists():
        _manage("retrain", "--no-evaluate", "--max-iter", str(max_iter), "--list-max-iter", str(max_iter))
    staff, created = User.objects.get_or_create(
        username=STAFF, defaults={"is_staff": True, "is_superuser": True, "email": "staff@example.com"}
    )
    if created:
        staff.set_unusable_password()
        staff.save()
    person = _heavy_user()
    popular = list(Movie.objects.order_by("-rating_count").values_list("pk", flat=True)[:5000])
    rated = set(Rating.objects.filter(user=person).values_list("movie_id", flat=True))
    unrated = [pk for pk in popular if pk not in rated]
    if not WishlistEntry.objects.filter(user=person).exists():
        WishlistEntry.objects.bulk_create(WishlistEntry(user=person, movie_id=pk) for pk in unrated[:WISHLIST_SIZE])
    if not NotInterested.objects.filter(user=person).exists():
        NotInterested.objects.bulk_create(
            NotInterested(user=person, movie_id=pk) for pk in unrated[WISHLIST_SIZE : WISHLIST_SIZE + HIDDEN_SIZE]
        )
    # A bulk load leaves no statistics and no visibility map (index-only scans visit the heap) until autovacuum
    # gets there; a database in service has both.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"bench person: {person.username} (id {person.pk}), {len(rated)} ratings; staff: {STAFF}")


def _heavy_user():
    """The rater whose number of ratings is closest to HEAVY_RATINGS (the heaviest raters come first on ties)."""
    from django.db import connection

    from accounts.models import User

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT user_id FROM ratings_rating GROUP BY user_id
               ORDER BY abs(count(*) - %s), count(*) DESC LIMIT 1""",
            [HEAVY_RATINGS],
        )
        (user_id,) = cursor.fetchone()
    return User.objects.get(pk=user_id)


# --- The pages ----------------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    path: str
    who: str = "anon"  # anon | person | staff | token
    before_each: object = None  # a callable run (untimed) before every request
    group: str = ""


@dataclass
class Result:
    case: Case
    times_ms: list[float] = field(default_factory=list)
    size: int = 0
    failed: str = ""
    cpu_ms: float | None = None  # gunicorn's CPU per timed request (PostgreSQL's is not in it)

    def pct(self, q: float) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _rare_word() -> str:
    """A title word of 5+ letters that only a handful of titles contain."""
    from collections import Counter

    from catalog.models import Movie

    words = Counter()
    for title in Movie.objects.values_list("title", flat=True):
        words.update({w for w in re.findall(r"[a-z]{5,}", title.lower())})
    return min((w for w, n in words.items() if n >= 2), key=lambda w: (words[w], w))


def cases(person, movie_id: int, rare: str) -> list[Case]:
    from urllib.parse import quote

    from django.db.models import Max

    from catalog.models import Genre
    from ratings import services as rating_services
    from ratings.admin import RatingAdmin
    from recommendations.models import TrainingRun
    from recommendations.services import list_preference_set

    genre = Genre.objects.get(name="Comedy").name
    # Django's own filter for the field (before the fix) or the fixed-choices one.
    star_param = "value__exact" if "value" in RatingAdmin.list_filter else "value"
    run_id = TrainingRun.objects.filter(is_active=True).aggregate(top=Max("pk"))["top"]
    toggle_movie = {"id": None, "hidden": False}

    def change_taste() -> None:
        # Hide or show again one obscure movie: a real write whose trigger bumps the taste version.
        from catalog.models import Movie

        if toggle_movie["id"] is None:
            toggle_movie["id"] = Movie.objects.order_by("rating_count", "pk").values_list("pk", flat=True)[0]
        movie = Movie(pk=toggle_movie["id"])
        if toggle_movie["hidden"]:
            rating_services.not_interested_remove(user=person, movie=movie)
        else:
            rating_services.not_interested_add(user=person, movie=movie)
        toggle_movie["hidden"] = not toggle_movie["hidden"]

    def flavour(name: str):
        def set_flavour() -> None:
            list_preference_set(user=person, flavour=name)

        return set_flavour

    def flavour_then_change(name: str):
        def both() -> None:
            list_preference_set(user=person, flavour=name)
            change_taste()

        return both

    out = [
        Case("home (anonymous)", "/", group="site"),
        Case("browse, most rated", "/movies/", group="browse"),
        Case("browse, most rated, page 2", "/movies/?page=2", group="browse"),
        Case("browse, most rated, page 1000", "/movies/?page=1000", group="browse"),
    ]
    for sort in ("rating", "newest", "oldest", "title"):
        out.append(Case(f"browse, sort {sort}", f"/movies/?sort={sort}", group="browse"))
    out += [
        Case("browse, genre Comedy", f"/movies/?genre={genre}", group="browse"),
        Case("browse, decade 1990s", "/movies/?decade=1990", group="browse"),
        Case("browse, at least 100 ratings", "/movies/?min_ratings=100", group="browse"),
        Case("browse, Comedy 1990s by average", f"/movies/?genre={genre}&decade=1990&sort=rating", group="browse"),
        Case("browse, signed in", "/movies/", who="person", group="browse"),
        Case('search "the"', "/movies/?q=the", group="search"),
        Case('search "love"', "/movies/?q=love", group="search"),
        Case(f'search "{rare}" (rare)', f"/movies/?q={quote(rare)}", group="search"),
        Case('search "the", sort by title', "/movies/?q=the&sort=title", group="search"),
        Case('search "love", Comedy', f"/movies/?q=love&genre={genre}", group="search"),
        Case("movie page, most rated (anonymous)", f"/movies/{movie_id}/", group="movie"),
        Case("movie page, most rated (signed in)", f"/movies/{movie_id}/", who="person", group="movie"),
        Case("my ratings (3,000), newest", "/ratings/", who="person", group="mine"),
        Case("my ratings, page 30", "/ratings/?page=30", who="person", group="mine"),
        Case("my ratings, by title", "/ratings/?sort=title", who="person", group="mine"),
        Case("my ratings, highest", "/ratings/?sort=value", who="person", group="mine"),
        Case("wishlist (40)", "/wishlist/", who="person", group="mine"),
        Case("hidden movies", "/hidden/", who="person", group="mine"),
    ]
    for name in ("top_picks", "different", "hidden_gems", "genre_mix"):
        out.append(
            Case(
                f"recommendations page, {name}",
                "/recommendations/",
                who="person",
                before_each=flavour(name),
                group="recs",
            )
        )
    out += [
        Case(
            "recommendations page, Comedy",
            f"/recommendations/?genre={genre}",
            who="person",
            before_each=flavour("top_picks"),
            group="recs",
        ),  # fmt: skip
        Case(
            "recommendations page, min 1000 ratings",
            "/recommendations/?min_ratings=1000",
            who="person",
            before_each=flavour("top_picks"),
            group="recs",
        ),  # fmt: skip
    ]
    for name in ("top_picks", "different", "hidden_gems", "genre_mix"):
        out.append(
            Case(
                f"recommendations page after a change, {name}",
                "/recommendations/",
                who="person",
                before_each=flavour_then_change(name),
                group="recs-fresh",
            )  # fmt: skip
        )
    out.append(
        Case(
            "recommendations page after a change, Comedy",
            f"/recommendations/?genre={genre}",
            who="person",
            before_each=flavour_then_change("top_picks"),
            group="recs-fresh",
        )  # fmt: skip
    )
    api_recs = "/api/v1/me/recommendations/"
    for query in ("", f"?genre={genre}", "?flavour=different", "?flavour=hidden_gems", "?flavour=genre_mix", "?n=50"):
        out.append(Case(f"API recommendations {query or '(default)'}", api_recs + query, who="token", group="api-recs"))
    for query in ("", f"?genre={genre}", "?flavour=different", "?flavour=genre_mix"):
        out.append(
            Case(
                f"API recommendations after a change {query or '(default)'}",
                api_recs + query,
                who="token",
                before_each=change_taste,
                group="api-recs-fresh",
            )  # fmt: skip
        )
    out += [
        Case("API movies", "/api/v1/movies/", who="token", group="api"),
        Case("API movies, page 100", "/api/v1/movies/?page=100", who="token", group="api"),
        Case("API movies ?search=the", "/api/v1/movies/?search=the", who="token", group="api"),
        Case("API movies ?search=love", "/api/v1/movies/?search=love", who="token", group="api"),
        Case(f"API movies ?search={rare}", f"/api/v1/movies/?search={quote(rare)}", who="token", group="api"),
        Case("API movies ?sort=rating", "/api/v1/movies/?sort=rating", who="token", group="api"),
        Case("API movies ?genre=Comedy", f"/api/v1/movies/?genre={genre}", who="token", group="api"),
        Case("API movies ?new=true", "/api/v1/movies/?new=true", who="token", group="api"),
        Case("API movie detail, most rated", f"/api/v1/movies/{movie_id}/", who="token", group="api"),
        Case("API similar movies", f"/api/v1/movies/{movie_id}/similar/", who="token", group="api"),
        Case("API my ratings", "/api/v1/me/ratings/", who="token", group="api"),
        Case("API prediction", f"/api/v1/me/predictions/{movie_id}/", who="token", group="api"),
        Case("API training runs (staff)", "/api/v1/training-runs/", who="staff", group="api"),
        Case("staff page", "/staff/training-runs/", who="staff", group="staff"),
        Case("admin index", "/admin/", who="staff", group="admin"),
        Case("admin movies", "/admin/catalog/movie/", who="staff", group="admin"),
        Case("admin movies, search love", "/admin/catalog/movie/?q=love", who="staff", group="admin"),
        Case("admin movies, genre filter", "/admin/catalog/movie/?genres__id__exact=1", who="staff", group="admin"),
        Case("admin movie change form", f"/admin/catalog/movie/{movie_id}/change/", who="staff", group="admin"),
        Case("admin ratings", "/admin/ratings/rating/", who="staff", group="admin"),
        Case("admin ratings, page 1000", "/admin/ratings/rating/?p=1000", who="staff", group="admin"),
        Case(
            "admin ratings, search user",
            f"/admin/ratings/rating/?q={quote(person.username)}",
            who="staff",
            group="admin",
        ),  # fmt: skip
        Case("admin ratings, search movie", f"/admin/ratings/rating/?q={movie_id}", who="staff", group="admin"),
        Case("admin ratings, 5 stars", f"/admin/ratings/rating/?{star_param}=5.0", who="staff", group="admin"),
        Case("admin users", "/admin/accounts/user/", who="staff", group="admin"),
        Case("admin users, search", f"/admin/accounts/user/?q={quote(person.username)}", who="staff", group="admin"),
        Case("admin users, MovieLens raters", "/admin/accounts/user/?kind=movielens", who="staff", group="admin"),
        Case("admin user change form", f"/admin/accounts/user/{person.pk}/change/", who="staff", group="admin"),
        Case("admin training runs", "/admin/recommendations/trainingrun/", who="staff", group="admin"),
        Case(
            "admin training runs, succeeded",
            "/admin/recommendations/trainingrun/?status__exact=succeeded",
            who="staff",
            group="admin",
        ),  # fmt: skip
        Case("admin training run", f"/admin/recommendations/trainingrun/{run_id}/change/", who="staff", group="admin"),
    ]
    return out


def _session_cookie(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def run(args) -> int:
    import requests
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from catalog.models import Movie
    from recommendations.models import TrainingRun

    if not TrainingRun.objects.filter(is_active=True).exists():
        sys.exit("No active training run: run with --prepare first.")
    person = _heavy_user()
    staff = User.objects.get(username=STAFF)
    movie_id = Movie.objects.order_by("-rating_count", "pk").values_list("pk", flat=True)[0]
    rare = _rare_word()
    all_cases = cases(person, movie_id, rare)
    if args.only:
        all_cases = [c for c in all_cases if re.search(args.only, c.name)]
    cookies = {"person": _session_cookie(person), "staff": _session_cookie(staff)}
    token = Token.objects.get_or_create(user=person)[0].key
    staff_token = Token.objects.get_or_create(user=staff)[0].key

    # The same secret as this process, which signed the sessions.
    serve_env = serve_environment(os.environ["DATABASE_URL"], secret_key=os.environ["SECRET_KEY"])
    # As `manage.py serve` does with DEBUG off: the pages name their static files by the manifest.
    subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v0"], check=True, env=serve_env
    )
    port = _free_port()
    server = start_gunicorn(port, serve_env, workers=args.workers, threads=args.threads)
    base = f"http://127.0.0.1:{port}"
    sessions = {}
    for who in ("anon", "person", "staff", "token"):
        s = requests.Session()
        if who in cookies:
            s.cookies.set("sessionid", cookies[who], domain="127.0.0.1")
        if who == "token":
            s.headers["Authorization"] = f"Token {token}"
            s.headers["Accept"] = "application/json"
        sessions[who] = s
    # The staff API case goes with the staff token (the session would serve the browsable API's HTML).
    staff_api = requests.Session()
    staff_api.headers.update({"Authorization": f"Token {staff_token}", "Accept": "application/json"})
    results: list[Result] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                sys.exit("gunicorn did not come up")
            time.sleep(0.3)
        load_before = os.getloadavg()
        print(
            f"bench person {person.username} (id {person.pk}); most-rated movie {movie_id}; rare word {rare!r}; "
            f"gunicorn {args.workers}x{args.threads}; {args.warmup} warm-up + {args.repeat} timed requests per page; "
            f"load {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}",
            flush=True,
        )
        for case in all_cases:
            session = staff_api if case.who == "staff" and case.path.startswith("/api/") else sessions[case.who]
            result = Result(case)
            page_started = time.monotonic()
            cpu_before, served = None, 0
            for i in range(args.warmup + args.repeat):
                if len(result.times_ms) >= 3 and time.monotonic() - page_started > args.max_seconds:
                    break  # a page taking seconds: a few samples tell enough
                if case.before_each is not None:
                    case.before_each()
                if i == args.warmup:
                    cpu_before = process_tree_cpu_seconds(server.pid)
                started = time.perf_counter()
                try:
                    response = session.get(base + case.path, allow_redirects=False, timeout=60)
                except requests.RequestException as exc:  # gunicorn's 30 s timeout killed the worker
                    result.failed = f"no answer after {time.perf_counter() - started:.0f} s ({type(exc).__name__})"
                    break
                body = response.content
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code >= 500:
                    result.failed = f"{response.status_code} after {elapsed / 1000:.1f} s"
                    break
                if response.status_code != 200:
                    sys.exit(f"{case.name}: {case.path} answered {response.status_code}: {body[:300]!r}")
                if i >= args.warmup or (elapsed > args.max_seconds * 1000 / 4 and not result.times_ms):
                    result.times_ms.append(elapsed)  # a page of seconds: its warm-up counts too
                result.size = len(body)
                served += i >= args.warmup
            if cpu_before is not None and result.times_ms:
                result.cpu_ms = (process_tree_cpu_seconds(server.pid) - cpu_before) * 1000 / max(served, 1)
            results.append(result)
            if not result.times_ms:
                print(f"{case.name:55s} FAILED: {result.failed}", flush=True)
                continue
            mark = "" if result.pct(95) <= TARGET_P95_MS else "  <-- over"
            if result.failed:
                mark += f"  (then {result.failed})"
            print(
                f"{case.name:55s} p50 {result.pct(50):7.1f}  p95 {result.pct(95):7.1f}  "
                f"max {max(result.times_ms):7.1f} ms  cpu {result.cpu_ms or float('nan'):6.1f}"
                f"  {result.size / 1024:6.1f} KiB{mark}",
                flush=True,
            )
        load_after = os.getloadavg()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    over = [r for r in results if not r.times_ms or r.pct(95) > TARGET_P95_MS]
    print(
        f"\n{len(results)} pages; {len(over)} over p95 {TARGET_P95_MS:.0f} ms; load average before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}"
    )
    if args.markdown:
        print("\n| page | path | p50 ms | p95 ms | gunicorn CPU ms |\n|---|---|---|---|---|")
        for r in results:
            if r.times_ms:
                cpu = f"{r.cpu_ms:.1f}" if r.cpu_ms is not None else "–"
                print(f"| {r.case.name} | `{r.case.path}` | {r.pct(50):.1f} | {r.pct(95):.1f} | {cpu} |")
            else:
                print(f"| {r.case.name} | `{r.case.path}` | failed: {r.failed} | |")
    timed = [r for r in results if r.times_ms]
    if timed:
        print(f"median of medians {statistics.median(r.pct(50) for r in timed):.1f} ms")
    return 1 if over else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--prepare", action="store_true", help="Load data, publish a run, make the bench users.")
    parser.add_argument("--max-iter", type=int, default=3, help="--prepare: ALS iterations of the quick retrain.")
    parser.add_argument("--repeat", type=int, default=40, help="Timed requests per page.")
    parser.add_argument("--warmup", type=int, default=3, help="Untimed requests per page first.")
    parser.add_argument(
        "--max-seconds", type=float, default=20.0, help="Stop timing a page after this long (3 samples at least)."
    )
    parser.add_argument("--only", help="Only pages whose name matches this regular expression.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--markdown", action="store_true", help="Also print the table as Markdown.")
    args = parser.parse_args()
    _setup_django(args.database_url)
    if args.prepare:
        prepare(max_iter=args.max_iter)
        return
    sys.exit(run(args))


if __name__ == "__main__":
    main()
