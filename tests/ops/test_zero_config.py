"""The zero-config path: with DATABASE_URL unset the project runs on an embedded PostgreSQL."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "movielens" / "ml-latest-tiny"


def _manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow
def test_embedded_postgres_migrates_imports_and_keeps_data_across_restarts():
    # Unix socket paths are limited to ~100 characters, so the data folder lives under /tmp.
    with tempfile.TemporaryDirectory(prefix="mr-pg-", dir="/tmp") as data_dir:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(DEBUG="1", EMBEDDED_DB_DIR=data_dir)
        try:
            migrate = _manage("migrate", "-v0", env=env)
            assert migrate.returncode == 0, migrate.stderr
            imported = _manage("import_movielens", str(FIXTURE), "--no-progress", env=env)
            assert imported.returncode == 0, imported.stderr

            # Stop the server, then a new process must start it again and find the data.
            stop = _stop_server(data_dir, env)
            assert stop.returncode == 0, stop.stderr
            assert not _server_running(data_dir), "stop_embedded_server left the server running"
            count = _manage(
                "shell",
                "-c",
                "from catalog.models import Movie; from django.db import connection; "
                "print(connection.vendor, connection.settings_dict['NAME'], Movie.objects.count())",
                env=env,
            )
            assert count.returncode == 0, count.stderr
            vendor, name, movies = count.stdout.strip().splitlines()[-1].split()
            assert vendor == "postgresql" and name == "movierec"
            assert int(movies) > 0
        finally:
            _stop_server(data_dir, env)


def _stop_server(data_dir: str, env: dict) -> subprocess.CompletedProcess:
    """What `make db-stop` does, for the server of `data_dir`, in a process of its own."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from pathlib import Path; from movierec_site.embedded_db import "
            f"stop_embedded_server; stop_embedded_server(Path({data_dir!r}))",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _server_running(data_dir: str) -> bool:
    """Whether a postgres process serves `data_dir` (`make db-stop` must really stop it, also as root)."""
    import psutil

    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if cmdline and cmdline[0].endswith("/postgres") and data_dir in cmdline:
            return True
    return False
