"""The stores dashboard over HTTP (workers off, so stores stay where the test puts them): the same
rules and sentences as the JSON API, one poll for every unsettled row (only while there is one, with
back-off), pages and filters in the URL, others' stores absent, audit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.db.engine import transaction
from app.db.events import append_event
from app.db.models import Job, Store, User
from app.lifecycle import StoreStatus
from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, Platform, csrf_of, login, running_platform

POLLER = re.compile(r'<div id="store-poller"(?P<attrs>[^>]*)>', re.S)
WATCH = re.compile(r'<input type="hidden" name="watch" value="([^"]+)">')
USER_PASSWORD = "Orchard-Lantern-7-passw0rd"
DASH = "\N{EN DASH}"  # between the first and last number of "1-50 of 1000"


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


def _row(html: str, store_id: str) -> str:
    row = re.search(rf'<tr id="store-{store_id}".*?</tr>', html, re.S)
    assert row is not None, f"no row for {store_id}"
    return row.group(0)


def _poller(html: str) -> str:
    """The poller's attributes; '' when it asks for nothing."""
    found = POLLER.search(html)
    assert found is not None, "the list has no poller"
    return found.group("attrs").strip()


def _poll(client: TestClient, htmx: dict[str, str], watches: list[str], wait: int = 2):
    """What the poller sends: every watch input of the page, and its wait."""
    params = [("wait", str(wait))] + [("watch", w) for w in watches]
    return client.get("/stores/changes", params=params, headers=htmx)


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


def test_a_created_store_appears_as_a_watched_row_and_the_poller_starts(platform: Platform):
    client, htmx = _browser(platform, "alice")
    r = _create(client, htmx, "shop-one")
    assert r.status_code == 200
    store = _store(platform, "shop-one")
    row = _row(r.text, store.id)
    assert "Pending" in row and "hx-trigger" not in row  # a row never polls by itself ...
    [watch] = WATCH.findall(row)  # ... it is watched by the page's one poller
    assert watch.startswith(f"{store.id}.")
    assert 'hx-trigger="load delay:2s"' in _poller(r.text)
    assert 'hx-include="#stores-table input[name=watch]"' in _poller(r.text)
    assert f'href="http://shop-one.{platform.settings.base_domain}/"' in row
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


def test_one_poll_answers_for_every_unsettled_row_with_only_what_changed(platform: Platform):
    client, htmx = _browser(platform, "alice")
    for name in ("one", "two"):
        _create(client, htmx, name)
    page = client.get("/").text
    watches = WATCH.findall(page)
    assert len(watches) == 2 and page.count('id="store-poller"') == 1
    quiet = _poll(client, htmx, watches)
    assert quiet.status_code == 200 and "<tr" not in quiet.text  # nothing changed: no row is sent
    one, two = _store(platform, "one"), _store(platform, "two")
    _settle(platform, one.id, StoreStatus.READY)
    moved = _poll(client, htmx, watches, wait=4).text
    ready = _row(moved, one.id)
    assert 'hx-swap-oob="true"' in ready and "Ready" in ready and not WATCH.findall(ready)  # settled
    assert moved.count("<tr") == 1  # "two" did not change
    assert 'hx-trigger="load delay:2s"' in _poller(moved)  # a change: back to the shortest wait
    _settle(platform, two.id, StoreStatus.PROVISIONING)
    provisioning = _row(_poll(client, htmx, watches, wait=3).text, two.id)
    assert "Provisioning" in provisioning and WATCH.findall(provisioning)  # changed, still watched


