"""The store list in a real browser (workers off: the test moves stores itself, as a worker would):
pages and filters live in the URL and survive back and reload; one request at a time keeps every
unsettled row current, counted in the browser, backing off while nothing changes and stopping when
everything is settled; the store page polls once; an action restarts a stopped poller."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy import update

from app.auth import accounts
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.events import append_event
from app.db.models import Store
from tests.browser.conftest import Site

PASSWORD = "Orchard-Lantern-7-passw0rd"
NOW = datetime.now(UTC)


class Shop:
    """The site's database, seen from the test: stores written and moved as a worker would."""

    def __init__(self, site: Site) -> None:
        self.engine = make_engine(site.settings.effective_database_url)
        self.factory = make_sessionmaker(self.engine)
        self.added = 0
        with transaction(self.factory) as session:
            self.owner_id = accounts.create_user(session, name="alice", password=PASSWORD).id

    def add(self, names: list[str], *, engine: str = "woocommerce", status: str = "ready") -> list[str]:
        """Stores newest first, after every store already added."""
        ids = []
        with transaction(self.factory) as session:
            for name in names:
                self.added += 1
                at = NOW - timedelta(seconds=self.added)
                sid = "s-" + name.replace("-", "")[-12:].rjust(12, "0")
                session.add(
                    Store(id=sid, owner_id=self.owner_id, name=name, engine=engine, status=status,
                          namespace=f"store-{sid}", host=f"{name}.localhost", created_at=at, updated_at=at)
                )  # fmt: skip
                session.flush()
                ids.append(sid)
        return ids

    def move(self, ids: list[str], status: str) -> None:
        with transaction(self.factory) as session:
            session.execute(update(Store).where(Store.id.in_(ids)).values(status=status))  # type: ignore[attr-defined]


@pytest.fixture
def shop(site: Site) -> Iterator[Shop]:
    s = Shop(site)
    try:
        yield s
    finally:
        s.engine.dispose()


def _login(browser: Browser, site: Site) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{site.url}/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.url}/")
    return page


def _shown(first: int, last: int, total: int) -> str:
    return f"{first}\N{EN DASH}{last} of {total} stores"


def _names(page: Page) -> list[str]:
    return page.locator("a.store-name").all_inner_texts()


def test_pages_and_filters_live_in_the_url_and_survive_back_and_reload(
    browser: Browser, site: Site, shop: Shop
):
    shop.add([f"shop-{i:03d}" for i in range(70)])
    shop.add([f"cafe-{i:03d}" for i in range(12)], engine="medusa")
    page = _login(browser, site)
    count = page.locator("#store-count")
    expect(count).to_have_text(_shown(1, 50, 82))
    assert _names(page)[0] == "shop-000" and len(_names(page)) == 50

    page.click("a[rel=next]")
    expect(count).to_have_text(_shown(51, 82, 82))
    assert re.fullmatch(rf"{site.url}/\?cursor=[\w-]+", page.url)
    assert _names(page)[0] == "shop-050" and _names(page)[-1] == "cafe-011"
    page.go_back()
    expect(count).to_have_text(_shown(1, 50, 82))
    assert page.url == f"{site.url}/"

    page.select_option("#store-filters select[name=engine]", "medusa")
    expect(page).to_have_url(f"{site.url}/?engine=medusa")
    expect(count).to_have_text(_shown(1, 12, 12))
    page.fill("#store-filters input[name=name_prefix]", "cafe-00")  # typing: sent once it pauses
    expect(page).to_have_url(f"{site.url}/?engine=medusa&name_prefix=cafe-00")
    expect(count).to_have_text(_shown(1, 10, 10))
    page.reload()
    expect(count).to_have_text(_shown(1, 10, 10))
    expect(page.locator("#store-filters select[name=engine]")).to_have_value("medusa")
    expect(page.locator("#store-filters input[name=name_prefix]")).to_have_value("cafe-00")

    page.fill("#store-filters input[name=name_prefix]", "Cafe")  # not how a name can begin
    expect(page.locator("#list-error")).to_contain_text("a name prefix is 1 to 30 lowercase letters")
    expect(page).to_have_url(
        f"{site.url}/?engine=medusa&name_prefix=cafe-00"
    )  # the URL keeps the last good one
    page.context.close()


