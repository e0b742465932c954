import shutil
import zipfile
from pathlib import Path

import pytest

from accounts.models import User
from catalog.models import Genre, Movie, Tag
from ratings.models import Rating

MOVIELENS = Path(__file__).resolve().parent.parent / "fixtures" / "movielens"


@pytest.fixture
def movielens_copy(tmp_path):
    """Copy a fixture data set into tmp_path (to edit it) and return the copy's folder."""

    def copy(name: str, folder: str | None = None) -> Path:
        target = tmp_path / (folder or name)
        shutil.copytree(MOVIELENS / name, target)
        return target

    return copy


def zip_folder(folder: Path, target: Path, *, top: str | None = None) -> Path:
    """Zip a data set folder the way GroupLens does: one top folder holding the files."""
    top = folder.name if top is None else top
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, f"{top}/{path.name}" if top else path.name)
    return target


def database_snapshot() -> dict:
    """Everything the import writes, to show that a failed import changed nothing."""
    movie_genres = list(
        Movie.genres.through.objects.order_by("movie_id", "genre__name").values_list("movie_id", "genre__name")
    )
    return {
        "movies": list(Movie.objects.order_by("id").values_list("id", "title", "year", "imdb_id", "tmdb_id")),
        "stats": list(Movie.objects.order_by("id").values_list("id", "rating_count", "rating_mean")),
        "genres": list(Genre.objects.order_by("name").values_list("name", flat=True)),
        "movie_genres": movie_genres,
        "users": list(User.objects.order_by("username").values_list("username", "movielens_id")),
        "ratings": list(
            Rating.objects.order_by("user__movielens_id", "movie_id").values_list(
                "user__movielens_id", "movie_id", "value", "rated_at"
            )
        ),
        "tags": list(
            Tag.objects.order_by("user__movielens_id", "movie_id", "tag").values_list(
                "user__movielens_id", "movie_id", "tag", "tagged_at"
            )
        ),
    }


def replace_line(path: Path, line: int, text: str, *, encoding: str = "utf-8") -> None:
    """Replace 1-based line `line` of a file (to plant a bad row)."""
    lines = path.read_text(encoding=encoding).splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding=encoding)


def append_line(path: Path, text: str, *, encoding: str = "utf-8") -> int:
    """Append a line; returns its 1-based line number."""
    content = path.read_text(encoding=encoding)
    if not content.endswith("\n"):
        content += "\n"
    path.write_text(content + text + "\n", encoding=encoding)
    return content.count("\n") + 1
