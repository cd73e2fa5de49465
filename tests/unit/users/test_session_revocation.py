"""Sessions end on the server, not only in the browser: a cookie saved before logout, before a
disable/enable or before a password change is refused afterwards, everywhere (pages, API, token
minting); disabling a user also revokes their API tokens for good."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, Platform, csrf_of, login, running_platform

BOB_PASSWORD = "Long-enough-passw0rd"


@pytest.fixture
def platform(db: Db, tmp_path) -> Iterator[Platform]:
    with running_platform(db, tmp_path) as running:
        yield running


def _saved_session(browser: TestClient) -> tuple[dict[str, str], str]:
    """What an attacker copies out of a browser: the cookie and the page's CSRF token."""
    csrf = csrf_of(browser.get("/account/tokens").text)
    return {"Cookie": f"storeplane_session={browser.cookies['storeplane_session']}"}, csrf


def _replay_works(platform: Platform, cookie: dict[str, str], csrf: str) -> dict[str, int]:
    thief = platform.client_from("198.51.100.99")
    return {
        "api": thief.get("/api/v1/users/me", headers=cookie).status_code,
        "page": thief.get("/account/tokens", headers=cookie, follow_redirects=False).status_code,
        "mint": thief.post(
            "/api/v1/tokens", json={"name": "stolen"}, headers=cookie | {"X-CSRF-Token": csrf}
        ).status_code,
    }


def test_a_cookie_replayed_after_logout_is_refused_everywhere(platform: Platform) -> None:
    browser = platform.client_from("203.0.113.30")
    assert login(browser, "admin", ADMIN_PASSWORD).status_code == 303
    cookie, csrf = _saved_session(browser)
    assert _replay_works(platform, cookie, csrf) == {"api": 200, "page": 200, "mint": 201}
    browser.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert _replay_works(platform, cookie, csrf) == {"api": 401, "page": 303, "mint": 401}
    # Logging in again works and starts a new session.
    assert login(browser, "admin", ADMIN_PASSWORD).status_code == 303
    assert browser.get("/api/v1/users/me").status_code == 200


def test_logout_ends_the_users_sessions_on_every_device(platform: Platform) -> None:
    laptop, phone = platform.client_from("203.0.113.31"), platform.client_from("203.0.113.32")
    login(laptop, "admin", ADMIN_PASSWORD)
    login(phone, "admin", ADMIN_PASSWORD)
    _, csrf = _saved_session(phone)
    phone.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert laptop.get("/api/v1/users/me").status_code == 401


def test_disable_then_enable_does_not_revive_old_sessions_or_tokens(platform: Platform) -> None:
    admin = platform.token_for("root", admin=True)
    bob_token = platform.token_for("bob", password=BOB_PASSWORD)
    browser = platform.client_from("203.0.113.33")
    login(browser, "bob", BOB_PASSWORD)
    cookie, csrf = _saved_session(browser)
    bob_id = platform.client.get("/api/v1/users/me", headers=bob_token).json()["id"]

    disabled = platform.client.patch(f"/api/v1/users/{bob_id}", json={"disabled": True}, headers=admin)
    assert disabled.status_code == 200
    platform.client.patch(f"/api/v1/users/{bob_id}", json={"disabled": False}, headers=admin)

    assert _replay_works(platform, cookie, csrf) == {"api": 401, "page": 303, "mint": 401}
    assert platform.client.get("/api/v1/users/me", headers=bob_token).status_code == 401
    # Re-enabled, bob logs in afresh and makes new tokens; the old ones stay revoked.
    fresh = platform.client_from("203.0.113.34")
    assert login(fresh, "bob", BOB_PASSWORD).status_code == 303
    tokens = fresh.get("/api/v1/tokens").json()
    assert tokens and all(t["revoked_at"] is not None for t in tokens)
    disable_entry = [e for e in platform.audit() if e.action == "user.disable"][-1]
    assert '"revoked_token_count": 1' in disable_entry.detail


def test_a_password_change_ends_the_other_sessions(platform: Platform) -> None:
    platform.token_for("bob", password=BOB_PASSWORD)
    laptop, phone = platform.client_from("203.0.113.35"), platform.client_from("203.0.113.36")
    login(laptop, "bob", BOB_PASSWORD)
    login(phone, "bob", BOB_PASSWORD)
    _, csrf = _saved_session(laptop)
    changed = laptop.post(
        "/api/v1/users/me/password",
        json={"current_password": BOB_PASSWORD, "new_password": "Another-long-passw0rd"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    assert phone.get("/api/v1/users/me").status_code == 401
