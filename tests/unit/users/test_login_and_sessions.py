"""The dashboard login: first admin from the configured password, signed session cookie, CSRF on
every form post, brute-force limits, and disabled users locked out at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, Platform, csrf_of, login, running_platform


@pytest.fixture
def platform(db: Db, tmp_path) -> Iterator[Platform]:
    with running_platform(db, tmp_path, ratelimit_login_failures_per_user="3/minute") as running:
        yield running


def test_the_bootstrapped_admin_logs_in_and_gets_an_httponly_lax_session(platform: Platform):
    response = login(platform.client, "admin", ADMIN_PASSWORD, next_path="/account/tokens")
    assert response.status_code == 303
    assert response.headers["location"] == "/account/tokens"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("storeplane_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    page = platform.client.get("/account/tokens")
    assert page.status_code == 200 and "admin (admin)" in page.text


def test_over_https_the_session_cookie_is_secure(platform: Platform):
    browser = platform.client_from("203.0.113.11", base_url="https://storeplane.example")
    assert "Secure" in login(browser, "admin", ADMIN_PASSWORD).headers["set-cookie"]


def test_login_never_redirects_off_site(platform: Platform):
    assert (
        login(platform.client, "admin", ADMIN_PASSWORD, next_path="//evil.example/").headers["location"]
        == "/"
    )


def test_pages_send_anonymous_visitors_to_login_and_back(platform: Platform):
    response = platform.client.get("/admin/users", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/admin/users"


def test_a_wrong_password_is_refused_and_audited_without_what_was_typed(platform: Platform):
    typed_name = "Correct-Horse-Battery-9"  # someone typed their password into the name field
    response = login(platform.client, typed_name, "whatever")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    failed = login(platform.client, "admin", "not-the-password")
    assert failed.status_code == 401
    entries = [e for e in platform.audit() if e.action == "login"]
    assert [(e.outcome, e.target, e.actor, e.client_ip) for e in entries] == [
        ("failure", "user:unknown", None, "203.0.113.10"),
        ("failure", "user:1", None, "203.0.113.10"),
    ]
    assert typed_name.lower() not in platform.database_text()
    assert typed_name.lower() not in platform.log.getvalue()


def test_repeated_bad_logins_are_limited_with_retry_after_even_for_the_right_password(platform: Platform):
    for attempt in range(3):
        assert login(platform.client_from(f"198.51.100.{attempt}"), "admin", "guess").status_code == 401
    limited = login(platform.client_from("198.51.100.9"), "admin", ADMIN_PASSWORD)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert "Too many login attempts" in limited.text
    assert platform.audit()[-1].outcome == "denied"


def test_a_login_post_without_the_form_csrf_token_is_refused(platform: Platform):
    platform.client.get("/login")
    response = platform.client.post(
        "/login", data={"username": "admin", "password": ADMIN_PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "This login form had expired" in response.text
    assert platform.client.get("/account/tokens", follow_redirects=False).status_code == 303


def test_form_posts_need_the_session_csrf_token_and_htmx_sends_it_as_a_header(platform: Platform):
    login(platform.client, "admin", ADMIN_PASSWORD)
    csrf = csrf_of(platform.client.get("/account/tokens").text)
    forged = platform.client.post("/account/tokens", data={"name": "forged"})
    assert forged.status_code == 403
    assert forged.json()["detail"] == "Missing or wrong CSRF token: reload the page and try again."
    via_htmx = platform.client.post(
        "/account/tokens", data={"name": "ci"}, headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    )
    assert via_htmx.status_code == 200
    assert via_htmx.text.lstrip().startswith('<div id="tokens">')  # the fragment, not the page
    assert "Copy it now" in via_htmx.text
    # The API accepts the session too, with the same CSRF rule.
    assert platform.client.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
    assert (
        platform.client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf}).status_code
        == 201
    )


def test_logout_ends_the_session(platform: Platform):
    login(platform.client, "admin", ADMIN_PASSWORD)
    csrf = csrf_of(platform.client.get("/account/tokens").text)
    response = platform.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert platform.client.get("/account/tokens", follow_redirects=False).status_code == 303
    assert [e.action for e in platform.audit()][-1] == "logout"


def test_a_disabled_user_is_refused_at_once_by_token_and_by_session(platform: Platform):
    admin = platform.token_for("root", admin=True)
    bob = platform.token_for("bob", password="Long-enough-passw0rd")
    browser = platform.client_from("203.0.113.20")
    login(browser, "bob", "Long-enough-passw0rd")
    assert platform.client.get("/api/v1/users/me", headers=bob).status_code == 200
    assert browser.get("/api/v1/users/me").status_code == 200
    bob_id = platform.client.get("/api/v1/users/me", headers=bob).json()["id"]

    disabled = platform.client.patch(f"/api/v1/users/{bob_id}", json={"disabled": True}, headers=admin)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    refused = platform.client.get("/api/v1/users/me", headers=bob)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "This API token is unknown or revoked, or its user is disabled."
    assert browser.get("/api/v1/users/me").status_code == 401
    assert browser.get("/account/tokens", follow_redirects=False).status_code == 303
    assert login(browser, "bob", "Long-enough-passw0rd").status_code == 401

    platform.client.patch(f"/api/v1/users/{bob_id}", json={"disabled": False}, headers=admin)
    # Enabled again, bob logs in afresh; the token revoked by the disable stays revoked
    # (test_session_revocation.py).
    assert platform.client.get("/api/v1/users/me", headers=bob).status_code == 401
    assert login(browser, "bob", "Long-enough-passw0rd").status_code == 303
    actions = [(e.action, e.target, e.actor) for e in platform.audit() if e.action.startswith("user.")]
    assert actions == [("user.disable", f"user:{bob_id}", "root"), ("user.enable", f"user:{bob_id}", "root")]
