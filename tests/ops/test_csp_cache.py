"""The Content-Security-Policy header, built once per view and process (ops.middleware), is the one django-csp builds
afresh, and a view or page with a policy of its own still gets django-csp's own."""

import pytest
from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import ResolverMatch

from ops import middleware
from ops.middleware import ContentSecurityPolicyMiddleware

VIEWS = ["home", "api:me", "api:movie_list", "api_docs", None]


def _request(view_name):
    request = RequestFactory().get("/somewhere/")
    if view_name is not None:
        namespace, _, url_name = view_name.rpartition(":")
        request.resolver_match = ResolverMatch(
            lambda r: None, (), {}, url_name=url_name, namespaces=[namespace] if namespace else []
        )
    return request


def _headers(middleware_class, view_name, response=None):
    request = _request(view_name)
    instance = middleware_class(lambda r: response or HttpResponse("ok"))
    instance.process_request(request)
    answered = instance.process_response(request, response or HttpResponse("ok"))
    return {name: answered.get(name) for name in ("Content-Security-Policy", "Content-Security-Policy-Report-Only")}


def _directives(header):
    return {part.strip() for part in header.split(";")} if header else header


def _uncached(view_name, response=None):
    """django-csp's own process_response with this project's per-view additions."""

    class Uncached(ContentSecurityPolicyMiddleware):
        process_response = CSPMiddleware.process_response

    return _headers(Uncached, view_name, response)


@pytest.mark.parametrize("view_name", VIEWS)
def test_the_cached_header_is_django_csps(view_name):
    middleware._csp_policies.clear()
    for _ in range(2):  # built, then from the cache
        cached = _headers(ContentSecurityPolicyMiddleware, view_name)
        fresh = _uncached(view_name)
        assert {k: _directives(v) for k, v in cached.items()} == {k: _directives(v) for k, v in fresh.items()}
    assert cached["Content-Security-Policy"]


def test_views_get_their_own_additions():
    middleware._csp_policies.clear()
    docs = _directives(_headers(ContentSecurityPolicyMiddleware, "api_docs")["Content-Security-Policy"])
    site = _directives(_headers(ContentSecurityPolicyMiddleware, "home")["Content-Security-Policy"])
    assert "img-src 'self' data:" in docs and "img-src 'self'" in site


def test_a_policy_of_the_views_own_takes_django_csps_way():
    response = csp_update({"img-src": ["https://example.org"]})(lambda request: HttpResponse("ok"))(_request("home"))
    header = _headers(ContentSecurityPolicyMiddleware, "home", response)["Content-Security-Policy"]
    assert "img-src 'self' https://example.org" in _directives(header)
    plain = _headers(ContentSecurityPolicyMiddleware, "home")["Content-Security-Policy"]
    assert "img-src 'self'" in _directives(plain)  # the view's addition did not leak into the cached header


def _nonce_header():
    request = _request("home")
    instance = ContentSecurityPolicyMiddleware(lambda r: HttpResponse("ok"))
    instance.process_request(request)
    nonce = str(request.csp_nonce)  # a page that used its nonce
    return nonce, instance.process_response(request, HttpResponse("ok"))["Content-Security-Policy"]


def test_a_page_with_a_nonce_gets_its_own_nonce(settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": [SELF], "script-src": [SELF, NONCE]}}
    middleware._csp_policies.clear()
    first, second = _nonce_header(), _nonce_header()
    assert first[0] != second[0]
    for nonce, header in (first, second):
        assert f"script-src 'self' 'nonce-{nonce}'" in _directives(header)
    assert _directives(_headers(ContentSecurityPolicyMiddleware, "home")["Content-Security-Policy"]) == {
        "default-src 'self'",
        "script-src 'self'",
    }


def test_the_nonce_is_refused_once_the_header_is_written():
    request = _request("home")
    instance = ContentSecurityPolicyMiddleware(lambda r: HttpResponse("ok"))
    instance.process_request(request)
    instance.process_response(request, HttpResponse("ok"))
    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def test_a_settings_change_rebuilds_the_header(settings):
    middleware._csp_policies.clear()
    before = _headers(ContentSecurityPolicyMiddleware, "home")["Content-Security-Policy"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}
    after = _headers(ContentSecurityPolicyMiddleware, "home")["Content-Security-Policy"]
    assert after == "default-src 'none'" and before != after
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    assert _headers(ContentSecurityPolicyMiddleware, "home")["Content-Security-Policy-Report-Only"] == (
        "default-src 'self'"
    )
