"""CPU of rendering one page in-process, and where it goes (cProfile): for pages whose time is template rendering.

    .venv/bin/python bench/profile_page.py /recommendations/            # CPU ms per request, signed in
    .venv/bin/python bench/profile_page.py /wishlist/ --profile tottime  # and the top functions

Production settings (DEBUG off: cached template loaders, manifest static files; run `collectstatic` first) on the
database of BENCH_DATABASE_URL (default: DATABASE_URL), signed in as the rater with the most ratings (on
ml-latest-small: 2,698, near bench_pages.py's person of 3,000), through Django's test client: no HTTP, no gunicorn,
so the figure is the view, the middleware and the template, and is less moved by other jobs than a latency. The
process CPU time (time.process_time) includes the client's own small part; compare figures from this script only.
"""

import argparse
import cProfile
import os
import pstats
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="the page, e.g. /recommendations/")
    parser.add_argument("--repeat", type=int, default=30, help="timed requests (after 3 untimed)")
    parser.add_argument("--anonymous", action="store_true", help="do not sign in")
    parser.add_argument("--user", help="sign in as this user instead (e.g. bench-staff, for the admin pages)")
    parser.add_argument("--profile", metavar="SORT", help="also profile: cProfile sort key (tottime, cumulative)")
    parser.add_argument("--lines", type=int, default=35, help="profile lines shown")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not database_url:
        sys.exit("Set BENCH_DATABASE_URL or DATABASE_URL to a database with data and a published run.")
    os.environ.update(
        DATABASE_URL=database_url, DEBUG="0", SECURE_SSL_REDIRECT="0", ALLOWED_HOSTS="testserver", LOG_LEVEL="WARNING"
    )
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(64))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from accounts.models import User

    client = Client()
    if args.user:
        client.force_login(User.objects.get(username=args.user))
    elif not args.anonymous:
        with connection.cursor() as cursor:
            cursor.execute("SELECT user_id FROM ratings_rating GROUP BY user_id ORDER BY count(*) DESC LIMIT 1")
            (user_id,) = cursor.fetchone()
        client.force_login(User.objects.get(pk=user_id))
    for _ in range(3):
        response = client.get(args.path)
        if response.status_code != 200:
            sys.exit(f"{args.path} answered {response.status_code}")
    started = time.process_time()
    for _ in range(args.repeat):
        client.get(args.path)
    cpu_ms = (time.process_time() - started) * 1000 / args.repeat
    load = os.getloadavg()
    print(f"{args.path}: {cpu_ms:.1f} ms CPU per request ({args.repeat} requests, load {load[0]:.2f})")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.repeat):
            client.get(args.path)
        profiler.disable()
        pstats.Stats(profiler).sort_stats(args.profile).print_stats(args.lines)


if __name__ == "__main__":
    main()
