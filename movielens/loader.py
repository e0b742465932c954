"""The bulk path of the MovieLens import: COPY into TEMP staging tables, then set-based SQL.

Nothing here saves rows one by one. Files stream into staging tables through COPY (ratings in
PostgreSQL's binary format, built with numpy a batch at a time), and a handful of INSERT ...
ON CONFLICT / UPDATE ... FROM / DELETE statements apply them. The caller owns the transaction.
A large first load of ratings skips staging and COPYs straight into the ratings table (see
`stage_ratings`).

Large loads (BULK_MIN_ROWS new ratings or more, and at least a quarter of the table) drop the
ratings table's keys, indexes and foreign keys, insert, and recreate them from their own
definitions (`pg_get_constraintdef` / `pg_get_indexdef`): one sort per index instead of millions of
index insertions and foreign-key trigger calls. The half-star check constraint stays in place, so
every row passes the database's own check on the way in; recreating the unique and foreign key
constraints validates the whole table. The ratings table is locked exclusively until commit.
"""

from __future__ import annotations

import csv
import io
import logging
import struct
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.contrib.auth import get_user_model
from django.db import transaction

from catalog.models import Genre, Movie, Tag
from catalog.selectors import genre_names_forget
from ratings.models import Rating

from .errors import Issues, MovieLensFormatError, MovieLensRowError
from .formats import FastPathUnavailable, KnownMovies, LinkRow, MovieRow, RatingBatch, TagRow

logger = logging.getLogger(__name__)

BULK_MIN_ROWS = 50_000
BULK_MIN_SHARE = 0.25
COPY_CHUNK = 1 << 20
MIN_RATING_BYTES = 8  # "1,2,3,4\n": no file smaller than this many bytes per rating
LOCK_KEY = "movierec.movielens_import"
MISNUMBERED_MIN = 10  # movies named differently before a data set counts as numbered differently

_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_BINARY_TRAILER = b"\xff\xff"
# One staged rating as a PostgreSQL binary COPY tuple: field count, then (length, value) per column.
_RATING_TUPLE = np.dtype(
    [
        ("fields", ">i2"),
        ("line_len", ">i4"), ("line", ">i4"),
        ("user_len", ">i4"), ("user_id", ">i4"),
        ("movie_len", ">i4"), ("movie_id", ">i4"),
        ("value_len", ">i4"), ("value", "V12"),
        ("time_len", ">i4"), ("time", ">i8"),
    ]
)  # fmt: skip

STAGING_TABLES = ("ml_movies", "ml_movie_genres", "ml_links", "ml_ratings", "ml_tags", "ml_users", "ml_tags_latest")


@dataclass
class LoadCounts:
    movies_created: int = 0
    movies_updated: int = 0
    genres_created: int = 0
    users_created: int = 0
    ratings_created: int = 0
    ratings_updated: int = 0
    ratings_unchanged: int = 0
    tags_created: int = 0
    tags_updated: int = 0
    tags_unchanged: int = 0
    bulk: bool = False


