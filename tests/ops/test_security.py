"""Hardening: deploy checks, security headers and the Content-Security-Policy, rate limits, enumeration."""

import subprocess

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from accounts.models import User
from tests.factories import UserFactory
from tests.ops.conftest import PYTHON, ROOT, subprocess_env

PASSWORD = "a-long-pass-phrase"


def csp_directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split(" ", 1)[0]: part.split(" ", 1)[1] for part in (p.strip() for p in header.split(";")) if part}


# --- Production settings ---


def production_env(**extra: str) -> dict[str, str]:
    env = subprocess_env(
        DEBUG="0",
        SECRET_KEY="production-like-" + "k3y" * 20,
        ALLOWED_HOSTS="movies.example.com",
        **extra,
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set while a browser test module runs; never in production
    return env


@pytest.mark.parametrize("behind_proxy", ["0", "1"])
def test_deploy_checks_pass_with_production_settings(behind_proxy):
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=production_env(BEHIND_TLS_PROXY=behind_proxy),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_are_hardened():
    code = (
        "from django.conf import settings as s\n"
        "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
        " s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY, s.SECURE_PROXY_SSL_HEADER, s.LOG_FORMAT)"
    )
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "shell", "-c", code],
        env=production_env(BEHIND_TLS_PROXY="1"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "True",
        "True",
        "True",
        "31536000",
        "DENY",
        "same-origin",
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "json",
    ]


