"""The HTTP edge: oversized bodies are refused before anything parses them or asks who sent them
(413); every response carries the browser security headers; behind a TLS-terminating proxy the pages
name their assets by path, so nothing is fetched over plain HTTP from an HTTPS page."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, Platform, login, running_platform

LIMIT = 64 * 1024


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite only: the edge acts before any database is asked."""
    return f"sqlite:///{tmp_path / 'storeplane.db'}"


@pytest.fixture
def platform(db: Db, tmp_path) -> Iterator[Platform]:
    with running_platform(db, tmp_path, trusted_proxies="10.0.0.0/8") as running:
        yield running


def _too_large(response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == (
        f"The request body is larger than {LIMIT} bytes, the most this API accepts."
    )


@pytest.mark.parametrize("path", ["/api/v1/stores", "/api/v1/tokens", "/login", "/stores"])
def test_a_large_body_with_a_length_is_refused_before_parsing_or_authentication(
    platform: Platform, path: str
) -> None:
    body = b"x" * (LIMIT + 1)
    response = platform.client.post(path, content=body, headers={"Content-Type": "application/json"})
    _too_large(response)


def test_a_large_chunked_body_is_refused_once_it_passes_the_limit(platform: Platform) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"x" * 8192

    response = platform.client.post(
        "/api/v1/stores", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _too_large(response)


def test_a_body_within_the_limit_is_served_as_before(platform: Platform) -> None:
    alice = platform.token_for("alice")
    padded = '{"name": "shop", "engine": "woocommerce"' + " " * (LIMIT - 100) + "}"
    response = platform.client.post(
        "/api/v1/stores", content=padded, headers=alice | {"Content-Type": "application/json"}
    )
    assert response.status_code == 202


def test_a_large_body_is_refused_before_the_route_so_nothing_is_done_or_audited(platform: Platform) -> None:
    alice = platform.token_for("alice")

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "shop", "engine": "woocommerce"'
        yield from (b" " * 8192 for _ in range(16))
        yield b"}"

    response = platform.client.post(
        "/api/v1/stores", content=chunks(), headers=alice | {"Content-Type": "application/json"}
    )
    _too_large(response)
    assert platform.audit() == []
    assert platform.client.get("/api/v1/stores", headers=alice).json()["items"] == []


SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


@pytest.mark.parametrize("path", ["/login", "/api/v1/healthz", "/static/site.css", "/nowhere"])
def test_every_response_carries_the_security_headers(platform: Platform, path: str) -> None:
    response = platform.client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_dashboard_pages_get_a_strict_content_security_policy(platform: Platform) -> None:
    login(platform.client, "admin", ADMIN_PASSWORD)
    csp = platform.client.get("/").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'self'"


def test_behind_a_tls_proxy_pages_load_their_assets_by_path(platform: Platform) -> None:
    proxy = platform.client_from("10.0.0.5")
    page = proxy.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7"})
    assert page.status_code == 200
    assets = re.findall(r'(?:href|src)="([^"]+)"', page.text)
    assert "/static/site.css" in assets
    assert not [a for a in assets if a.startswith(("http:", "https:", "//"))], assets
    assert "Secure" in page.headers["set-cookie"]  # the proxy said HTTPS, and it is trusted
