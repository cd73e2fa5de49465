"""Tokens (shown once, listed by prefix, revoked at once), admin user management, and the audit log:
one entry per action, readable through GET /api/v1/audit with filters, admins all, users their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from app.db.engine import transaction
from app.db.models import Job, Store
from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, Platform, csrf_of, login, running_platform


@pytest.fixture
def platform(db: Db, tmp_path) -> Iterator[Platform]:
    with running_platform(db, tmp_path) as running:
        yield running


def test_a_token_is_shown_once_listed_by_prefix_and_refused_once_revoked(platform: Platform):
    alice = platform.token_for("alice")
    created = platform.client.post("/api/v1/tokens", json={"name": "CI"}, headers=alice)
    assert created.status_code == 201
    body = created.json()
    token = body["token"]
    assert token.startswith(body["prefix"]) and body["name"] == "CI"
    listed = platform.client.get("/api/v1/tokens", headers=alice).json()
    assert [t["name"] for t in listed] == ["CI", "tests"]
    assert all("token" not in t for t in listed)
    new = {"Authorization": f"Bearer {token}"}
    assert platform.client.get("/api/v1/users/me", headers=new).json()["name"] == "alice"
    revoked = platform.client.delete(f"/api/v1/tokens/{body['id']}", headers=alice)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert platform.client.get("/api/v1/users/me", headers=new).status_code == 401


def test_nobody_revokes_someone_elses_token(platform: Platform):
    alice, bob = platform.token_for("alice"), platform.token_for("bob")
    token_id = platform.client.post("/api/v1/tokens", json={"name": "x"}, headers=alice).json()["id"]
    refused = platform.client.delete(f"/api/v1/tokens/{token_id}", headers=bob)
    assert refused.status_code == 404
    assert refused.json()["detail"] == f"You have no token with id {token_id}."


def test_admins_create_users_with_a_password_shown_once_and_users_may_not(platform: Platform):
    admin, alice = platform.token_for("root", admin=True), platform.token_for("alice")
    assert platform.client.post("/api/v1/users", json={"name": "carol"}, headers=alice).status_code == 403
    created = platform.client.post("/api/v1/users", json={"name": "carol", "max_stores": 5}, headers=admin)
    assert created.status_code == 201
    body = created.json()
    assert (body["role"], body["max_stores"], body["has_password"]) == ("user", 5, True)
    assert login(platform.client_from("203.0.113.30"), "carol", body["password"]).status_code == 303
    again = platform.client.post("/api/v1/users", json={"name": "carol"}, headers=admin)
    assert again.status_code == 409
    assert again.json()["detail"] == "a user named 'carol' already exists; choose another name"
    bad = platform.client.post("/api/v1/users", json={"name": "Carol Smith"}, headers=admin)
    assert bad.status_code == 422 and "lower-case letter" in bad.json()["detail"]


def test_an_admin_cannot_lock_themselves_out(platform: Platform):
    admin = platform.token_for("root", admin=True)
    me = platform.client.get("/api/v1/users/me", headers=admin).json()["id"]
    for change in ({"disabled": True}, {"role": "user"}):
        response = platform.client.patch(f"/api/v1/users/{me}", json=change, headers=admin)
        assert response.status_code == 409
        assert response.json()["detail"] == "You cannot disable yourself or drop your own admin role."


def test_users_change_their_own_password_and_older_sessions_end(platform: Platform):
    login(platform.client, "admin", ADMIN_PASSWORD)
    csrf = {"X-CSRF-Token": csrf_of(platform.client.get("/account/tokens").text)}
    wrong = platform.client.post(
        "/api/v1/users/me/password",
        json={"current_password": "nope", "new_password": "Another-long-passw0rd"},
        headers=csrf,
    )
    assert wrong.status_code == 403
    weak = platform.client.post(
        "/api/v1/users/me/password",
        json={"current_password": ADMIN_PASSWORD, "new_password": "short"},
        headers=csrf,
    )
    assert weak.status_code == 422 and "too short" in weak.json()["detail"]
    changed = platform.client.post(
        "/api/v1/users/me/password",
        json={"current_password": ADMIN_PASSWORD, "new_password": "Another-long-passw0rd"},
        headers=csrf,
    )
    assert changed.status_code == 204
    # Every session opened with the old password has ended, this one included.
    assert platform.client.get("/api/v1/users/me").status_code == 401
    assert login(platform.client_from("203.0.113.40"), "admin", "Another-long-passw0rd").status_code == 303


def _settle(platform: Platform, store_id: str, status: str) -> None:
    """Stand in for the worker: finish the store's job and put the store in `status`."""
    with transaction(platform.db.factory) as session:
        session.execute(update(Job).where(Job.store_id == store_id).values(status="succeeded"))
        session.execute(update(Store).where(Store.id == store_id).values(status=status))