class ChunkStream(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, for `copy_expert`.

    psycopg2 reports an exception raised inside `read()` only as a failed COPY, so the original
    (e.g. a bad row with its line number) is kept in `error` and re-raised by `copy_from_chunks`.
    """

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self.chunks: Iterator[bytes] = iter(chunks)
        self.buffer = memoryview(b"")
        self.offset = 0
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            while self.offset >= len(self.buffer):
                self.buffer, self.offset = memoryview(next(self.chunks)), 0
        except StopIteration:
            return b""
        except BaseException as exc:
            self.error = exc
            raise
        end = len(self.buffer) if size < 0 else min(len(self.buffer), self.offset + size)
        out = self.buffer[self.offset : end].tobytes()
        self.offset = end
        return out


def copy_from_chunks(cursor: Any, sql: str, chunks: Iterable[bytes]) -> None:
    """COPY ... FROM STDIN fed by byte chunks, through psycopg2's `copy_expert`."""
    stream = ChunkStream(chunks)
    raw = getattr(cursor, "cursor", cursor)  # Django's CursorWrapper holds the psycopg2 cursor
    try:
        raw.copy_expert(sql, stream, size=COPY_CHUNK)
    except Exception:
        if stream.error is not None:
            raise stream.error from None
        raise


def csv_chunks(rows: Iterable[tuple], rows_per_chunk: int = 20_000) -> Iterator[bytes]:
    """CSV text for COPY (FORMAT csv): strings always quoted, numbers bare, None as "" (use FORCE_NULL)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    pending = 0
    for row in rows:
        writer.writerow(row)
        pending += 1
        if pending == rows_per_chunk:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    if pending:
        yield buffer.getvalue().encode()


def _numeric(half: int) -> bytes:
    """half/2 in PostgreSQL's binary numeric: ndigits, weight, sign, dscale, base-10000 digits.

    Always two digits (a trailing zero digit is allowed) so that every value has the same size.
    """
    whole, fraction = divmod(half, 2)
    if whole:
        return struct.pack(">hhhhhh", 2, 0, 0, 1, whole, fraction * 5000)
    return struct.pack(">hhhhhh", 2, -1, 0, 1, fraction * 5000, 0)


_NUMERIC_HALVES = np.array([np.void(_numeric(h)) for h in range(11)], dtype="V12")
_POSTGRES_EPOCH = 946684800  # 2000-01-01T00:00:00Z, the zero of binary timestamps


_FINAL_TUPLE = np.dtype(
    [
        ("fields", ">i2"),
        ("user_len", ">i4"), ("user_id", ">i8"),
        ("movie_len", ">i4"), ("movie_id", ">i4"),
        ("value_len", ">i4"), ("value", "V12"),
        ("time_len", ">i4"), ("time", ">i8"),
    ]
)  # fmt: skip


def encode_final_ratings(batch: RatingBatch, user_pks: np.ndarray) -> bytes:
    """One batch as binary COPY tuples for the ratings table (user_id, movie_id, value, rated_at)."""
    out = np.empty(len(batch), dtype=_FINAL_TUPLE)
    out["fields"] = 4
    out["user_len"] = out["time_len"] = 8
    out["movie_len"] = 4
    out["value_len"] = 12
    out["user_id"] = user_pks
    out["movie_id"] = batch.movie_id
    out["value"] = _NUMERIC_HALVES[batch.half_stars]
    out["time"] = (batch.timestamp - _POSTGRES_EPOCH) * 1_000_000
    return out.tobytes()


def encode_ratings(batch: RatingBatch) -> bytes:
    """One batch as binary COPY tuples for ml_ratings (line, user_id, movie_id, value, rated_at)."""
    out = np.empty(len(batch), dtype=_RATING_TUPLE)
    out["fields"] = 5
    out["line_len"] = out["user_len"] = out["movie_len"] = 4
    out["value_len"] = 12
    out["time_len"] = 8
    out["line"] = batch.line
    out["user_id"] = batch.user_id
    out["movie_id"] = batch.movie_id
    out["value"] = _NUMERIC_HALVES[batch.half_stars]
    out["time"] = (batch.timestamp - _POSTGRES_EPOCH) * 1_000_000
    return out.tobytes()


class MovieLensLoader:
    """Stages one data set and applies it. Call inside `transaction.atomic()` with a Django cursor."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor
        self.users: set[int] = set()
        self.timings: dict[str, float] = {}
        self.direct = False  # ratings went straight into the ratings table
        self.rebuild: list[tuple[str, str]] = []  # (name, SQL) recreating dropped keys and indexes
        self.users_created = 0
        self.staged_ratings = 0
        self.ratings_sorted = True  # strictly increasing (user, movie) keys prove there are no duplicates
        self._last_key = -1
        user = get_user_model()
        self.t_user = user._meta.db_table
        self.t_movie = Movie._meta.db_table
        self.t_genre = Genre._meta.db_table
        self.t_movie_genres = Movie.genres.through._meta.db_table
        self.t_tag = Tag._meta.db_table
        self.t_rating = Rating._meta.db_table

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time a step of the import into `timings` (and the log)."""
        started = time.monotonic()
        yield
        self.timings[name] = round(time.monotonic() - started, 2)
        logger.info("%s: %.1f s", name, self.timings[name])

    def execute(self, sql: str, params: Any = None) -> int:
        self.cursor.execute(sql, params)
        return self.cursor.rowcount

    def scalar(self, sql: str, params: Any = None) -> Any:
        self.cursor.execute(sql, params)
        return self.cursor.fetchone()[0]

    # --- staging -----------------------------------------------------------------------------------

    def begin(self) -> None:
        """Serialise imports, size memory for big sorts and create empty staging tables."""
        self.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [LOCK_KEY])
        self.execute("SET LOCAL work_mem = '256MB'")
        self.execute("SET LOCAL maintenance_work_mem = '1GB'")
        self.drop_staging()
        for ddl in (
            "ml_movies (line integer, id integer, title text, year smallint)",
            "ml_movie_genres (movie_id integer, genre text)",
            "ml_links (line integer, movie_id integer, imdb_id text, tmdb_id integer)",
            "ml_ratings (line integer, user_id integer, movie_id integer, value numeric(2, 1), rated_at timestamptz)",
            "ml_tags (line integer, user_id integer, movie_id integer, tag text, ts bigint)",
            "ml_users (user_id integer PRIMARY KEY)",
        ):
            self.execute(f"CREATE TEMP TABLE {ddl} ON COMMIT DROP")

    def drop_staging(self) -> None:
        self.execute("DROP TABLE IF EXISTS " + ", ".join(f"pg_temp.{name}" for name in STAGING_TABLES))

    def copy_movies(self, rows: Iterable[MovieRow], known: KnownMovies) -> int:
        """Stage movies and their genre names; adds each id to `known` for the files that follow."""
        genres: list[tuple[int, str]] = []
        count = 0

        def movie_tuples() -> Iterator[tuple]:
            nonlocal count
            for row in rows:
                known.ids.add(row.id)
                genres.extend((row.id, name) for name in row.genres)
                count += 1
                yield row.line, row.id, row.title, row.year

        copy_from_chunks(
            self.cursor,
            "COPY ml_movies (line, id, title, year) FROM STDIN WITH (FORMAT csv, FORCE_NULL (year))",
            csv_chunks(movie_tuples()),
        )
        copy_from_chunks(self.cursor, "COPY ml_movie_genres FROM STDIN WITH (FORMAT csv)", csv_chunks(genres))
        return count

    def check_same_numbering(self, label: str) -> None:
        """Refuse a data set whose movie ids mean other films than the stored ones.

        MovieLens releases share one numbering of movies, except ml-100k (its item 2 is GoldenEye, movieId
        2 everywhere else is Jumanji): imported over another release it would rename most stored movies
        and hang their ratings on the wrong films. A newer copy of the same release corrects a few titles;
        when most of the movie ids it shares with the database have another title (ignoring case and the
        spaces around it), and at least MISNUMBERED_MIN of them, raise MovieLensFormatError.
        """
        self.cursor.execute(
            f"""
            SELECT count(*) FILTER (WHERE lower(btrim(m.title)) <> lower(btrim(s.title))), count(*),
                   min(s.id) FILTER (WHERE lower(btrim(m.title)) <> lower(btrim(s.title)))
            FROM ml_movies AS s JOIN {self.t_movie} AS m ON m.id = s.id
            """
        )
        differ, shared, example = self.cursor.fetchone()
        if differ >= MISNUMBERED_MIN and differ * 2 > shared:
            self.cursor.execute(
                f"SELECT s.title, m.title FROM ml_movies AS s JOIN {self.t_movie} AS m ON m.id = s.id WHERE s.id = %s",
                [example],
            )
            here, stored = self.cursor.fetchone()
            raise MovieLensFormatError(
                f"{label}: {differ} of the {shared} movie ids it shares with the database name other films "
                f"(movie {example} is {here!r} here and {stored!r} in the database): a release numbered "
                "differently (ml-100k numbers its movies its own way) must go into an empty database"
            )

    def copy_links(self, rows: Iterable[LinkRow]) -> int:
        count = 0

        def tuples() -> Iterator[tuple]:
            nonlocal count
            for row in rows:
                count += 1
                yield row.line, row.movie_id, row.imdb_id, row.tmdb_id

        copy_from_chunks(
            self.cursor, "COPY ml_links FROM STDIN WITH (FORMAT csv, FORCE_NULL (tmdb_id))", csv_chunks(tuples())
        )
        return count

    def copy_tags(self, rows: Iterable[TagRow]) -> int:
        count = 0

        def tuples() -> Iterator[tuple]:
            nonlocal count
            for row in rows:
                self.users.add(row.user_id)
                count += 1
                yield row.line, row.user_id, row.movie_id, row.tag, row.timestamp

        copy_from_chunks(self.cursor, "COPY ml_tags FROM STDIN WITH (FORMAT csv)", csv_chunks(tuples()))
        return count

    def copy_ratings(self, batches: Iterable[RatingBatch]) -> int:
        """Stage ratings with binary COPY; notes the users and whether the keys arrive sorted."""

        def chunks() -> Iterator[bytes]:
            yield _BINARY_HEADER
            for batch in batches:
                self._note(batch)
                yield encode_ratings(batch)
            yield _BINARY_TRAILER

        copy_from_chunks(self.cursor, "COPY ml_ratings FROM STDIN WITH (FORMAT binary)", chunks())
        return self.staged_ratings

    def stage_ratings(
        self,
        *,
        fast: Callable[[], Iterable[RatingBatch]],
        slow: Callable[[], Iterable[RatingBatch]],
        scan: Callable[[], tuple[np.ndarray, int]],
        size: int,
        issues: Issues,
        bar: Any,
    ) -> int:
        """Load the ratings file the fastest way that works; returns the number of ratings read.

        1. Direct: a large file, no MovieLens ratings stored yet, plainly formatted and sorted by
           (user, movie): users are created first and the ratings COPY straight into the ratings
           table (indexes dropped, rebuilt in `apply`). Not used with skip_invalid.
        2. Staged, read by the vectorised reader.
        3. Staged, read row by row (the reader that explains every bad line).
        Each attempt runs in a savepoint; an attempt that raises FastPathUnavailable is undone.
        """
        attempts = [("staged", lambda: self.copy_ratings(fast())), ("row by row", lambda: self.copy_ratings(slow()))]
        if not issues.skip_invalid and size >= BULK_MIN_ROWS * MIN_RATING_BYTES:
            attempts.insert(0, ("direct", lambda: self._copy_ratings_direct(fast, scan)))
        for name, attempt in attempts[:-1]:
            mark, users = issues.mark(), set(self.users)
            try:
                with transaction.atomic():  # a savepoint: a failed COPY must not doom the whole import
                    return attempt()
            except FastPathUnavailable as exc:
                logger.info("Ratings: no %s load (%s)", name, exc)
            issues.rewind(mark)
            self.users, self.staged_ratings, self.ratings_sorted, self._last_key = users, 0, True, -1
            self.direct, self.rebuild, self.users_created = False, [], 0
            bar.reset()
        return attempts[-1][1]()

    def _copy_ratings_direct(
        self, fast: Callable[[], Iterable[RatingBatch]], scan: Callable[[], tuple[np.ndarray, int]]
    ) -> int:
        if self.scalar(
            f"""
            SELECT EXISTS (
                SELECT 1 FROM {self.t_user} AS u
                WHERE u.movielens_id IS NOT NULL AND EXISTS (SELECT 1 FROM {self.t_rating} AS r WHERE r.user_id = u.id)
            )
            """
        ):
            raise FastPathUnavailable("MovieLens ratings are stored already")
        with self.phase("scan ratings for users"):
            users, rows = scan()
        if not self._bulk_worthy(rows):
            raise FastPathUnavailable(f"{rows} ratings are too few for a bulk load")
        self.users.update(users.tolist())
        self.users_created = self._create_users(self.users)
        self.cursor.execute(
            f"SELECT u.movielens_id, u.id FROM ml_users AS s JOIN {self.t_user} AS u ON u.movielens_id = s.user_id "
            "ORDER BY 1"
        )
        mapping = np.array(self.cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
        movielens_ids, user_pks = mapping[:, 0], mapping[:, 1]
        self.rebuild = self._drop_indexes(self.t_rating)

        def chunks() -> Iterator[bytes]:
            yield _BINARY_HEADER
            for batch in fast():
                self._note(batch)
                if not self.ratings_sorted:
                    raise FastPathUnavailable("ratings are not sorted by user and movie")
                yield encode_final_ratings(batch, user_pks[np.searchsorted(movielens_ids, batch.user_id)])
            yield _BINARY_TRAILER

        copy_from_chunks(
            self.cursor,
            f"COPY {self.t_rating} (user_id, movie_id, value, rated_at) FROM STDIN WITH (FORMAT binary)",
            chunks(),
        )
        self.direct = True
        return self.staged_ratings

    def _bulk_worthy(self, rows: int) -> bool:
        table_rows = max(
            int(self.scalar("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [self.t_rating])), 0
        )
        return rows >= BULK_MIN_ROWS and rows >= BULK_MIN_SHARE * (table_rows + rows)

    def _note(self, batch: RatingBatch) -> None:
        if not len(batch):
            return
        self.staged_ratings += len(batch)
        self.users.update(np.unique(batch.user_id).tolist())
        if self.ratings_sorted:
            keys = (batch.user_id.astype(np.int64) << 32) | batch.movie_id.astype(np.int64)
            if keys[0] <= self._last_key or (len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1]))):
                self.ratings_sorted = False
            self._last_key = int(keys[-1])

    def resolve_duplicate_ratings(self, issues: Issues, label: str) -> None:
        """A (user, movie) pair rated twice in the file is a bad row; when skipping, the latest wins.

        Needs a sort of the staged ratings, so it only runs if the file was not in (user, movie) order.
        """
        if self.ratings_sorted:
            return
        logger.info("Ratings are not sorted by user and movie: checking for duplicates")
        if not issues.skip_invalid:
            self.cursor.execute(
                """
                SELECT line, user_id, movie_id, first_line FROM (
                    SELECT line, user_id, movie_id, min(line) OVER (PARTITION BY user_id, movie_id) AS first_line
                    FROM ml_ratings
                ) AS s WHERE line > first_line ORDER BY line LIMIT 1
                """
            )
            row = self.cursor.fetchone()
            if row:
                line, user_id, movie_id, first_line = row
                raise MovieLensRowError(
                    label, line, f"user {user_id} rated movie {movie_id} again (first on line {first_line})"
                )
            return
        self.cursor.execute(
            """
            DELETE FROM ml_ratings WHERE line IN (
                SELECT line FROM (
                    SELECT line, row_number() OVER (
                        PARTITION BY user_id, movie_id ORDER BY rated_at DESC, line DESC
                    ) AS rank
                    FROM ml_ratings
                ) AS s WHERE rank > 1
            ) RETURNING line, user_id, movie_id
            """
        )
        for line, user_id, movie_id in sorted(self.cursor.fetchall()):
            self.staged_ratings -= 1
            issues.report(label, line, f"user {user_id} rated movie {movie_id} more than once (the latest is kept)")

    # --- applying --------------------------------------------------------------------------------------

    def apply(self, *, has_links: bool) -> LoadCounts:
        """Upsert genres, movies, links, movie genres, users, ratings and tags from the staging tables."""
        counts = LoadCounts()
        self.execute("ANALYZE ml_movies, ml_movie_genres, ml_links, ml_ratings, ml_tags")
        with self.phase("apply movies"):
            self._apply_movies(counts, has_links=has_links)
        with self.phase("apply users"):
            self._apply_users(counts)
        self._apply_ratings(counts)
        with self.phase("apply tags"):
            self._apply_tags(counts)
        return counts

    def _ids(self, sql: str) -> set[int]:
        self.cursor.execute(sql)
        return {row[0] for row in self.cursor.fetchall()}

    def _apply_movies(self, counts: LoadCounts, *, has_links: bool) -> None:
        counts.genres_created = self.execute(
            f"""
            INSERT INTO {self.t_genre} (name)
            SELECT DISTINCT genre FROM ml_movie_genres ORDER BY genre
            ON CONFLICT (name) DO NOTHING
            """
        )
        if counts.genres_created:
            genre_names_forget()  # the filter forms' cached list (raw SQL sends no signal)
        changed = self._ids(
            f"""
            UPDATE {self.t_movie} AS m SET title = s.title, year = s.year
            FROM ml_movies AS s
            WHERE m.id = s.id AND (m.title, m.year) IS DISTINCT FROM (s.title, s.year)
            RETURNING m.id
            """
        )
        if has_links:
            changed |= self._ids(
                f"""
                UPDATE {self.t_movie} AS m SET imdb_id = l.imdb_id, tmdb_id = l.tmdb_id
                FROM ml_links AS l
                WHERE m.id = l.movie_id AND (m.imdb_id, m.tmdb_id) IS DISTINCT FROM (l.imdb_id, l.tmdb_id)
                RETURNING m.id
                """
            )
        created = self._ids(
            f"""
            INSERT INTO {self.t_movie} (id, title, year, imdb_id, tmdb_id, rating_count, rating_mean)
            SELECT s.id, s.title, s.year, coalesce(l.imdb_id, ''), l.tmdb_id, 0, NULL
            FROM ml_movies AS s LEFT JOIN ml_links AS l ON l.movie_id = s.id
            ORDER BY s.id
            ON CONFLICT (id) DO NOTHING
            RETURNING id
            """
        )
        # The file's genres replace a movie's genres.
        changed |= self._ids(
            f"""
            DELETE FROM {self.t_movie_genres} AS mg
            USING ml_movies AS s
            WHERE mg.movie_id = s.id AND NOT EXISTS (
                SELECT 1 FROM ml_movie_genres AS sg JOIN {self.t_genre} AS g ON g.name = sg.genre
                WHERE sg.movie_id = mg.movie_id AND g.id = mg.genre_id
            )
            RETURNING mg.movie_id
            """
        )
        changed |= self._ids(
            f"""
            INSERT INTO {self.t_movie_genres} (movie_id, genre_id)
            SELECT DISTINCT sg.movie_id, g.id FROM ml_movie_genres AS sg JOIN {self.t_genre} AS g ON g.name = sg.genre
            ON CONFLICT (movie_id, genre_id) DO NOTHING
            RETURNING movie_id
            """
        )
        counts.movies_created = len(created)
        counts.movies_updated = len(changed - created)

    def _apply_users(self, counts: LoadCounts) -> None:
        counts.users_created = self.users_created + self._create_users(self.users)

    def _create_users(self, movielens_ids: Iterable[int]) -> int:
        """Make sure every rater and tagger is a user: movielens_id set, username movielens-<id>,
        password '!' (unusable: Django's is_password_usable, so they can never log in).

        Leaves the ids in ml_users; returns how many users were created.
        """
        self.execute("TRUNCATE ml_users")
        ids = b"".join(b"%d\n" % u for u in sorted(movielens_ids))
        copy_from_chunks(self.cursor, "COPY ml_users FROM STDIN", [ids])
        self.execute("ANALYZE ml_users")  # without statistics the planner may pick a nested loop here
        # A person who signed up as "movielens-<id>" blocks that rater's username.
        self.cursor.execute(
            f"""
            SELECT u.username FROM {self.t_user} AS u
            WHERE u.username LIKE 'movielens-%%' AND u.username ~ '^movielens-[0-9]{{1,10}}$'
              AND u.movielens_id IS DISTINCT FROM substring(u.username FROM 11)::bigint
              AND EXISTS (SELECT 1 FROM ml_users AS s WHERE s.user_id = substring(u.username FROM 11)::bigint)
            ORDER BY u.username LIMIT 5
            """
        )
        taken = [row[0] for row in self.cursor.fetchall()]
        if taken:
            names = ", ".join(taken)
            raise MovieLensRowError(
                "accounts", None, f"username(s) {names} belong to accounts that are not MovieLens raters"
            )
        created = self.execute(
            f"""
            INSERT INTO {self.t_user} (password, is_superuser, username, first_name, last_name, email,
                                       is_staff, is_active, date_joined, movielens_id)
            SELECT '!', false, 'movielens-' || s.user_id, '', '', '', false, true, now(), s.user_id
            FROM ml_users AS s
            WHERE NOT EXISTS (SELECT 1 FROM {self.t_user} AS u WHERE u.movielens_id = s.user_id)
            ORDER BY s.user_id
            """
        )
        if created >= 1000:
            # The joins on movielens_id that follow need to know the table grew (a nested loop over
            # two tables of 160k users each would take hours).
            self.execute(f"ANALYZE {self.t_user}")
        return created

    def _apply_ratings(self, counts: LoadCounts) -> None:
        if self.direct:
            counts.bulk = True
            counts.ratings_created = self.staged_ratings
            self._rebuild()
            return
        staged = self.staged_ratings
        source = f"ml_ratings AS s JOIN {self.t_user} AS u ON u.movielens_id = s.user_id"
        existing = self.scalar(
            f"""
            SELECT EXISTS (
                SELECT 1 FROM ml_users AS s JOIN {self.t_user} AS u ON u.movielens_id = s.user_id
                JOIN {self.t_rating} AS r ON r.user_id = u.id
            )
            """
        )
        if existing:
            # One pass over the big join drops what is stored already, unchanged; what remains
            # (changed and new ratings) is usually small, so the update after it is cheap.
            match = f"""
                FROM ml_ratings AS s USING {self.t_user} AS u, {self.t_rating} AS r
                WHERE u.movielens_id = s.user_id AND r.user_id = u.id AND r.movie_id = s.movie_id
            """
            with self.phase("compare ratings"):
                staged -= self.execute(f"DELETE {match} AND r.value = s.value AND r.rated_at = s.rated_at")
                self.execute("ANALYZE ml_ratings")
            with self.phase("update ratings"):
                counts.ratings_updated = self.execute(
                    f"""
                    UPDATE {self.t_rating} AS r SET value = s.value, rated_at = s.rated_at
                    FROM {source}
                    WHERE r.user_id = u.id AND r.movie_id = s.movie_id
                    """
                )
                staged -= self.execute(f"DELETE {match}")  # what is left in staging is new
        counts.bulk = self._bulk_worthy(staged)
        self.rebuild = self._drop_indexes(self.t_rating) if counts.bulk else []
        logger.info("Inserting %d ratings%s", staged, " (bulk: indexes rebuilt afterwards)" if counts.bulk else "")
        with self.phase("insert ratings"):
            counts.ratings_created = self.execute(
                f"""
                INSERT INTO {self.t_rating} (user_id, movie_id, value, rated_at)
                SELECT u.id, s.movie_id, s.value, s.rated_at FROM {source}
                """
            )
        self._rebuild()
        counts.ratings_unchanged = self.staged_ratings - counts.ratings_created - counts.ratings_updated

    def _rebuild(self) -> None:
        for name, statement in self.rebuild:
            with self.phase(f"rebuild {name}"):
                self.execute(statement)
        if self.rebuild:
            self.execute(f"ANALYZE {self.t_rating}")
            self.rebuild = []

    def _drop_indexes(self, table: str) -> list[tuple[str, str]]:
        """Drop the table's foreign keys, primary key and unique constraints, and plain indexes.

        The primary key stays if another table references it. Returns (name, statement) pairs that
        recreate everything exactly as it was: keys first, then indexes, then foreign keys (which
        validate every row).
        """
        referenced = self.scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f')", [table]
        )
        kinds = ("f", "u") if referenced else ("f", "u", "p")
        self.cursor.execute(
            """
            SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint
            WHERE conrelid = %s::regclass AND contype = ANY(%s) ORDER BY conname
            """,
            [table, list(kinds)],
        )
        constraints = self.cursor.fetchall()
        self.cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i
            WHERE i.indrelid = %s::regclass
              AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)
            ORDER BY 1
            """,
            [table],
        )
        indexes = self.cursor.fetchall()
        # ALTER TABLE refuses while deferred foreign-key checks are queued (rows written earlier in
        # the same transaction): run them now, then defer again for the rest of the transaction.
        self.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.execute("SET CONSTRAINTS ALL DEFERRED")
        order = {"p": 0, "u": 1, "f": 3}
        for name, _kind, _definition in sorted(constraints, key=lambda c: -order[c[1]]):
            self.execute(f"ALTER TABLE {table} DROP CONSTRAINT {_quote(name)}")
        for name, _definition in indexes:
            self.execute(f"DROP INDEX {name}")
        rebuild = [
            (order[kind], name, f"ALTER TABLE {table} ADD CONSTRAINT {_quote(name)} {sql}")
            for name, kind, sql in constraints
        ]
        rebuild += [(2, name, definition) for name, definition in indexes]
        return [(name, statement) for _rank, name, statement in sorted(rebuild)]

    def _apply_tags(self, counts: LoadCounts) -> None:
        """Tags: the latest application of each (user, movie, tag) in the file wins."""
        self.execute(
            """
            CREATE TEMP TABLE ml_tags_latest ON COMMIT DROP AS
            SELECT DISTINCT ON (user_id, movie_id, tag) user_id, movie_id, tag, ts FROM ml_tags
            ORDER BY user_id, movie_id, tag, ts DESC, line DESC
            """
        )
        self.execute("ANALYZE ml_tags_latest")
        total = self.scalar("SELECT count(*) FROM ml_tags_latest")
        source = f"ml_tags_latest AS s JOIN {self.t_user} AS u ON u.movielens_id = s.user_id"
        counts.tags_updated = self.execute(
            f"""
            UPDATE {self.t_tag} AS t SET tagged_at = to_timestamp(s.ts) FROM {source}
            WHERE t.user_id = u.id AND t.movie_id = s.movie_id AND t.tag = s.tag AND t.tagged_at <> to_timestamp(s.ts)
            """
        )
        counts.tags_created = self.execute(
            f"""
            INSERT INTO {self.t_tag} (movie_id, user_id, tag, tagged_at)
            SELECT s.movie_id, u.id, s.tag, to_timestamp(s.ts) FROM {source}
            ORDER BY s.movie_id, s.ts
            ON CONFLICT (user_id, movie_id, tag) DO NOTHING
            """
        )
        counts.tags_unchanged = total - counts.tags_created - counts.tags_updated


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
