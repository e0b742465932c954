from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from ratings.export import ratings_export_to_parquet
from tests.factories import MovieFactory, RatingFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_export_streams_every_rating_into_parquet_in_small_chunks(tmp_path):
    users, movies = UserFactory.create_batch(7), MovieFactory.create_batch(9)
    expected = set()
    for i, user in enumerate(users):
        for j, movie in enumerate(movies):
            if (i + j) % 2 == 0:
                value = Decimal(1 + (i * j) % 9) / 2
                RatingFactory(user=user, movie=movie, value=value)
                expected.add((user.pk, movie.pk, float(value)))

    # A tiny chunk size forces many row groups and line-boundary cuts.
    export = ratings_export_to_parquet(path=tmp_path / "ratings.parquet", chunk_bytes=64)

    table = pq.read_table(export.path)
    assert export.rows == len(expected) == table.num_rows
    assert [f.name for f in table.schema] == ["user_id", "movie_id", "rating", "ts"]
    rows = table.to_pydict()
    assert set(zip(rows["user_id"], rows["movie_id"], rows["rating"], strict=True)) == expected
    assert pq.ParquetFile(export.path).num_row_groups > 1


@pytest.mark.django_db(transaction=True)
def test_export_to_an_unwritable_folder_fails_clearly_and_leaves_nothing(tmp_path):
    RatingFactory()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be")
    with pytest.raises(OSError):
        ratings_export_to_parquet(path=blocked / "ratings.parquet")
