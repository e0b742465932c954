"""Stream all ratings out of PostgreSQL into Parquet, for Spark.

COPY ... TO STDOUT feeds a writer that cuts the CSV stream at line boundaries into chunks of a
few tens of MB, parses each chunk with Arrow and appends it to a Parquet file. Memory stays
bounded by the chunk size whatever the number of ratings; nothing passes through Python lists
or model instances.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
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

_EXPORT_SQL = """
COPY (
    SELECT user_id, movie_id, value::float4, extract(epoch FROM rated_at)::bigint
    FROM ratings_rating
) TO STDOUT WITH (FORMAT csv)
"""


@dataclass(frozen=True)
class RatingsExport:
    path: Path
    rows: int
    snapshot_at: datetime


class _ParquetChunkWriter(io.RawIOBase):
    """A write-only file object: psycopg2 writes COPY output here, we emit Parquet row groups."""

    def __init__(self, path: Path, chunk_bytes: int) -> None:
        self._writer = pq.ParquetWriter(str(path), EXPORT_SCHEMA, compression="snappy")
        self._buffer = bytearray()
        self._chunk_bytes = chunk_bytes
        self.rows = 0

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
            read_options=pacsv.ReadOptions(column_names=EXPORT_SCHEMA.names),
            convert_options=pacsv.ConvertOptions(column_types=EXPORT_SCHEMA),
        )
        self._writer.write_table(table)
        self.rows += table.num_rows

    def finish(self) -> None:
        if self._buffer:
            self._flush(bytes(self._buffer))
            self._buffer.clear()
        self._writer.close()


def ratings_export_to_parquet(*, path: Path, chunk_bytes: int = 32 * 1024 * 1024) -> RatingsExport:
    """Write every rating to the Parquet file `path` (user_id int, movie_id int, rating float, ts long).

    Reads one consistent snapshot (REPEATABLE READ); `snapshot_at` is that snapshot's time, so
    ratings written later are recognisably newer. Raises OSError when `path` is not writable.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _ParquetChunkWriter(path, chunk_bytes)
    try:
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            with connection.cursor() as cursor:
                if outermost:  # only the first statement of a transaction may set this
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT now()")
                snapshot_at = cursor.fetchone()[0]
                cursor.copy_expert(_EXPORT_SQL, writer)
        writer.finish()
    except BaseException:
        try:
            writer.finish()
        finally:
            path.unlink(missing_ok=True)
        raise
    return RatingsExport(path=path, rows=writer.rows, snapshot_at=snapshot_at)
