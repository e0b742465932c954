"""Where the files of a data set come from: a folder, or a zip read in place (never extracted)."""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from .errors import MovieLensError

# Errors a damaged zip raises while a member is read (CRC mismatch, bad deflate data, truncation).
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
BUFFER = 1 << 20
# A folder may hold the data set one or two levels down (e.g. a folder with ml-latest-small/ in it).
SEARCH_DEPTH = 2


class DataSource:
    """A folder or zip holding MovieLens files, grouped by the directory they are in.

    `folders` maps a directory ('' for the top) to the file names in it. `select(folder)` fixes the
    directory the data set lives in; after that `names`, `open(name)` and `label(name)` refer to it.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = ""
        self.folders: dict[str, set[str]] = {}

    def select(self, folder: str) -> None:
        self.folder = folder

    @property
    def names(self) -> set[str]:
        return self.folders.get(self.folder, set())

    def member(self, name: str) -> str:
        return str(PurePosixPath(self.folder, name)) if self.folder else name

    def label(self, name: str) -> str:
        """How a file is named in messages: its path, or zip path plus member."""
        raise NotImplementedError

    def size(self, name: str) -> int:
        raise NotImplementedError

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        raise NotImplementedError
        yield  # pragma: no cover

    def close(self) -> None:
        pass


class FolderSource(DataSource):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        base_depth = len(path.parts)
        for root, dirs, files in os.walk(path):
            depth = len(Path(root).parts) - base_depth
            dirs[:] = sorted(d for d in dirs if not d.startswith(".")) if depth < SEARCH_DEPTH else []
            relative = Path(root).relative_to(path).as_posix()
            self.folders[relative if relative != "." else ""] = set(files)

    def label(self, name: str) -> str:
        return str(self.path / self.member(name))

    def size(self, name: str) -> int:
        return (self.path / self.member(name)).stat().st_size

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with open(self.path / self.member(name), "rb", buffering=BUFFER) as handle:
            yield handle


class ZipSource(DataSource):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        try:
            self.zip = zipfile.ZipFile(path)
            infos = self.zip.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise MovieLensError(
                f"{path}: not a readable zip file ({exc}); a download cut short leaves a truncated zip: fetch it again"
            ) from exc
        self.infos = {info.filename: info for info in infos}
        for info in infos:
            member = PurePosixPath(info.filename)
            if info.is_dir() or "__MACOSX" in member.parts or member.name.startswith("._"):
                continue
            parent = member.parent.as_posix()
            self.folders.setdefault(parent if parent != "." else "", set()).add(member.name)

    def label(self, name: str) -> str:
        return f"{self.path}:{self.member(name)}"

    def size(self, name: str) -> int:
        return self.infos[self.member(name)].file_size

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        try:
            raw = self.zip.open(self.member(name))
        except READ_ERRORS as exc:
            raise MovieLensError(f"{self.label(name)}: cannot read from the zip ({exc})") from exc
        with io.BufferedReader(raw, buffer_size=BUFFER) as handle:
            yield handle

    def close(self) -> None:
        self.zip.close()


def open_source(path: Path) -> DataSource:
    """Open a folder or a .zip; raise MovieLensError if it is neither or the zip is unreadable."""
    if path.is_dir():
        return FolderSource(path)
    if path.is_file():
        if path.suffix.lower() != ".zip" and not zipfile.is_zipfile(path):
            raise MovieLensError(
                f"{path}: a single file, not a data set: give the folder that holds it (with the other files of "
                "the release) or the release's zip"
            )
        return ZipSource(path)
    raise MovieLensError(f"{path}: no such folder or zip file")
