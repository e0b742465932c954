"""--download against a local HTTP server: verified, cached, and nothing kept when it goes wrong."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Movie
from movielens.download import MovieLensDownloadError, movielens_download
from ratings.models import Rating
from tests.movielens.conftest import MOVIELENS, zip_folder


class Files(BaseHTTPRequestHandler):
    """Serves `routes`: path -> bytes, or (bytes, declared length) to cut the body short."""

    routes: dict = {}
    requests: list = []

    def do_GET(self):  # noqa: N802 - http.server API
        type(self).requests.append(self.path)
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        body, length = route if isinstance(route, tuple) else (route, len(route))
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server(settings, tmp_path):
    Files.routes, Files.requests = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    settings.MOVIELENS_DOWNLOAD_BASE_URL = f"http://127.0.0.1:{httpd.server_address[1]}/datasets/movielens"
    settings.MOVIELENS_CACHE_DIR = tmp_path / "cache"
    yield Files
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def small_zip(tmp_path) -> bytes:
    return zip_folder(MOVIELENS / "ml-latest-tiny", tmp_path / "source.zip", top="ml-latest-small").read_bytes()


def cache_files(settings) -> list[str]:
    cache = settings.MOVIELENS_CACHE_DIR
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_download_verifies_the_published_md5_and_keeps_the_zip(server, settings, small_zip):
    md5 = hashlib.md5(small_zip).hexdigest()
    server.routes["/datasets/movielens/ml-latest-small.zip"] = small_zip
    server.routes["/datasets/movielens/ml-latest-small.zip.md5"] = f"MD5 (ml-latest-small.zip) = {md5}\n".encode()

    path = movielens_download(name="ml-latest-small", progress=False)

    assert path == settings.MOVIELENS_CACHE_DIR / "ml-latest-small.zip"
    assert path.read_bytes() == small_zip
    assert cache_files(settings) == ["ml-latest-small.zip"]


def test_a_missing_md5_means_no_checksum(server, settings, small_zip):
    server.routes["/datasets/movielens/ml-100k.zip"] = small_zip

    assert movielens_download(name="ml-100k", progress=False).read_bytes() == small_zip
    assert "/datasets/movielens/ml-100k.zip.md5" in server.requests


def test_a_cached_zip_is_reused_without_the_network(server, settings, small_zip):
    server.routes["/datasets/movielens/ml-1m.zip"] = small_zip
    first = movielens_download(name="ml-1m", progress=False)
    server.routes.clear()
    server.requests.clear()

    assert movielens_download(name="ml-1m", progress=False) == first
    assert server.requests == []


def test_a_checksum_mismatch_keeps_nothing(server, settings, small_zip):
    server.routes["/datasets/movielens/ml-latest-small.zip"] = small_zip
    server.routes["/datasets/movielens/ml-latest-small.zip.md5"] = (
        b"0123456789abcdef0123456789abcdef  ml-latest-small.zip"
    )

    with pytest.raises(MovieLensDownloadError, match="checksum mismatch"):
        movielens_download(name="ml-latest-small", progress=False)
    assert cache_files(settings) == []


def test_a_download_cut_short_keeps_nothing(server, settings, small_zip):
    server.routes["/datasets/movielens/ml-latest-small.zip"] = (small_zip[:100], len(small_zip))

    with pytest.raises(MovieLensDownloadError, match=rf"incomplete \(100 of {len(small_zip)} bytes\)|failed after"):
        movielens_download(name="ml-latest-small", progress=False)
    assert cache_files(settings) == []


def test_a_corrupt_zip_without_checksum_keeps_nothing(server, settings, small_zip):
    corrupt = bytearray(small_zip)
    corrupt[60:90] = bytes(30)
    server.routes["/datasets/movielens/ml-latest-small.zip"] = bytes(corrupt)

    with pytest.raises(MovieLensDownloadError, match="zip file"):
        movielens_download(name="ml-latest-small", progress=False)
    assert cache_files(settings) == []


def test_a_server_error_is_reported(server, settings):
    with pytest.raises(MovieLensDownloadError, match="HTTP 404"):
        movielens_download(name="ml-25m", progress=False)
    assert cache_files(settings) == []


def test_unknown_data_set_names_are_refused(server):
    with pytest.raises(MovieLensDownloadError, match="unknown data set 'ml-2m'"):
        movielens_download(name="ml-2m", progress=False)


@pytest.mark.django_db(transaction=True)
def test_command_downloads_then_imports(server, settings, small_zip, capsys):
    server.routes["/datasets/movielens/ml-latest-small.zip"] = small_zip

    call_command("import_movielens", "--download", "ml-latest-small", "--no-progress")

    assert Movie.objects.get(pk=858).title == "Godfather, The (1972)"
    assert Rating.objects.count() == 8
    assert "ml-latest-small.zip" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_command_reports_a_failed_download_and_imports_nothing(server, settings, small_zip):
    server.routes["/datasets/movielens/ml-latest-small.zip"] = small_zip
    server.routes["/datasets/movielens/ml-latest-small.zip.md5"] = b"ffffffffffffffffffffffffffffffff"

    with pytest.raises(CommandError, match="checksum mismatch"):
        call_command("import_movielens", "--download", "ml-latest-small", "--no-progress")
    assert not Movie.objects.exists()
    assert cache_files(settings) == []


@pytest.mark.django_db(transaction=True)
def test_ml_32m_downloads_and_imports(server, settings, tmp_path):
    # GroupLens' newest benchmark release (ml-32m.zip holding ml-32m/), as generated in its own layout.
    from tests.fixtures.movielens_releases import SPECS, build, write_release, zip_release

    spec = next(spec for spec in SPECS if spec.name == "ml-32m")
    release = build(spec, users=10)
    archive = zip_release(write_release(spec, release, tmp_path), tmp_path / "ml-32m.zip").read_bytes()
    server.routes["/datasets/movielens/ml-32m.zip"] = archive
    md5 = hashlib.md5(archive).hexdigest()
    server.routes["/datasets/movielens/ml-32m.zip.md5"] = f"{md5}  ml-32m.zip\n".encode()

    call_command("import_movielens", "--download", "ml-32m", "--no-progress")

    assert Rating.objects.count() == len(release.ratings)
    assert cache_files(settings) == ["ml-32m.zip"]