# --- Headers and the Content-Security-Policy ---


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/", "/accounts/login/", "/accounts/signup/", "/healthz"])
def test_site_pages_get_a_strict_csp_and_security_headers(client, url):
    response = client.get(url)
    assert response.status_code == 200
    csp = csp_directives(response)
    assert csp["default-src"] == "'self'"
    assert csp["script-src"] == "'self'"  # no inline scripts, no eval, no other origin
    assert csp["style-src"] == "'self'"
    assert csp["img-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'" and csp["form-action"] == "'self'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.django_db
def test_swagger_ui_and_the_browsable_api_get_only_their_own_additions(client):
    docs = csp_directives(client.get("/api/docs/"))
    assert docs["script-src"] == "'self'"  # the split view loads Swagger's start-up script as a file
    assert docs["style-src"] == "'self' 'unsafe-inline'"
    assert docs["img-src"] == "'self' data:"
    assert docs["frame-ancestors"] == "'none'"
    api = csp_directives(client.get("/api/v1/genres/", HTTP_ACCEPT="text/html"))
    assert api["script-src"] == "'self'" and api["style-src"] == "'self' 'unsafe-inline'"
    schema = csp_directives(client.get("/api/schema/"))
    assert schema["script-src"] == "'self'" and schema["style-src"] == "'self'"


# --- Rate limits ---


@pytest.fixture
def limits_on(settings):
    settings.RATELIMIT_ENABLE = True
    return settings


def sign_up(username: str, *, ip: str = "198.51.100.1", email: str = ""):
    return Client(REMOTE_ADDR=ip).post(
        reverse("signup"),
        {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


@pytest.mark.django_db
def test_sign_up_is_rate_limited_per_address(limits_on):
    limits_on.SIGNUP_RATE_LIMIT = "2/h"
    assert sign_up("ann").status_code == 302
    assert sign_up("ben").status_code == 302
    refused = sign_up("cat")
    assert refused.status_code == 429
    assert b"Too many attempts" in refused.content
    assert "Content-Security-Policy" in refused
    assert not User.objects.filter(username="cat").exists()
    assert sign_up("cat", ip="198.51.100.2").status_code == 302  # another address is not affected
    assert Client(REMOTE_ADDR="198.51.100.1").get(reverse("signup")).status_code == 200  # the form still shows


@pytest.mark.django_db
def test_behind_a_proxy_the_limit_is_per_forwarded_client(limits_on):
    limits_on.SIGNUP_RATE_LIMIT = "1/h"
    limits_on.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    def via_proxy(username, client_ip):
        client = Client(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=client_ip, HTTP_X_FORWARDED_PROTO="https")
        data = {"username": username, "password1": PASSWORD, "password2": PASSWORD}
        return client.post(reverse("signup"), data, secure=True)

    assert via_proxy("dan", "203.0.113.1").status_code == 302
    assert via_proxy("eve", "203.0.113.2").status_code == 302
    assert via_proxy("fay", "203.0.113.1").status_code == 429


@pytest.mark.django_db
def test_password_reset_is_rate_limited_per_address(limits_on):
    limits_on.PASSWORD_RESET_RATE_LIMIT = "3/h"
    client = Client(REMOTE_ADDR="198.51.100.3")
    for i in range(3):
        assert client.post(reverse("password_reset"), {"email": f"nobody{i}@example.com"}).status_code == 302
    assert client.post(reverse("password_reset"), {"email": "nobody9@example.com"}).status_code == 429


@pytest.mark.django_db
def test_password_reset_mails_one_address_only_so_often_from_anywhere(limits_on):
    limits_on.PASSWORD_RESET_EMAIL_RATE_LIMIT = "2/h"
    UserFactory(username="gil", email="gil@example.com")
    answers = [
        Client(REMOTE_ADDR=f"198.51.100.{10 + i}").post(reverse("password_reset"), {"email": email}).status_code
        for i, email in enumerate(["gil@example.com", "GIL@example.com ", "gil@example.com"])
    ]
    assert answers == [302, 302, 429]
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_the_api_token_endpoint_is_throttled_per_address(monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "auth_token", "3/hour")
    client = APIClient(REMOTE_ADDR="198.51.100.20")
    url = reverse("api:token")
    # Different usernames each time: axes' per-username lockout never starts, the throttle does.
    for i in range(3):
        response = client.post(url, {"username": f"user{i}", "password": "wrong"}, format="json")
        assert response.status_code == 401
    refused = client.post(url, {"username": "user9", "password": "wrong"}, format="json")
    assert refused.status_code == 429
    assert "error" in refused.json() and "Retry-After" in refused
    other = APIClient(REMOTE_ADDR="198.51.100.21")
    assert other.post(url, {"username": "user9", "password": "wrong"}, format="json").status_code == 401


# --- Account enumeration ---


@pytest.mark.django_db
def test_password_reset_answers_the_same_whether_or_not_an_account_exists(client):
    UserFactory(username="hal", email="hal@example.com")
    known = client.post(reverse("password_reset"), {"email": "hal@example.com"})
    unknown = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert (known.status_code, known.url) == (unknown.status_code, unknown.url)
    done = client.get(known.url)
    assert b"If an account uses that address" in done.content
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["hal@example.com"]


@pytest.mark.django_db
def test_sign_up_does_not_tell_whether_an_email_address_has_an_account():
    UserFactory(username="ida", email="ida@example.com")
    taken = sign_up("ivy", email="ida@example.com")
    fresh = sign_up("jon", email="jon@example.com", ip="198.51.100.5")
    assert (taken.status_code, taken.url) == (fresh.status_code, fresh.url) == (302, reverse("welcome"))


# --- In a real browser ---


def open_page(browser, live_server, path: str):
    """Opens `path`; returns the page, its context and the CSP violations it reported."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(path)
    return page, context, violations


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_works_under_the_csp(browser, live_server):
    page, context, violations = open_page(browser, live_server, "/api/docs/")
    try:
        page.wait_for_selector(".opblock-tag", state="attached")  # the schema loaded and rendered
        assert page.locator(".opblock").count() > 10
        page.wait_for_load_state("networkidle")
        assert violations == []
    finally:
        context.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/", "/movies/", "/accounts/login/", "/accounts/signup/"])
def test_site_pages_break_no_csp_rule(browser, live_server, path):
    page, context, violations = open_page(browser, live_server, path)
    try:
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.documentElement.classList.contains('js')")  # site.js ran
        assert violations == []
    finally:
        context.close()
