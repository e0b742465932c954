"""With TMDB on, the Content-Security-Policy allows its image host, and only that; without it, nothing more."""

import subprocess

import pytest

from tests.ops.conftest import PYTHON, ROOT, subprocess_env

# The CSP is built from the environment when settings load, so each case starts a fresh Django.
SHOW_CSP = "from django.test import Client\nprint(Client().get('/healthz')['Content-Security-Policy'])\n"


def csp_with(**env: str) -> dict[str, str]:
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "shell", "-c", SHOW_CSP],
        env=subprocess_env(
            **({"DEBUG": "1", "ALLOWED_HOSTS": "testserver", "TMDB_API_KEY": "", "TMDB_READ_TOKEN": ""} | env)
        ),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    header = result.stdout.strip().splitlines()[-1]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in header.split(";")) if part}


@pytest.mark.parametrize("credential", ["TMDB_API_KEY", "TMDB_READ_TOKEN"])
def test_tmdb_on_allows_its_image_host_in_img_src_only(credential):
    csp = csp_with(**{credential: "some-credential"})
    assert csp["img-src"] == "'self' https://image.tmdb.org"
    assert csp["default-src"] == "'self'" and csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'"  # the browser never talks to TMDB's API


def test_tmdb_off_keeps_images_to_the_site_itself():
    assert csp_with()["img-src"] == "'self'"
