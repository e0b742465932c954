"""From "Save" in the admin's add-movie form to the movie in a matching person's recommendations, in process.

    .venv/bin/python bench/bench_new_movie.py [--like "Toy Story (1995)"] [--repeat 5] [--n 50]

Needs a database (DATABASE_URL) with an active two-model run that has a content map (`make run`, or
import_movielens + retrain). Django's test client drives the real views in this process, one BLAS thread as a web
worker: the admin POSTs a new movie with the genres and year of `--like`, then the person whose list-model factors
score the new movie's content prior highest asks for their recommendations (GET
/api/v1/me/recommendations/?n=N[&genre=G]). Times the POST, that first request (which finds the new movie, reads its
content, solves its prior and appends it to the run's factors: no retrain), and a repeat of it (cached); prints the
movie's place and its `new` flag. Then three people rate it and the item fold-in is timed as the site runs it after
a rating (recommendations.cold_items.cold_items_for_run: its version read, its ratings and content read, both
models' solves, database included). Each movie is deleted afterwards. With --warm the serving caches are loaded
before the first movie (as in a running site; without it the first repeat also pays loading the run's factors).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "movierec_site.settings")
os.environ.setdefault("DEBUG", "1")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import User  # noqa: E402
from catalog.models import Movie  # noqa: E402
from catalog.selectors import MovieContent  # noqa: E402
from ratings.services import rating_upsert  # noqa: E402
from recommendations import cold_items  # noqa: E402
from recommendations.content import content_map_for_run  # noqa: E402
from recommendations.models import ContentMap, ItemFactor, UserFactor  # noqa: E402
from recommendations.selectors import training_run_active  # noqa: E402


def _matching_user(run, movie: Movie) -> tuple[User, int]:
    """The person a new movie with `movie`'s genres and year suits best: the user the run knows whose list factors
    score its content prior highest (what the movie has on arrival: no tags, no TMDB details), and where the prior
    ranks among the trained movies for them."""
    content_map = content_map_for_run(run)
    arrival = MovieContent(
        movie_id=0, title="New (2000)", year=movie.year, genres=tuple(movie.genre_names), tags={}, overview=""
    )
    prior = content_map.predict_contents([arrival])[0][0].astype(np.float64)
    rows = list(UserFactor.objects.filter(run=run).values_list("user_id", "factors"))
    users = np.array([f for _, f in rows], dtype=np.float64)
    best = int((users @ prior).argmax())
    items = np.array(list(ItemFactor.objects.filter(run=run).values_list("factors", flat=True)), dtype=np.float64)
    place = int((items @ users[best] > users[best] @ prior).sum()) + 1
    return User.objects.get(pk=rows[best][0]), place


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--like", default="Toy Story (1995)", help="the new movie copies this movie's genres and year")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--n", type=int, default=50, help="recommendations asked for (at most 100)")
    parser.add_argument("--genre", default="", help="ask for this genre only (the list then always folds in)")
    parser.add_argument("--warm", action="store_true", help="load the serving caches before the first movie")
    args = parser.parse_args()

    run = training_run_active()
    if run is None or run.global_mean is None or not ContentMap.objects.filter(run=run).exists():
        sys.exit("needs an active two-model run with a content map: make run, or import_movielens and retrain")
    template = Movie.objects.get(title=args.like)
    user, place = _matching_user(run, template)
    print(f"run {run.pk}; its content prior would rank #{place} among the trained movies for person {user.pk}")
    admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    staff, person = Client(HTTP_HOST="127.0.0.1"), Client(HTTP_HOST="127.0.0.1")
    staff.force_login(admin)
    person.force_login(user)
    add_url = reverse("admin:catalog_movie_add")
    recs_url = f"/api/v1/me/recommendations/?n={args.n}" + (f"&genre={args.genre}" if args.genre else "")
    genres = [str(pk) for pk in template.genres.values_list("pk", flat=True)]
    if args.warm:
        person.get(recs_url)
    print(f"like {template.title}, genres {', '.join(template.genre_names)}; person {user.pk}; n={args.n}")
    raters = list(User.objects.filter(movielens_id__isnull=False).exclude(pk=user.pk).order_by("pk")[:3])
    header = (
        f"{'#':>2} {'admin POST ms':>14} {'first GET ms':>13} {'total ms':>9} {'cached GET ms':>14} {'place':>6} new"
    )
    print(header + f" {'item fold-in ms':>16}")
    for i in range(args.repeat):
        title = f"Bench new movie {i} ({template.year})"
        data = {
            "id": "",
            "title": title,
            "year": str(template.year or ""),
            "genres": genres,
            "imdb_id": "",
            "tmdb_id": "",
            "tags-TOTAL_FORMS": "0",
            "tags-INITIAL_FORMS": "0",
            "tags-MIN_NUM_FORMS": "0",
            "tags-MAX_NUM_FORMS": "1000",
        }
        started = time.perf_counter()
        response = staff.post(add_url, data)
        posted = time.perf_counter()
        if response.status_code != 302:
            sys.exit(f"the admin refused the movie: {response.status_code}")
        movie = Movie.objects.get(title=title)
        body = person.get(recs_url).json()
        served = time.perf_counter()
        person.get(recs_url)
        again = time.perf_counter()
        results = body["results"]
        place = next((r["rank"] for r in results if r["movie"]["id"] == movie.pk), None)
        is_new = next((r["new"] for r in results if r["movie"]["id"] == movie.pk), None)
        for rater in raters:
            rating_upsert(user=rater, movie=movie, value=4.5)
        folding = time.perf_counter()
        cold = cold_items.cold_items_for_run(run)
        folded = time.perf_counter()
        assert movie.pk in cold.movie_ids.tolist()
        print(
            f"{i + 1:>2} {1000 * (posted - started):>14.1f} {1000 * (served - posted):>13.1f} "
            f"{1000 * (served - started):>9.1f} {1000 * (again - served):>14.1f} {place or '-':>6} {is_new!s:<5} "
            f"{1000 * (folded - folding):>12.1f}"
        )
        movie.delete()


if __name__ == "__main__":
    main()