def test_every_action_leaves_one_audit_entry_with_actor_ip_target_outcome_and_request_id(platform: Platform):
    admin = platform.token_for("root", admin=True)
    alice = platform.token_for("alice")
    alice_id = platform.client.get("/api/v1/users/me", headers=alice).json()["id"]
    api = platform.client
    login(platform.client_from("203.0.113.50"), "admin", ADMIN_PASSWORD)
    login(platform.client_from("203.0.113.51"), "admin", "wrong-password-here")
    token_id = api.post("/api/v1/tokens", json={"name": "t"}, headers=alice).json()["id"]
    api.delete(f"/api/v1/tokens/{token_id}", headers=alice)
    created = api.post(
        "/api/v1/stores",
        json={"name": "shop", "engine": "woocommerce"},
        headers=alice | {"X-Request-ID": "req-1"},
    )
    store_id = created.json()["id"]
    _settle(platform, store_id, "ready")
    assert api.post(f"/api/v1/stores/{store_id}/verify", headers=alice).status_code == 202
    _settle(platform, store_id, "ready")
    assert api.post(f"/api/v1/stores/{store_id}/upgrade", headers=alice).status_code == 202
    _settle(platform, store_id, "pending")  # nothing installed: history is empty, any revision is unknown
    assert (
        api.post(f"/api/v1/stores/{store_id}/rollback", json={"revision": 1}, headers=alice).status_code
        == 422
    )
    assert api.patch(f"/api/v1/users/{alice_id}", json={"max_stores": 7}, headers=admin).status_code == 200
    assert api.delete(f"/api/v1/stores/{store_id}", headers=alice).status_code == 202

    got = [(e.action, e.outcome, e.actor, e.target) for e in platform.audit()]
    assert got == [
        ("login", "success", "admin", "user:1"),
        ("login", "failure", None, "user:1"),
        ("token.create", "success", "alice", f"token:{token_id}"),
        ("token.revoke", "success", "alice", f"token:{token_id}"),
        ("store.create", "success", "alice", f"store:{store_id}"),
        ("store.verify", "success", "alice", f"store:{store_id}"),
        ("store.upgrade", "success", "alice", f"store:{store_id}"),
        ("store.rollback", "failure", "alice", f"store:{store_id}"),
        ("user.limits", "success", "root", f"user:{alice_id}"),
        ("store.delete", "success", "alice", f"store:{store_id}"),
    ]
    entries = platform.audit()
    assert {e.client_ip for e in entries[2:]} == {"203.0.113.10"}
    assert entries[0].client_ip == "203.0.113.50" and entries[1].client_ip == "203.0.113.51"
    assert entries[4].request_id == "req-1" and all(e.request_id for e in entries)
    assert entries[8].detail == '{"max_stores_from": null, "max_stores_to": 7, "status": 200}'
    logged = [line for line in platform.log_lines() if line.get("audit")]
    assert [(line["action"], line["outcome"]) for line in logged] == [(a, o) for a, o, _, _ in got]
    assert logged[4]["request_id"] == "req-1"


def test_the_audit_log_api_filters_and_shows_users_only_their_own(platform: Platform):
    admin, alice, bob = (
        platform.token_for("root", admin=True),
        platform.token_for("alice"),
        platform.token_for("bob"),
    )
    for who in (alice, bob):
        platform.client.post("/api/v1/tokens", json={"name": "x"}, headers=who)
    platform.client.post("/api/v1/stores", json={"name": "shop", "engine": "woocommerce"}, headers=alice)

    def audit(headers: dict[str, str], **params: object) -> list[tuple[str, str]]:
        response = platform.client.get("/api/v1/audit", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [(e["actor"], e["action"]) for e in response.json()]

    assert audit(admin) == [("alice", "store.create"), ("bob", "token.create"), ("alice", "token.create")]
    assert audit(bob) == [("bob", "token.create")]
    assert audit(alice, action="store.") == [("alice", "store.create")]
    assert audit(alice, actor="bob") == []  # a user's view never widens to others
    assert audit(admin, actor="bob", outcome="success") == [("bob", "token.create")]
    assert audit(admin, limit=1) == [("alice", "store.create")]
    assert audit(admin, since="2999-01-01T00:00:00Z") == []
    naive = platform.client.get("/api/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=admin)
    assert naive.status_code == 422
    assert platform.client.get("/api/v1/audit", params={"outcome": "maybe"}, headers=admin).status_code == 422


def test_the_live_token_limit_answers_409_with_the_count(db: Db, tmp_path):
    with running_platform(
        db, tmp_path, ratelimit_mutations_per_user="1000/minute", ratelimit_mutations_per_ip="1000/minute"
    ) as platform:
        alice = platform.token_for("alice")  # the first of her 50
        statuses = {
            platform.client.post("/api/v1/tokens", json={"name": "t"}, headers=alice).status_code
            for _ in range(49)
        }
        assert statuses == {201}
        refused = platform.client.post("/api/v1/tokens", json={"name": "one too many"}, headers=alice)
        assert refused.status_code == 409
        assert refused.json()["detail"] == "you have 50 live tokens, the most allowed; revoke one first"
        newest = platform.client.get("/api/v1/tokens", headers=alice).json()[0]["id"]
        platform.client.delete(f"/api/v1/tokens/{newest}", headers=alice)
        assert platform.client.post("/api/v1/tokens", json={"name": "now"}, headers=alice).status_code == 201