def test_the_poll_backs_off_while_nothing_changes_and_stops_when_everything_settled(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    watches = WATCH.findall(client.get("/").text)
    waits, wait = [], 2
    for _ in range(4):
        answer = _poller(_poll(client, htmx, watches, wait).text)
        wait = int(re.search(r'data-wait="(\d+)"', answer).group(1))  # type: ignore[union-attr]
        waits.append(wait)
    assert waits == [3, 4, 4, 4]
    _settle(platform, store.id, StoreStatus.READY)
    settled = _poll(client, htmx, watches, wait).text
    assert "Ready" in _row(settled, store.id)
    assert _poller(settled) == ""  # nothing left to watch: the poller asks for nothing more
    page = client.get("/").text
    assert not WATCH.findall(page) and _poller(page) == ""  # a settled page never polls


def test_an_action_on_a_row_restarts_the_poller_and_a_deleted_row_leaves_the_table(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    _settle(platform, store.id, StoreStatus.READY)
    assert _poller(client.get("/").text) == ""
    deleting = client.post(f"/stores/{store.id}/delete", headers=htmx)
    assert "Deleting" in _row(deleting.text, store.id)
    assert 'hx-swap-oob="true"' in _poller(deleting.text)  # the stopped poller starts again
    assert 'hx-trigger="load delay:2s"' in _poller(deleting.text)
    assert _store(platform, "shop").status == StoreStatus.DELETING
    assert platform.audit()[-1].action == "store.delete"
    _settle(platform, store.id, StoreStatus.DELETED)
    gone = _poll(client, htmx, WATCH.findall(deleting.text)).text
    assert f'<tr id="store-{store.id}" hx-swap-oob="delete"></tr>' in gone and _poller(gone) == ""


def test_a_poll_shows_nothing_of_another_users_store_and_refuses_what_no_page_sends(platform: Platform):
    alice, alice_htmx = _browser(platform, "alice")
    _create(alice, alice_htmx, "secret-shop")
    store = _store(platform, "secret-shop")
    bob, bob_htmx = _browser(platform, "bob")
    probe = _poll(bob, bob_htmx, [f"{store.id}.000000000000"]).text
    assert "secret-shop" not in probe and f'<tr id="store-{store.id}" hx-swap-oob="delete">' in probe
    for params in (
        [("watch", "s-1")],
        [("wait", "7")],
        [("watch", f"s-{i:03d}.000000000000") for i in range(201)],
    ):
        r = bob.get("/stores/changes", params=params, headers=bob_htmx)
        assert r.status_code == 422 and r.json()["type"] == "urn:storeplane:problem:invalid-poll", params


def test_the_detail_page_shows_fields_events_and_refuses_an_illegal_action_inline(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    page = client.get(f"/stores/{store.id}").text
    assert "<html" in page and "woocommerce store &#39;shop&#39; requested" in page
    assert "No Helm release yet." in page and 'id="store-detail"' in page and 'id="detail-poller"' in page
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
    assert bob.get(f"/stores/{store.id}/changes?version=000000000000", headers=bob_htmx).status_code == 404
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
    row = _row(client.get("/").text, store.id)
    assert "Failed" in row and f'<div class="reason">{reason}</div>' in row and not WATCH.findall(row)


def _seed(p: Platform, owner: str, names: list[str], *, engine: str = "woocommerce") -> None:
    """Stores written straight into the table (past the per-user limit), newest first, a second apart."""
    p.token_for(owner, password=USER_PASSWORD)
    with transaction(p.db.factory) as session:
        user = session.execute(select(User).where(User.name == owner)).scalar_one()
        newest = session.execute(select(func.min(Store.created_at))).scalar_one() or datetime.now(UTC)
        for i, name in enumerate(names, start=1):
            at = newest - timedelta(seconds=i)
            session.add(
                Store(id=f"s-{name.replace('-', '')[:12]:0>12}", owner_id=user.id, name=name, engine=engine,
                      status="ready", namespace=f"store-{name}", host=f"{name}.localhost", created_at=at,
                      updated_at=at)
            )  # fmt: skip


def _names(html: str) -> list[str]:
    return re.findall(r'class="store-name">([^<]+)</a>', html)


def _links(html: str) -> dict[str, str]:
    """The pager's links by rel, as the page writes them (HTML-escaped &)."""
    return {
        rel: href.replace("&amp;", "&") for href, rel in re.findall(r'<a href="([^"]+)" rel="(\w+)"', html)
    }


def test_the_list_shows_a_page_its_place_and_links_that_keep_the_filters(platform: Platform):
    _seed(platform, "alice", [f"shop-{i}" for i in range(7)])
    _seed(platform, "alice", ["cafe-1", "cafe-2"], engine="medusa")
    client, htmx = _browser(platform, "alice")
    first = client.get("/?name_prefix=shop&limit=3").text
    assert _names(first) == ["shop-0", "shop-1", "shop-2"]
    assert f'<span id="store-count">1{DASH}3 of 7 stores</span>' in first
    links = _links(first)
    assert set(links) == {"next"} and links["next"].startswith("/?name_prefix=shop&limit=3&cursor=")
    assert 'value="shop"' in first  # the filter form shows the filter
    second = client.get(links["next"]).text
    assert _names(second) == ["shop-3", "shop-4", "shop-5"]
    assert f'<span id="store-count">4{DASH}6 of 7 stores</span>' in second
    assert set(_links(second)) == {"first", "prev", "next"}
    assert _links(second)["first"] == "/?name_prefix=shop&limit=3"
    assert _names(client.get(_links(second)["prev"]).text) == _names(first)
    last = client.get(_links(second)["next"]).text
    assert _names(last) == ["shop-6"] and f"7{DASH}7 of 7 stores" in last and "next" not in _links(last)
    # The filter form's request (HTMX): the address bar gets the filters without the empty choices.
    filtered = client.get("/?status=&engine=medusa&name_prefix=", headers=htmx)
    assert _names(filtered.text) == ["cafe-1", "cafe-2"] and "<html" not in filtered.text
    assert filtered.headers["HX-Push-Url"] == "/?engine=medusa"
    assert "No stores match these filters." in client.get("/?name_prefix=zzz").text


def test_a_bad_filter_or_cursor_shows_the_first_page_with_the_reason(platform: Platform):
    _seed(platform, "alice", ["shop-1"])
    client, htmx = _browser(platform, "alice")
    page = client.get("/?cursor=bogus")
    assert page.status_code == 422 and "<html" in page.text and _names(page.text) == ["shop-1"]
    assert "&#39;cursor&#39;: the cursor is not valid (not a cursor this API writes)" in page.text
    inline = client.get("/?name_prefix=Shop", headers=htmx)  # HTMX swaps only a 2xx: the reason is inline
    assert inline.status_code == 200 and 'id="list-error"' in inline.text
    assert "a name prefix is 1 to 30 lowercase letters" in inline.text
    assert inline.headers["HX-Push-Url"] == "false" and 'value="Shop"' in inline.text  # kept to correct
    others = client.get("/?owner=bob")
    assert (
        others.status_code == 403
        and "Only an administrator can list another user&#39;s stores" in others.text
    )


def test_a_create_keeps_the_pages_filters_and_starts_again_at_the_newest(platform: Platform):
    _seed(platform, "alice", ["cafe-1"], engine="medusa")
    client, htmx = _browser(platform, "alice")
    here = {"HX-Current-URL": "http://testserver/?engine=medusa&cursor=whatever"}
    r = _create(client, htmx | here, "cafe-new", engine="medusa")
    assert _names(r.text) == ["cafe-new", "cafe-1"]
    assert r.headers["HX-Replace-Url"] == "/?engine=medusa"


def test_the_store_page_polls_once_for_its_block_and_reads_it_again_only_when_it_changed(platform: Platform):
    client, htmx = _browser(platform, "alice")
    _create(client, htmx, "shop")
    store = _store(platform, "shop")
    page = client.get(f"/stores/{store.id}").text
    version = re.search(r'id="store-detail" data-status="pending" data-version="([0-9a-f]{12})"', page)
    assert version is not None and page.count("hx-trigger") == 1  # the block's one poller
    ask = f"/stores/{store.id}/changes?version={version.group(1)}"
    quiet = client.get(f"{ask}&wait=2", headers=htmx)
    assert quiet.text.strip().startswith('<div id="detail-poller"') and 'data-wait="3"' in quiet.text
    assert "HX-Retarget" not in quiet.headers
    with transaction(platform.db.factory) as session:  # what a worker writes: a step in the log
        append_event(session, store_id=store.id, step="provision", message="namespace created")
    moved = client.get(f"{ask}&wait=3", headers=htmx)
    assert (moved.headers["HX-Retarget"], moved.headers["HX-Reswap"]) == ("#store-detail", "outerHTML")
    assert "namespace created" in moved.text and 'data-wait="2"' in moved.text
    _settle(platform, store.id, StoreStatus.READY)
    settled = client.get(f"{ask}&wait=2", headers=htmx)
    assert 'data-status="ready"' in settled.text and "detail-poller" not in settled.text
    assert client.get(f"/stores/{store.id}/changes?version=nope", headers=htmx).status_code == 422
