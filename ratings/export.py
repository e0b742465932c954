"""Stream all ratings out of PostgreSQL into Parquet, for Spark.

COPY ... TO STDOUT feeds a writer that cuts the CSV stream at line boundaries into chunks of a
few tens of MB, parses each chunk with Arrow and appends it to a Parquet file. Memory stays
bounded by the chunk size whatever the number of ratings; nothing passes through Python lists
or model instances. The users' taste versions and hidden movies can come along from the same
snapshot: a retrain leaves hidden movies out of the top-N and records with each user's stored
rows the version they describe.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from django.db import connection, transaction

EXPORT_SCHEMA = pa.schema(
    [
        ("user_id", pa.int32()),
        ("movie_id", pa.int32()),
        ("rating", pa.float32()),
        ("ts", pa.int64()),
    ]
)

TASTE_VERSIONS_SCHEMA = pa.schema([("user_id", pa.int32()), ("taste_version", pa.int64())])
HIDDEN_SCHEMA = pa.schema([("user_id", pa.int32()), ("movie_id", pa.int32())])

_EXPORT_SQL = """
COPY (
    SELECT user_id, movie_id, value::float4, extract(epoch FROM rated_at)::bigint
    FROM ratings_rating
) TO STDOUT WITH (FORMAT csv)
"""
_TASTE_VERSIONS_SQL = "COPY (SELECT id, taste_version FROM accounts_user) TO STDOUT WITH (FORMAT csv)"
_HIDDEN_SQL = "COPY (SELECT user_id, movie_id FROM ratings_notinterested) TO STDOUT WITH (FORMAT csv)"


@dataclass(frozen=True)
class RatingsExport:
    path: Path
    rows: int
    snapshot_at: datetime
    # How many distinct users and movies the ratings name: counted while streaming, so the retrain needs no
    # Spark job of its own for them.
    users: int = 0
    movies: int = 0
    # Written only when asked for (see ratings_export_to_parquet).
    taste_versions_path: Path | None = None
    hidden_path: Path | None = None


class _ParquetChunkWriter(io.RawIOBase):
    """A write-only file object: psycopg2 writes COPY output here, we emit Parquet row groups."""

    def __init__(
        self, path: Path, chunk_bytes: int, schema: pa.Schema = EXPORT_SCHEMA, distinct: tuple[str, ...] = ()
    ) -> None:
        self._schema = schema
        self._writer = pq.ParquetWriter(str(path), schema, compression="snappy")
        self._buffer = bytearray()
        self._chunk_bytes = chunk_bytes
        self.rows = 0
        self._distinct = {name: [] for name in distinct}

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._buffer += data
        if len(self._buffer) >= self._chunk_bytes:
            cut = self._buffer.rfind(b"\n") + 1
            if cut:
                self._flush(bytes(self._buffer[:cut]))
                del self._buffer[:cut]
        return len(data)

    def _flush(self, block: bytes) -> None:
        table = pacsv.read_csv(
            io.BytesIO(block),
            read_options=pacsv.ReadOptions(column_names=self._schema.names),
            convert_options=pacsv.ConvertOptions(column_types=self._schema),
        )
        self._writer.write_table(table)
        self.rows += table.num_rows
        for name, seen in self._distinct.items():
            seen.append(pc.unique(table.column(name)).to_numpy())

    def distinct_count(self, name: str) -> int:
        """How many distinct values column `name` (one of `distinct`) held in the rows written so far."""
        seen = self._distinct[name]
        return int(np.unique(np.concatenate(seen)).size) if seen else 0

    def finish(self) -> None:
        if self._buffer:
            self._flush(bytes(self._buffer))
            self._buffer.clear()
        self._writer.close()

    def discard(self) -> None:
        """Close the file without writing what is buffered (the export failed; the file is deleted next)."""
        self._buffer.clear()
        with contextlib.suppress(Exception):
            self._writer.close()


def ratings_export_to_parquet(
    *,
    path: Path,
    chunk_bytes: int = 32 * 1024 * 1024,
    taste_versions_path: Path | None = None,
    hidden_path: Path | None = None,
) -> RatingsExport:
    """Write every rating to the Parquet file `path` (user_id int, movie_id int, rating float, ts long).

    Reads one consistent snapshot (REPEATABLE READ); `snapshot_at` is that snapshot's time, so
    ratings written later are recognisably newer. From the same snapshot, when given:
    `taste_versions_path` gets every user's taste version (user_id int, taste_version long) and
    `hidden_path` every hidden movie (user_id int, movie_id int), so a user whose version is still
    the exported one has exactly the exported ratings and hidden movies. Also counts the distinct users and
    movies of the ratings (`users`, `movies`) on the way. Raises OSError when a
    path is not writable; then none of the files is left behind.
    """
    outputs = [(path, _EXPORT_SQL, EXPORT_SCHEMA)]
    if taste_versions_path is not None:
        outputs.append((taste_versions_path, _TASTE_VERSIONS_SQL, TASTE_VERSIONS_SCHEMA))
    if hidden_path is not None:
        outputs.append((hidden_path, _HIDDEN_SQL, HIDDEN_SCHEMA))
    for each, _, _ in outputs:
        each.parent.mkdir(parents=True, exist_ok=True)
    writers: list[_ParquetChunkWriter] = []
    try:
        for each, _, schema in outputs:
            distinct = ("user_id", "movie_id") if schema is EXPORT_SCHEMA else ()
            writers.append(_ParquetChunkWriter(each, chunk_bytes, schema, distinct))
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            with connection.cursor() as cursor:
                if outermost:  # only the first statement of a transaction may set this
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT now()")
                snapshot_at = cursor.fetchone()[0]
                for writer, (_, sql, _) in zip(writers, outputs, strict=True):
                    cursor.copy_expert(sql, writer)
        for writer in writers:
            writer.finish()
    except BaseException:
        for writer in writers:
            writer.discard()
        for each, _, _ in outputs:
            with contextlib.suppress(OSError):
                each.unlink(missing_ok=True)
        raise
    return RatingsExport(
        path=path,
        rows=writers[0].rows,
        snapshot_at=snapshot_at,
        users=writers[0].distinct_count("user_id"),
        movies=writers[0].distinct_count("movie_id"),
        taste_versions_path=taste_versions_path,
        hidden_path=hidden_path,
    )
