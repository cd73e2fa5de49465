"""The stores dashboard in a real browser against the simulated cluster, the real store-chart and
helm, with embedded workers: create a store and watch the page's poller bring its row to Ready, open
the detail page (events, Helm history, the password reveal), verify, upgrade and roll back, delete it
and watch the row disappear. An invalid name is refused inline; another user cannot see the store.

KWOK runs no containers: "Ready" and Verify here prove the orchestration and the pages, not that
WooCommerce serves an order (that is `helm test` on a real cluster)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from app.auth import accounts
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.migrate import upgrade_to_head
from app.settings import REPO_ROOT
from app.simcluster.client import ClusterClient
from tests.browser.conftest import ADMIN_PASSWORD, Site, serve
from tests.cluster.e2e.platform import platform_settings, until

PASSWORD = "Orchard-Lantern-7-passw0rd"
# The committed screenshots are refreshed only on request (STOREPLANE_UPDATE_SCREENSHOTS=1), so a test
# run does not dirty the checkout; otherwise they go to the test's temporary directory.
DOCS_IMG = REPO_ROOT / "docs" / "img"
SETTLED_DETAIL = "#store-detail[data-status=ready]:not(:has(#detail-poller))"  # nothing left to poll for
SETTLE_MS = 300_000  # the provisioning deadline of a test store is 600 s; helm here takes seconds


@pytest.fixture(scope="module")
def cluster_site(cluster: ClusterClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("dashboard")
    settings = platform_settings(cluster, tmp, admin_password=ADMIN_PASSWORD, embedded_workers=True)
    upgrade_to_head(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            for name in ("alice", "bob"):
                accounts.create_user(session, name=name, password=PASSWORD)
            _, token = accounts.create_token(session, accounts.find_user(session, "alice"), "cleanup")
    finally:
        engine.dispose()
    with serve(settings, workers=True) as site:
        try:
            yield site
        finally:
            _remove_leftovers(site, cluster, {"Authorization": f"Bearer {token}"})


def _remove_leftovers(site: Site, cluster: ClusterClient, headers: dict[str, str]) -> None:
    """A failed test must not leave a store behind in the shared cluster (through the API)."""
    api = f"{site.url}/api/v1/stores"
    listed = httpx.get(api, params={"limit": 200}, headers=headers).json()["items"]  # a test makes a few
    left = [s for s in listed if s["status"] != "deleted"]
    for s in left:
        httpx.delete(f"{api}/{s['id']}", headers=headers)
    for s in left:
        with suppress(AssertionError):  # the namespace delete below is the backstop
            until(
                lambda s=s: httpx.get(f"{api}/{s['id']}", headers=headers).json()["status"] == "deleted",
                limit=240,
                what=lambda s=s: f"store {s['id']} to be deleted",
            )
        cluster.kubectl("delete", "namespace", s["namespace"], "--ignore-not-found", "--wait=false")


def _login(browser: Browser, site: Site, name: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    page.goto(f"{site.url}/")
    expect(page).to_have_url(f"{site.url}/login?next=/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.url}/")
    return page


def _create(page: Page, name: str) -> None:
    page.fill("#stores input[name=name]", name)
    page.select_option("#stores form.create select[name=engine]", "woocommerce")
    with page.expect_response(lambda r: r.url.endswith("/stores") and r.request.method == "POST"):
        page.click("text=Create store")


def test_an_invalid_name_is_refused_inline_with_the_apis_sentence(browser: Browser, cluster_site: Site):
    page = _login(browser, cluster_site, "alice")
    page.evaluate("window.__notReloaded = true")
    _create(page, "Bad_Name")
    expect(page.locator("#create-error")).to_have_text(
        "'name': the store name may contain only lowercase letters, digits and '-', "
        "and must start and end with a letter or digit."
    )
    expect(page.locator("#stores input[name=name]")).to_have_value("Bad_Name")  # kept for correction
    assert page.evaluate("window.__notReloaded") is True  # an HTMX swap, not a reload
    assert page.locator("tr.store-row").count() == 0
    page.context.close()


def test_a_store_is_created_watched_to_ready_verified_rolled_back_and_deleted(
    browser: Browser, cluster_site: Site, cluster: ClusterClient, tmp_path: Path
):
    site = cluster_site
    shots = DOCS_IMG if os.environ.get("STOREPLANE_UPDATE_SCREENSHOTS") == "1" else tmp_path
    page = _login(browser, site, "alice")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm on every action
    polls: list[str] = []
    page.on("request", lambda r: "/changes?" in r.url and polls.append(r.url))

    # The simulated cluster runs no container: every page says so.
    expect(page.locator("#simulated-cluster-banner")).to_contain_text("No container runs")

    _create(page, "browser-shop")
    row = page.locator("tr.store-row", has_text="browser-shop")
    expect(row).to_have_count(1)
    store_id = row.get_attribute("id").removeprefix("store-")  # type: ignore[union-attr]
    expect(row.locator("input[name=watch]")).to_have_count(1)  # not settled: the page's poller asks about it
    expect(page.locator("#store-poller")).to_have_attribute("hx-trigger", re.compile("load delay"))

    # The poller brings the row to Ready; with nothing left to watch it stops.
    page.wait_for_selector(f"#store-{store_id}[data-status=ready]", timeout=SETTLE_MS)
    expect(row.locator("input[name=watch]")).to_have_count(0)
    expect(page.locator("#store-poller")).not_to_have_attribute("hx-trigger", re.compile(".*"))
    assert polls and all("/stores/changes?" in url for url in polls)
    expect(row.locator(".badge")).to_have_text("Ready")
    expect(row.locator("a.storefront-link")).to_have_attribute("href", "http://browser-shop.localhost/")
    expect(row.locator("a.admin-link")).to_have_attribute("href", "http://browser-shop.localhost/wp-admin/")
    assert re.fullmatch(r"(\d+m )?\d+s", row.locator("td.took").inner_text())
    polled = len(polls)
    page.wait_for_timeout(4500)  # longer than the longest wait: a settled page asks for nothing
    assert len(polls) == polled
    page.screenshot(path=str(shots / "dashboard.png"))

    # Another user sees neither the row nor the detail page.
    bob = _login(browser, site, "bob")
    assert bob.locator("tr.store-row").count() == 0
    response = bob.goto(f"{site.url}/stores/{store_id}")
    assert response is not None and response.status == 404
    expect(bob.get_by_role("alert")).to_contain_text(f"You have no store with id '{store_id}'.")
    bob.context.close()

    # The detail page: fields, Helm history, activity log, the audited password reveal.
    page.click(f"#store-{store_id} a.store-name")
    expect(page).to_have_url(f"{site.url}/stores/{store_id}")
    detail = page.locator("#store-detail")
    expect(detail).to_have_attribute("data-status", "ready")
    expect(page.locator("#revision-1")).to_contain_text("deployed")
    expect(page.locator("tr.event", has_text="requested")).to_have_count(1)
    assert page.locator("tr.event").count() >= 3
    with page.expect_response(f"**/stores/{store_id}/admin-password") as revealed:
        page.click("text=Show admin password")
    assert revealed.value.headers["cache-control"] == "no-store"
    assert len(page.locator("#revealed-password").inner_text()) >= 16

    # Verify: the block polls while the Helm test runs, then settles with the result in the log.
    with page.expect_response(f"**/stores/{store_id}/verify"):
        detail.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_selector(SETTLED_DETAIL, timeout=SETTLE_MS)
    expect(
        page.locator("tr.event", has_text="Kubernetes and Helm checks passed; nothing ran in containers")
    ).to_have_count(1)
    expect(page.locator("tr.event", has_text="store verified")).to_have_count(0)

    # Upgrade makes revision 2; rolling back to revision 1 makes revision 3.
    with page.expect_response(f"**/stores/{store_id}/upgrade"):
        detail.get_by_role("button", name="Upgrade", exact=True).click()
    page.wait_for_selector(SETTLED_DETAIL, timeout=SETTLE_MS)
    expect(page.locator("#revision-2")).to_contain_text("deployed")
    with page.expect_response(f"**/stores/{store_id}/rollback"):
        page.locator("#revision-1").get_by_role("button", name="Roll back to this revision").click()
    page.wait_for_selector(SETTLED_DETAIL, timeout=SETTLE_MS)
    expect(page.locator("#revision-3")).to_contain_text("Rollback to 1")
    expect(page.locator("#store-detail dd", has_text=re.compile(r"^3$"))).to_have_count(1)
    page.reload()  # the screenshot must not show the revealed password
    expect(page.locator("#revealed-password")).to_have_count(0)
    page.screenshot(path=str(shots / "store-detail.png"), full_page=True)

    # Delete from the list: the row shows Deleting, polls, and leaves the table once everything is gone.
    page.goto(f"{site.url}/")
    row = page.locator(f"#store-{store_id}")
    with page.expect_response(f"**/stores/{store_id}/delete"):
        row.get_by_role("button", name="Delete", exact=True).click()
    expect(row.locator(".badge")).to_have_text("Deleting")
    expect(row).to_have_count(0, timeout=SETTLE_MS)
    assert cluster.kubectl("get", "namespace", f"store-{store_id}", "--ignore-not-found", "-o", "name") == ""
    page.reload()
    assert page.locator("tr.store-row").count() == 0
    page.context.close()
