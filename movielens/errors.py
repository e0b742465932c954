"""Errors of the MovieLens import, and the collector that decides between failing and skipping."""

from __future__ import annotations

from dataclasses import dataclass, field

# Keep the first issues for the report; count the rest (a broken 25M-row file must not fill memory).
ISSUES_KEPT = 1000


class MovieLensError(Exception):
    """Anything that stops an import: bad input, an unknown format, a failed download."""


class MovieLensFormatError(MovieLensError):
    """A folder or zip that is not a MovieLens data set, or a file without a required column."""


class MovieLensRowError(MovieLensError):
    """A bad row: carries the file and line so the message points at it."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        super().__init__(format_location(file, line, reason))


def format_location(file: str, line: int | None, reason: str) -> str:
    return f"{file}:{line}: {reason}" if line is not None else f"{file}: {reason}"


@dataclass
class Issues:
    """Bad rows found while reading: raised at once, or (with `skip_invalid`) recorded and skipped."""

    skip_invalid: bool = False
    count: int = 0
    kept: list[str] = field(default_factory=list)

    def mark(self) -> tuple[int, int]:
        return self.count, len(self.kept)

    def rewind(self, mark: tuple[int, int]) -> None:
        """Forget issues reported since `mark` (a reader that is about to be re-run)."""
        self.count = mark[0]
        del self.kept[mark[1] :]

    def report(self, file: str, line: int | None, reason: str) -> None:
        """Raise MovieLensRowError, or record the issue when skipping invalid rows."""
        if not self.skip_invalid:
            raise MovieLensRowError(file, line, reason)
        self.count += 1
        if len(self.kept) < ISSUES_KEPT:
            self.kept.append(format_location(file, line, reason))