class Traffic:
    """The page's own requests (HTMX's XHRs), in the order the browser sent and finished them."""

    def __init__(self, page: Page) -> None:
        self.log: list[tuple[str, str]] = []
        page.on("request", lambda r: self._see(r, "sent"))
        page.on("requestfinished", lambda r: self._see(r, "done"))

    def _see(self, request: Request, what: str) -> None:
        if request.resource_type in ("xhr", "fetch"):
            self.log.append((what, request.url))

    @property
    def sent(self) -> list[str]:
        return [url for what, url in self.log if what == "sent"]

    def one_at_a_time(self) -> bool:
        """No request was sent while another was still under way."""
        return all(what == ("sent" if i % 2 == 0 else "done") for i, (what, _) in enumerate(self.log))


def test_one_request_at_a_time_keeps_every_unsettled_row_current(browser: Browser, site: Site, shop: Shop):
    ids = shop.add([f"shop-{i:03d}" for i in range(30)], status="pending")
    page = _login(browser, site)
    traffic = Traffic(page)
    expect(page.locator("input[name=watch]")).to_have_count(30)
    poller = page.locator("#store-poller")
    expect(poller).to_have_attribute("data-wait", "3", timeout=5000)  # one quiet poll: 2 s, then 3
    [first] = traffic.sent
    assert "/stores/changes?wait=2&watch=" in first and first.count("watch=") == 30  # every row, one request

    shop.move(ids[:10], "provisioning")
    shop.move(ids[10:20], "ready")
    expect(page.locator("tr.store-row[data-status=ready]")).to_have_count(10, timeout=6000)
    expect(page.locator("tr.store-row[data-status=provisioning]")).to_have_count(10)
    expect(page.locator("input[name=watch]")).to_have_count(20)  # Ready rows are no longer asked about

    shop.move(ids, "ready")
    expect(page.locator("tr.store-row[data-status=ready]")).to_have_count(30, timeout=8000)
    expect(poller).not_to_have_attribute("hx-trigger", re.compile(".*"))  # nothing left: the poller stops
    asked = len(traffic.sent)
    page.wait_for_timeout(4500)  # longer than the longest wait: a settled page asks for nothing
    assert len(traffic.sent) == asked <= 5
    assert all("/stores/changes?" in url for url in traffic.sent)  # no row ever asked for itself
    assert traffic.one_at_a_time(), traffic.log
    page.context.close()


def test_an_action_restarts_a_stopped_poller_and_a_deleted_row_leaves(
    browser: Browser, site: Site, shop: Shop
):
    [sid] = shop.add(["shop-one"])
    page = _login(browser, site)
    page.on("dialog", lambda dialog: dialog.accept())
    expect(page.locator("#store-poller")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    page.locator(f"#store-{sid}").get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(f"#store-{sid} .badge")).to_have_text("Deleting")
    expect(page.locator("#store-poller")).to_have_attribute("hx-trigger", "load delay:2s")
    shop.move([sid], "deleted")
    expect(page.locator(f"#store-{sid}")).to_have_count(0, timeout=6000)
    page.context.close()


def test_the_store_page_polls_once_and_refreshes_its_block_when_it_changed(
    browser: Browser, site: Site, shop: Shop
):
    [sid] = shop.add(["shop-one"], status="provisioning")
    page = _login(browser, site)
    traffic = Traffic(page)
    page.goto(f"{site.url}/stores/{sid}")
    expect(page.locator("#detail-poller")).to_have_attribute("data-wait", "3", timeout=5000)
    with transaction(shop.factory) as session:
        append_event(session, store_id=sid, step="provision", message="namespace created")
    expect(page.locator("tr.event", has_text="namespace created")).to_have_count(1, timeout=6000)
    shop.move([sid], "ready")
    expect(page.locator("#store-detail")).to_have_attribute("data-status", "ready", timeout=6000)
    expect(page.locator("#detail-poller")).to_have_count(0)
    asked = len(traffic.sent)
    page.wait_for_timeout(4500)
    assert len(traffic.sent) == asked and all(
        f"/stores/{sid}/changes?version=" in url for url in traffic.sent
    )
    assert traffic.one_at_a_time(), traffic.log
    page.context.close()
