"""The Fleet page in a real browser against the simulated cluster, real helm and a copy of the store
chart, with embedded workers (and so the rollout controller): it shows what the stores run and who
is behind, starts a rollout from its form, shows the canary and the wave progress live (the block
polls itself), and the halt when a store fails — with the store rolled back and the rest untouched.

Three stores are made on chart 0.1.9; 0.2.0 then ships; the second store carries a value that makes
its set-up fail on the simulated cluster (tests/fleet_charts.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from app.auth import accounts
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.migrate import upgrade_to_head
from app.db.models import Store
from app.simcluster.client import ClusterClient
from tests.browser.conftest import ADMIN_PASSWORD, Site, serve
from tests.browser.test_stores_dashboard import DOCS_IMG, _remove_leftovers
from tests.cluster.e2e.platform import platform_settings, until
from tests.fleet_charts import FAILING_SETUP, chart_copy, set_version

SETTLE_MS = 240_000


@pytest.fixture
def fleet_site(cluster: ClusterClient, tmp_path: Path) -> Iterator[tuple[Site, dict[str, str], Path]]:
    chart = chart_copy(tmp_path, "0.1.9")
    settings = platform_settings(
        cluster,
        tmp_path,
        admin_password=ADMIN_PASSWORD,
        embedded_workers=True,
        store_chart=str(chart),
        rollout_tick_seconds=0.5,
    )
    upgrade_to_head(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            _, token = accounts.create_token(
                session, accounts.find_user(session, "admin") or _admin(session), "t"
            )
    finally:
        engine.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    with serve(settings, workers=True) as site:
        try:
            yield site, headers, chart
        finally:
            _remove_leftovers(site, cluster, headers)


def _admin(session):  # type: ignore[no-untyped-def]
    return accounts.create_user(session, name="admin", password=ADMIN_PASSWORD, is_admin=True)


def test_the_fleet_page_shows_versions_starts_a_rollout_shows_its_progress_and_its_halt(
    browser: Browser, fleet_site: tuple[Site, dict[str, str], Path], tmp_path: Path
) -> None:
    site, headers, chart = fleet_site
    api = f"{site.url}/api/v1"
    ids = [
        httpx.post(
            f"{api}/stores", json={"name": f"fleet-page-{i}", "engine": "woocommerce"}, headers=headers
        ).json()["id"]
        for i in range(3)
    ]
    for sid in ids:
        until(
            lambda sid=sid: httpx.get(f"{api}/stores/{sid}", headers=headers).json()["status"] == "ready",
            limit=240,
            what=lambda sid=sid: f"store {sid} to be ready",
        )
    engine = make_engine(site.settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            session.get_one(Store, ids[1]).chart_values = FAILING_SETUP
    finally:
        engine.dispose()
    set_version(chart, "0.2.0")

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{site.url}/login?next=/admin/fleet")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.url}/admin/fleet")
    expect(page.locator("#current-chart")).to_contain_text("store 0.2.0")
    expect(page.locator("#behind-total")).to_have_text("3")
    expect(page.locator("table.fleet-counts tr.count td")).to_have_text(
        ["WooCommerce", "0.1.9", "Ready", "3"]
    )
    expect(page.locator(f"#behind-{ids[0]} td.version")).to_have_text("store 0.1.9 · WooCommerce 11.0.1")

    form = page.locator("#rollout form.rollout-form")
    form.locator("input[name=wave_size]").fill("2")
    form.locator("input[name=parallelism]").fill("1")
    with page.expect_response(
        lambda r: r.url.endswith("/admin/fleet/rollouts") and r.request.method == "POST"
    ):
        form.get_by_role("button", name="Start rollout").click()
    rollout = page.locator("#rollout")
    expect(rollout).to_have_attribute("data-status", "running")
    expect(page.locator("#wave-0 h3")).to_contain_text("Canary")
    # Live progress: the canary's step is seen upgrading or done, then wave 1 takes over.
    expect(page.locator(f"#step-{ids[0]}")).to_have_attribute("data-state", "succeeded", timeout=SETTLE_MS)
    page.wait_for_selector("#rollout[data-status=halted]:not([hx-trigger])", timeout=SETTLE_MS)
    expect(page.locator("#rollout-reason")).to_have_text("halted: 1 store(s) failed, none tolerated")
    expect(page.locator(f"#step-{ids[1]}")).to_have_attribute("data-state", "failed")
    expect(page.locator(f"#step-{ids[1]} .step-error")).to_contain_text("rolled back")
    expect(page.locator(f"#step-{ids[2]}")).to_have_attribute("data-state", "pending")
    expect(rollout.get_by_role("button", name="Resume (retries failed stores)")).to_be_visible()
    # Settled, the page reloaded itself: the counts and the stores behind are where the rollout left them.
    expect(page.locator("#behind-total")).to_have_text("2")
    expect(page.locator("tr[id^=rollout-row-] .badge")).to_have_text(["Halted"])
    if os.environ.get("STOREPLANE_UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(DOCS_IMG / "fleet.png"), full_page=True)
    else:
        page.screenshot(path=str(tmp_path / "fleet.png"), full_page=True)

    # The failed store serves its previous chart again; the untouched one never moved.
    stores = {s["id"]: s for s in httpx.get(f"{api}/stores", headers=headers).json()["items"]}
    assert (stores[ids[0]]["chart_version"], stores[ids[2]]["chart_version"]) == ("0.2.0", "0.1.9")
    page.context.close()
