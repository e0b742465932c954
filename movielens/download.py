"""Download a MovieLens zip from GroupLens into a local cache, verified before it is kept."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from django.conf import settings
from tqdm import tqdm

from .errors import MovieLensError

DATASETS = ("ml-latest-small", "ml-latest", "ml-32m", "ml-25m", "ml-20m", "ml-10m", "ml-1m", "ml-100k")
CHUNK = 1 << 20
TIMEOUT = 60
MD5_RE = re.compile(r"\b([0-9a-fA-F]{32})\b")


class MovieLensDownloadError(MovieLensError):
    pass


def movielens_download(
    *, name: str, progress: bool = True, cache_dir: Path | None = None, base_url: str | None = None
) -> Path:
    """Return the path of NAME.zip in the cache, downloading and verifying it first if needed.

    Fetches `<MOVIELENS_DOWNLOAD_BASE_URL>/NAME.zip` and, when GroupLens publishes one, NAME.zip.md5
    (a 404 means "no checksum"). The download goes to a temporary file in the cache folder and is
    renamed to NAME.zip only once it is complete (Content-Length), matches the checksum and opens as
    a zip whose members pass their CRC checks. A cached NAME.zip was verified that way, so it is
    reused without network access. Raises MovieLensDownloadError and leaves no file behind otherwise.
    """
    if name not in DATASETS:
        raise MovieLensDownloadError(f"unknown data set {name!r}; choose one of: {', '.join(DATASETS)}")
    cache = Path(cache_dir or settings.MOVIELENS_CACHE_DIR)
    base = (base_url or settings.MOVIELENS_DOWNLOAD_BASE_URL).rstrip("/") + "/"
    target = cache / f"{name}.zip"
    if target.is_file() and zipfile.is_zipfile(target):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    url = f"{base}{name}.zip"
    expected = _published_md5(url + ".md5")
    handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=cache)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _fetch(url, out, progress=progress)
        if expected is not None and digest != expected:
            raise MovieLensDownloadError(f"{url}: checksum mismatch (MD5 {digest}, published {expected})")
        _check_zip(url, temp)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _published_md5(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            text = response.read(4096).decode("ascii", errors="replace")
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise MovieLensDownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise MovieLensDownloadError(f"{url}: {exc}") from exc
    match = MD5_RE.search(text)
    if not match:
        raise MovieLensDownloadError(f"{url}: no MD5 checksum in the published file")
    return match.group(1).lower()


def _fetch(url: str, out, *, progress: bool) -> str:
    """Stream the URL into `out`; return the MD5 hex digest. Raises on HTTP errors and short reads."""
    md5 = hashlib.md5(usedforsecurity=False)
    received = 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            with tqdm(
                desc=url.rsplit("/", 1)[-1],
                total=expected,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                disable=None if progress else True,
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    md5.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except urllib.error.HTTPError as exc:
        raise MovieLensDownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise MovieLensDownloadError(f"{url}: download failed after {received} bytes ({exc})") from exc
    except Exception as exc:  # http.client.IncompleteRead and friends
        raise MovieLensDownloadError(f"{url}: download failed after {received} bytes ({exc!r})") from exc
    if expected is not None and received != expected:
        raise MovieLensDownloadError(f"{url}: download incomplete ({received} of {expected} bytes)")
    return md5.hexdigest()


def _check_zip(url: str, path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise MovieLensDownloadError(f"{url}: not a valid zip file ({exc})") from exc
    except Exception as exc:  # zlib.error on corrupt data
        raise MovieLensDownloadError(f"{url}: corrupt zip file ({exc})") from exc
    if broken is not None:
        raise MovieLensDownloadError(f"{url}: corrupt zip file (bad CRC in {broken})")
