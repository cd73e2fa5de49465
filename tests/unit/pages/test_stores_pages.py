"""The stores dashboard over HTTP (workers off, so stores stay where the test puts them): the same
rules and sentences as the JSON API, polling only while unsettled, others' stores absent, audit."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.db.engine import transaction
from app.db.models import Job, Store
from app.lifecycle import StoreStatus
from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, Platform, csrf_of, login, running_platform

POLL = 'hx-trigger="every 2s"'
USER_PASSWORD = "Orchard-Lantern-7-passw0rd"


@pytest.fixture
def platform(db: Db, tmp_path) -> Iterator[Platform]:
    with running_platform(db, tmp_path, max_stores_per_user=2) as p:
        yield p


def _browser(p: Platform, name: str) -> tuple[TestClient, dict[str, str]]:
    """A logged-in session for `name` (made if missing) and the HTMX headers its page would send."""
    password = ADMIN_PASSWORD if name == "admin" else USER_PASSWORD
    if name != "admin":
        p.token_for(name, password=password)
    client = p.client_from("203.0.113.20")
    assert login(client, name, password).status_code == 303
    page = client.get("/")
    assert page.status_code == 200
    return client, {"HX-Request": "true", "X-CSRF-Token": csrf_of(page.text)}


def _create(client: TestClient, htmx: dict[str, str], name: str, engine: str = "woocommerce"):
    return client.post("/stores", data={"name": name, "engine": engine}, headers=htmx)


def _store(p: Platform, name: str) -> Store:
    with transaction(p.db.factory) as session:
        return session.execute(select(Store).where(Store.name == name)).scalar_one()


def _count(session) -> int:
    return session.execute(select(func.count()).select_from(Store)).scalar_one()


def _settle(p: Platform, store_id: str, status: StoreStatus) -> None:
    """Test setup: what a worker would have done (no workers run here)."""
    with transaction(p.db.factory) as session:
        session.execute(update(Job).where(Job.store_id == store_id).values(status="succeeded"))
        session.execute(update(Store).where(Store.id == store_id).values(status=status, helm_revision=1))


def test_the_dashboard_needs_a_login_and_is_the_home_page(platform: Platform):
    anonymous = platform.client_from("203.0.113.30")
    r = anonymous.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
    client, _ = _browser(platform, "admin")
    page = client.get("/").text
    assert "<h1>Stores</h1>" in page and "No stores yet" in page
    assert '<option value="woocommerce"' in page and '<option value="medusa"' in page


def test_a_created_store_appears_as_a_polling_row_and_is_audited(platform: Platform):
    client, htmx = _browser(platform, "alice")
    r = _create(client, htmx, "shop-one")
    assert r.status_code == 200
    store = _store(platform, "shop-one")
    row = re.search(rf'<tr id="store-{store.id}".*?</tr>', r.text, re.S)
    assert row is not None and POLL in row.group(0) and "Pending" in row.group(0)
    assert f'href="http://shop-one.{platform.settings.base_domain}/"' in row.group(0)
    assert "<html" not in r.text  # an HTMX request gets the fragment
    [entry] = [e for e in platform.audit() if e.action == "store.create"]
    assert (entry.actor, entry.target, entry.outcome) == ("alice", f"store:{store.id}", "success")


@pytest.mark.parametrize(
    "name",
    ["Bad_Name", "admin", "x" * 31, ""],
)
def test_an_invalid_name_shows_the_apis_own_sentence_inline(platform: Platform, name: str):
    client, htmx = _browser(platform, "alice")
    api = platform.client.post(
        "/api/v1/stores", json={"name": name, "engine": "woocommerce"}, headers=platform.token_for("alice")
    )
    assert api.status_code == 422
    r = _create(client, htmx, name)
    assert r.status_code == 200
    error = re.search(r'<p class="error" role="alert" id="create-error">(.*?)</p>', r.text, re.S)
    assert error is not None
    assert error.group(1) == api.json()["detail"].replace("'", "&#39;")
    assert platform.audit()[-1].outcome == "failure"


def test_an_unknown_engine_a_taken_name_and_the_store_limit_are_refused_inline(platform: Platform):
    client, htmx = _browser(platform, "alice")
    assert "unknown engine &#39;joomla&#39;" in _create(client, htmx, "shop", engine="joomla").text
    _create(client, htmx, "shop")
    assert "You already have a store named &#39;shop&#39;" in _create(client, htmx, "shop").text
    _create(client, htmx, "shop-two")
    r = _create(client, htmx, "shop-three")
    assert "limit stores_per_user reached: 2 of 2 in use" in r.text
    assert platform.audit()[-1].outcome == "denied"
    with transaction(platform.db.factory) as session:
        assert _count(session) == 2


def test_a_settled_row_stops_polling_and_a_deleted_one_leaves_the_table(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    assert POLL in client.get(f"/stores/{store.id}/row", headers=htmx).text
    _settle(platform, store.id, StoreStatus.READY)
    ready = client.get(f"/stores/{store.id}/row", headers=htmx).text
    assert "Ready" in ready and POLL not in ready
    deleting = client.post(f"/stores/{store.id}/delete", headers=htmx)
    assert "Deleting" in deleting.text and POLL in deleting.text
    assert _store(platform, "shop").status == StoreStatus.DELETING
    assert platform.audit()[-1].action == "store.delete"
    _settle(platform, store.id, StoreStatus.DELETED)
    gone = client.get(f"/stores/{store.id}/row", headers=htmx)
    assert gone.status_code == 200 and gone.text == "" and gone.headers["HX-Reswap"] == "delete"


def test_the_detail_page_shows_fields_events_and_refuses_an_illegal_action_inline(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    page = client.get(f"/stores/{store.id}").text
    assert "<html" in page and "woocommerce store &#39;shop&#39; requested" in page
    assert "No Helm release yet." in page and 'id="store-detail"' in page and POLL in page
    r = client.post(f"/stores/{store.id}/verify", headers=htmx | {"HX-Target": "store-detail"})
    assert r.status_code == 200 and 'id="action-error"' in r.text and "<html" not in r.text
    assert platform.audit()[-1].outcome == "failure"


def test_another_users_store_is_absent_everywhere(platform: Platform):
    alice, alice_htmx = _browser(platform, "alice")
    _create(alice, alice_htmx, "secret-shop")
    store = _store(platform, "secret-shop")
    bob, bob_htmx = _browser(platform, "bob")
    assert "secret-shop" not in bob.get("/").text
    missing = bob.get(f"/stores/{store.id}")
    assert missing.status_code == 404 and f"You have no store with id &#39;{store.id}&#39;" in missing.text
    assert bob.get(f"/stores/{store.id}/row", headers=bob_htmx).status_code == 404
    assert bob.post(f"/stores/{store.id}/delete", headers=bob_htmx).status_code == 404
    assert bob.get(f"/stores/{store.id}/admin-password", headers=bob_htmx).status_code == 404
    assert _store(platform, "secret-shop").status == StoreStatus.PENDING
    admin, _ = _browser(platform, "admin")
    assert "secret-shop" in admin.get("/").text  # admins see every store, with its owner


def test_a_post_without_the_csrf_token_changes_nothing(platform: Platform):
    client, _ = _browser(platform, "alice")
    r = client.post("/stores", data={"name": "shop", "engine": "woocommerce"}, headers={"HX-Request": "true"})
    assert r.status_code == 403
    with transaction(platform.db.factory) as session:
        assert _count(session) == 0


def test_a_plain_form_post_redirects_back_to_the_dashboard(platform: Platform):
    client, htmx = _browser(platform, "alice")
    r = client.post(
        "/stores",
        data={"name": "shop", "engine": "medusa", "csrf_token": htmx["X-CSRF-Token"]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "MedusaJS" in client.get("/").text


def test_the_password_reveal_of_a_store_without_a_release_explains_itself_and_is_not_cached(
    platform: Platform,
):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    r = client.get(f"/stores/{store.id}/admin-password", headers=htmx)
    assert "The store is pending; it has no admin password now." in r.text
    assert r.headers["Cache-Control"] == "no-store"
    [entry] = [e for e in platform.audit() if e.action == "store.password_reveal"]
    assert (entry.target, entry.outcome) == (f"store:{store.id}", "failure")


def test_a_rollback_needs_a_revision_number_the_release_has(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    _settle(platform, store.id, StoreStatus.FAILED)
    detail = htmx | {"HX-Target": "store-detail"}
    r = client.post(f"/stores/{store.id}/rollback", data={"revision": "two"}, headers=detail)
    assert "Choose a revision number (1 or more) to roll back to." in r.text
    # A Pending store has no release yet: its history is empty without asking the cluster.
    _settle(platform, store.id, StoreStatus.PENDING)
    r = client.post(f"/stores/{store.id}/rollback", data={"revision": "1"}, headers=detail)
    assert "Revision 1 does not exist; this store has revisions none." in r.text
    assert _store(platform, "shop").status == StoreStatus.PENDING
    assert [e.outcome for e in platform.audit() if e.action == "store.rollback"] == ["failure", "failure"]


def test_a_failed_store_shows_its_reason_in_the_row(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    _settle(platform, store.id, StoreStatus.FAILED)
    with transaction(platform.db.factory) as session:
        reason = "image cannot be pulled: wordpress:nope (ErrImagePull)"
        session.execute(update(Store).where(Store.id == store.id).values(status_reason=reason))
    row = client.get(f"/stores/{store.id}/row", headers=htmx).text
    assert "Failed" in row and f'<div class="reason">{reason}</div>' in row and POLL not in row
