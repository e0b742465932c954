"""A synthetic data set shaped like MovieLens 25M, for benchmarks and load tests.

Defaults match ML-25M's size: 25,000,000 ratings by 162,541 users of 59,047 movies. Movie
popularity and user activity follow Zipf-like laws (rank-based power laws with an offset), every
user has at least 20 ratings, no user rates a movie twice, and ratings are half stars from
a global mean plus a user bias, a movie bias (popular movies rate a little higher) and noise, with
some users who only give whole stars, as in MovieLens. Everything is generated a block of users at
a time with numpy; nothing is held per rating in Python objects.

Output either as an ml-latest-style folder (movies.csv, ratings.csv, links.csv, tags.csv) that
`import_movielens` reads, or straight into the database through the import's own COPY loader.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.db import connection, transaction
from tqdm import tqdm

from catalog.models import Genre, Movie, Tag
from ratings.models import Rating
from ratings.services import movie_stats_refresh

from .errors import Issues, MovieLensError
from .formats import KnownMovies, LinkRow, MovieRow, RatingBatch, TagRow, year_from_title
from .loader import MIN_RATING_BYTES, LoadCounts, MovieLensLoader

MIN_RATINGS_PER_USER = 20
# ml-latest's genres with roughly their share of movies.
GENRE_WEIGHTS = {
    "Drama": 0.45, "Comedy": 0.38, "Thriller": 0.19, "Action": 0.18, "Romance": 0.16, "Adventure": 0.13,
    "Crime": 0.12, "Sci-Fi": 0.10, "Horror": 0.10, "Fantasy": 0.08, "Children": 0.07, "Animation": 0.06,
    "Mystery": 0.06, "Documentary": 0.05, "War": 0.04, "Musical": 0.03, "Western": 0.02, "IMAX": 0.02,
    "Film-Noir": 0.01,
}  # fmt: skip
TAG_WORDS = (
    "atmospheric", "twist ending", "funny", "visually appealing", "dark comedy", "sci-fi", "thought-provoking",
    "classic", "based on a book", "great soundtrack", "cult film", "quirky", "slow", "overrated", "inspirational",
)  # fmt: skip
RATING_LABELS = pa.array([f"{h / 2:.1f}" for h in range(1, 11)])
FIRST_TS, LAST_TS = 789652009, 1574327703  # ML-25M's first and last rating times
MOVIE_ZIPF = (1.7, 250.0)  # exponent, offset: the top movie gets ~0.3% of all ratings
USER_ZIPF = (1.0, 100.0)  # the busiest user rates about half the movies at full scale
GLOBAL_MEAN = 3.53
CHUNK_RATINGS = 2_000_000


@dataclass(frozen=True)
class SyntheticConfig:
    ratings: int = 25_000_000
    users: int = 162_541
    movies: int = 59_047
    seed: int = 0
    tags: int | None = None  # default: one per thousand ratings

    def validate(self) -> None:
        if self.users < 1 or self.movies < MIN_RATINGS_PER_USER:
            raise MovieLensError(f"need at least 1 user and {MIN_RATINGS_PER_USER} movies")
        if self.ratings < MIN_RATINGS_PER_USER * self.users:
            raise MovieLensError(
                f"{self.ratings} ratings cannot give each of {self.users} users {MIN_RATINGS_PER_USER} ratings"
            )
        if self.ratings > self.users * self.movies:
            raise MovieLensError(f"{self.ratings} ratings exceed users x movies ({self.users * self.movies})")

    @property
    def tag_count(self) -> int:
        return self.ratings // 1000 if self.tags is None else self.tags


@dataclass
class SyntheticStats:
    movies: int = 0
    users: int = 0
    ratings: int = 0
    tags: int = 0
    seconds: float = 0.0
    counts: LoadCounts | None = None


class SyntheticDataset:
    """The generator. Movie and user parameters are drawn up front (arrays of movies/users size);
    ratings are produced by `rating_chunks()` block by block, sorted by user then movie."""

    def __init__(self, config: SyntheticConfig) -> None:
        config.validate()
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        rng, n_movies, n_users = self.rng, config.movies, config.users
        # Popularity: a power law over ranks, ranks shuffled over movie ids.
        exponent, offset = MOVIE_ZIPF
        movie_rank = rng.permutation(n_movies) + 1
        weight = (movie_rank + offset) ** -exponent
        self.movie_log_weight = np.log(weight)
        self.movie_cdf = np.cumsum(weight / weight.sum())
        self.movie_cdf[-1] = 1.0
        popularity = (self.movie_log_weight - self.movie_log_weight.mean()) / (self.movie_log_weight.std() or 1)
        self.movie_bias = rng.normal(0.0, 0.45, n_movies) + 0.12 * popularity
        # Centre on the average rating (popular movies weigh more), so the mean stays near GLOBAL_MEAN.
        self.movie_bias -= (weight / weight.sum()) @ self.movie_bias
        self.ratings_per_user = _user_activity(rng, n_users, n_movies, config.ratings)
        self.user_bias = rng.normal(0.0, 0.45, n_users)
        self.user_half_stars = rng.random(n_users) < 0.6
        self.user_start = rng.integers(FIRST_TS, LAST_TS, n_users)
        self.user_span = np.exp(rng.normal(math.log(30 * 86400), 1.5, n_users))

    # --- movies ----------------------------------------------------------------------------------------

    def movies(self) -> Iterator[tuple[MovieRow, LinkRow]]:
        rng = np.random.default_rng(self.config.seed + 1)
        n_movies = self.config.movies
        names = list(GENRE_WEIGHTS)
        log_weight = np.log(np.array(list(GENRE_WEIGHTS.values())))
        years = np.clip(2019 - rng.exponential(22.0, n_movies).astype(int), 1902, 2019)
        no_year = rng.random(n_movies) < 0.01
        genre_counts = rng.choice([0, 1, 2, 3, 4], p=[0.005, 0.445, 0.33, 0.15, 0.07], size=n_movies)
        # Weighted choice without replacement for all movies at once: Gumbel top-k per row.
        genre_order = np.argsort(-(log_weight + rng.gumbel(size=(n_movies, len(names)))), axis=1)
        no_tmdb = rng.random(n_movies) < 0.01
        for index in range(n_movies):
            movie_id = index + 1
            title = f"Synthetic Movie {movie_id}" + ("" if no_year[index] else f" ({years[index]})")
            genres = tuple(names[i] for i in sorted(genre_order[index, : genre_counts[index]]))
            tmdb = None if no_tmdb[index] else 100_000 + movie_id
            yield (
                MovieRow(index + 2, movie_id, title, year_from_title(title), genres),
                LinkRow(index + 2, movie_id, f"{1_000_000 + movie_id * 7:07d}", tmdb),
            )

    # --- ratings ---------------------------------------------------------------------------------------

    def rating_chunks(self) -> Iterator[RatingBatch]:
        """RatingBatch blocks of whole users, in (user, movie) order; `line` is the ratings.csv line.

        Every call yields the same ratings (its own generator, seeded from the config's seed).
        """
        rng = np.random.default_rng([self.config.seed, 1])
        counts = self.ratings_per_user
        ends = np.cumsum(counts)
        line = 2
        first = 0
        while first < len(counts):
            done = int(ends[first - 1]) if first else 0
            last = int(np.searchsorted(ends, done + CHUNK_RATINGS, side="right"))
            last = max(last, first + 1)
            user_index, movie_index = self._sample(rng, first, last)
            batch = self._rate(rng, user_index, movie_index, line)
            line += len(batch)
            first = last
            yield batch

    def _sample(self, rng: np.random.Generator, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Distinct movies for users [first, last): popularity-weighted draws, duplicates redrawn.

        Light users draw with replacement from the popularity law in a few vectorised rounds; the few
        whose sets are still short, and heavy users (more than 1/8 of the catalogue), get an exact
        weighted sample without replacement (Gumbel top-k over all movies).
        """
        n_movies = self.config.movies
        wanted = self.ratings_per_user[first:last]
        heavy = wanted > n_movies // 8
        deficit = np.where(heavy, 0, wanted)
        chosen = np.empty(0, dtype=np.int64)  # keys: local user * n_movies + movie index, sorted
        for _round in range(4):
            active = np.flatnonzero(deficit)
            if not len(active):
                break
            draws = np.repeat(active, (deficit[active] * 1.3).astype(np.int64) + 4)
            movies = np.searchsorted(self.movie_cdf, rng.random(len(draws)), side="right")
            keys = np.sort(draws.astype(np.int64) * n_movies + np.minimum(movies, n_movies - 1))
            keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]
            if len(chosen):
                keys = keys[~_sorted_contains(chosen, keys)]
            owner = keys // n_movies
            # Shuffle within each user (ties broken at random), to keep a random subset of the draws.
            order = np.argsort((owner << 32) | rng.integers(0, 1 << 32, len(keys)))
            keys, owner = keys[order], owner[order]
            rank = np.arange(len(keys)) - np.searchsorted(owner, owner, side="left")
            take = rank < deficit[owner]
            deficit -= np.bincount(owner[take], minlength=len(wanted))
            chosen = np.sort(np.concatenate([chosen, keys[take]]))
        extra = []
        for local in np.flatnonzero(heavy | (deficit > 0)):
            need = int(wanted[local] if heavy[local] else deficit[local])
            score = self.movie_log_weight + rng.gumbel(size=n_movies)
            lo, hi = np.searchsorted(chosen, [local * n_movies, (local + 1) * n_movies])
            score[chosen[lo:hi] - local * n_movies] = -np.inf
            picked = np.argpartition(-score, need - 1)[:need]
            extra.append(local * n_movies + picked.astype(np.int64))
        if extra:
            chosen = np.sort(np.concatenate([chosen, *extra]))
        return chosen // n_movies + first, chosen % n_movies

    def _rate(
        self, rng: np.random.Generator, user_index: np.ndarray, movie_index: np.ndarray, line: int
    ) -> RatingBatch:
        n = len(user_index)
        score = GLOBAL_MEAN + self.user_bias[user_index] + self.movie_bias[movie_index] + rng.normal(0.0, 0.85, n)
        half = np.where(
            self.user_half_stars[user_index],
            np.clip(np.rint(score * 2), 1, 10),
            np.clip(np.rint(score), 1, 5) * 2,
        ).astype(np.int16)
        offset = rng.exponential(1.0, n) * self.user_span[user_index]
        stamp = np.minimum(self.user_start[user_index] + offset.astype(np.int64), LAST_TS)
        return RatingBatch(
            np.arange(line, line + n, dtype=np.int32),
            (user_index + 1).astype(np.int32),
            (movie_index + 1).astype(np.int32),
            half,
            stamp.astype(np.int64),
        )

    def tags_for(self, batch: RatingBatch) -> list[TagRow]:
        """About `tag_count` tags in all, on rated movies, a little after the rating."""
        share = self.config.tag_count / self.config.ratings
        rng = np.random.default_rng([self.config.seed, 2, int(batch.line[0])])
        picked = np.flatnonzero(rng.random(len(batch)) < share)
        words = rng.zipf(1.6, len(picked)) % len(TAG_WORDS)
        delay = rng.integers(0, 3600, len(picked))
        return [
            TagRow(0, int(batch.user_id[i]), int(batch.movie_id[i]), TAG_WORDS[w], int(batch.timestamp[i] + d))
            for i, w, d in zip(picked, words, delay, strict=True)
        ]


