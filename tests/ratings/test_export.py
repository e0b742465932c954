from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from accounts.selectors import user_taste_version
from ratings.export import ratings_export_to_parquet
from ratings.services import not_interested_add
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
    assert (export.users, export.movies) == (len(users), len(movies))  # counted across chunks, each once
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


@pytest.mark.django_db(transaction=True)
def test_export_writes_every_users_taste_version_and_hidden_movies_with_the_ratings(tmp_path):
    alice, bob, carol = UserFactory.create_batch(3)
    movies = MovieFactory.create_batch(3)
    RatingFactory(user=alice, movie=movies[0])
    RatingFactory(user=alice, movie=movies[1])
    not_interested_add(user=bob, movie=movies[2])

    export = ratings_export_to_parquet(
        path=tmp_path / "ratings.parquet",
        taste_versions_path=tmp_path / "taste_versions.parquet",
        hidden_path=tmp_path / "hidden.parquet",
    )

    versions = pq.read_table(export.taste_versions_path).to_pydict()
    assert dict(zip(versions["user_id"], versions["taste_version"], strict=True)) == {
        user.pk: user_taste_version(user=user) for user in (alice, bob, carol)
    }
    assert user_taste_version(user=alice) == 2 and user_taste_version(user=carol) == 0
    assert pq.read_table(export.hidden_path).to_pydict() == {"user_id": [bob.pk], "movie_id": [movies[2].pk]}


@pytest.mark.django_db(transaction=True)
def test_a_failed_export_leaves_none_of_its_files(tmp_path):
    RatingFactory()
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "hidden.parquet").mkdir()  # a folder where the file should go
    with pytest.raises(OSError):
        ratings_export_to_parquet(
            path=tmp_path / "ratings.parquet",
            taste_versions_path=tmp_path / "taste_versions.parquet",
            hidden_path=blocked / "hidden.parquet",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked"]