def _user_activity(rng: np.random.Generator, users: int, movies: int, ratings: int) -> np.ndarray:
    """Ratings per user: MIN_RATINGS_PER_USER plus a Zipf-law share of the rest, at most `movies`."""
    exponent, offset = USER_ZIPF
    weight = (rng.permutation(users) + 1 + offset) ** -exponent
    counts = np.full(users, MIN_RATINGS_PER_USER, dtype=np.int64)
    cap = movies
    remaining = ratings - counts.sum()
    while remaining > 0:
        room = cap - counts
        open_ = room > 0
        share = np.where(open_, weight, 0.0)
        extra = np.minimum(np.floor(remaining * share / share.sum()).astype(np.int64), room)
        if extra.sum() == 0:  # hand out the last few one by one to the heaviest users with room
            order = np.argsort(-share)[:remaining]
            extra = np.zeros(users, dtype=np.int64)
            extra[order[room[order] > 0]] = 1
        counts += extra
        remaining = ratings - counts.sum()
    return counts


def _sorted_contains(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    position = np.minimum(np.searchsorted(haystack, needles), len(haystack) - 1)
    return haystack[position] == needles


def _bar(desc: str, total: int, *, progress: bool) -> tqdm:
    return tqdm(
        desc=desc, total=total, unit=" rows", unit_scale=True, file=sys.stderr, disable=None if progress else True
    )


# --- outputs -------------------------------------------------------------------------------------------


def synthetic_write_csv(*, config: SyntheticConfig, out_dir: Path, progress: bool = True) -> SyntheticStats:
    """Write movies.csv, links.csv, ratings.csv and tags.csv (ml-latest layout) into `out_dir`.

    Files are written under temporary names and renamed at the end, so a folder with ratings.csv
    is complete. Raises MovieLensError for impossible sizes.
    """
    started = time.monotonic()
    dataset = SyntheticDataset(config)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = SyntheticStats(users=config.users)
    parts = {name: out_dir / f".{name}.part" for name in ("movies.csv", "links.csv", "ratings.csv", "tags.csv")}
    with (
        open(parts["movies.csv"], "w", newline="", encoding="utf-8") as movies_file,
        open(parts["links.csv"], "w", newline="", encoding="utf-8") as links_file,
    ):
        movies_csv = csv.writer(movies_file, lineterminator="\n")
        links_csv = csv.writer(links_file, lineterminator="\n")
        movies_csv.writerow(["movieId", "title", "genres"])
        links_csv.writerow(["movieId", "imdbId", "tmdbId"])
        for movie, link in dataset.movies():
            movies_csv.writerow([movie.id, movie.title, "|".join(movie.genres) or "(no genres listed)"])
            links_csv.writerow([link.movie_id, link.imdb_id, "" if link.tmdb_id is None else link.tmdb_id])
            stats.movies += 1
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with (
        open(parts["ratings.csv"], "wb") as ratings_file,
        open(parts["tags.csv"], "w", newline="", encoding="utf-8") as tags_file,
        _bar("ratings.csv", config.ratings, progress=progress) as bar,
    ):
        ratings_file.write(b"userId,movieId,rating,timestamp\n")
        tags_csv = csv.writer(tags_file, lineterminator="\n")
        tags_csv.writerow(["userId", "movieId", "tag", "timestamp"])
        for batch in dataset.rating_chunks():
            table = pa.table(
                {
                    "userId": batch.user_id,
                    "movieId": batch.movie_id,
                    "rating": pa.DictionaryArray.from_arrays(pa.array(batch.half_stars - 1), RATING_LABELS),
                    "timestamp": batch.timestamp,
                }
            )
            pa_csv.write_csv(table, ratings_file, write_options=options)
            for tag in dataset.tags_for(batch):
                tags_csv.writerow([tag.user_id, tag.movie_id, tag.tag, tag.timestamp])
                stats.tags += 1
            stats.ratings += len(batch)
            bar.update(len(batch))
    for name, part in parts.items():
        part.replace(out_dir / name)
    stats.seconds = round(time.monotonic() - started, 2)
    return stats


def synthetic_load_into_db(*, config: SyntheticConfig, force: bool = False, progress: bool = True) -> SyntheticStats:
    """Generate the data set straight into the database through the MovieLens loader (COPY + SQL).

    Refuses (MovieLensError) when the catalogue already has movies or ratings, unless `force`, which
    first empties the catalogue and ratings tables (movies, genres, tags, ratings, and rows that
    reference them, via TRUNCATE ... CASCADE). Existing MovieLens users are reused. One transaction.
    """
    started = time.monotonic()
    dataset = SyntheticDataset(config)
    stats = SyntheticStats(users=config.users)
    with transaction.atomic(), connection.cursor() as cursor:
        if Movie.objects.exists() or Rating.objects.exists():
            if not force:
                raise MovieLensError("the catalogue is not empty: use --force to replace it")
            tables = [Tag, Rating, Movie.genres.through, Movie, Genre]
            cursor.execute("TRUNCATE " + ", ".join(model._meta.db_table for model in tables) + " CASCADE")
        loader = MovieLensLoader(cursor)
        loader.begin()
        movies, links = [], []
        for movie, link in dataset.movies():
            movies.append(movie)
            links.append(link)
        stats.movies = loader.copy_movies(iter(movies), KnownMovies(set()))
        loader.copy_links(iter(links))
        tags: list[TagRow] = []

        def batches() -> Iterator[RatingBatch]:
            tags.clear()
            for batch in dataset.rating_chunks():
                tags.extend(dataset.tags_for(batch))
                bar.update(len(batch))
                yield batch

        # The import's own ratings loader: straight into the ratings table when it is a bulk load.
        with _bar("ratings", config.ratings, progress=progress) as bar:
            stats.ratings = loader.stage_ratings(
                fast=batches,
                slow=batches,
                scan=lambda: (np.arange(1, config.users + 1), config.ratings),
                size=config.ratings * MIN_RATING_BYTES,
                issues=Issues(),
                bar=bar,
            )
        stats.tags = loader.copy_tags(iter(tags))
        stats.counts = loader.apply(has_links=True)
        movie_stats_refresh()
        loader.drop_staging()
    stats.seconds = round(time.monotonic() - started, 2)
    return stats
