"""Linked domains in a real browser against the simulated cluster, real helm and the store chart,
with embedded workers and a DNS server on 127.0.0.1: add a domain, read the DNS records the page
asks for, create them, "Check now" (verified, then served by the store action: active), make it the
primary address and watch the store's links follow it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from app.auth import accounts
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.migrate import upgrade_to_head
from app.simcluster.client import ClusterClient
from tests.browser.conftest import ADMIN_PASSWORD, Site, serve
from tests.browser.test_stores_dashboard import PASSWORD, SETTLE_MS, _create, _login, _remove_leftovers
from tests.cluster.e2e.platform import platform_settings
from tests.dns_server import Zone, dns_server

INGRESS = "ingress.example.net"
DOMAIN = "shop.example.org"


@pytest.fixture(scope="module")
def domain_site(
    cluster: ClusterClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Site, Zone]]:
    tmp = tmp_path_factory.mktemp("domains")
    with dns_server() as (zone, resolver):
        settings = platform_settings(
            cluster,
            tmp,
            admin_password=ADMIN_PASSWORD,
            embedded_workers=True,
            public_ingress_host=INGRESS,
            dns_resolvers=resolver,
            dns_timeout_seconds=2.0,
        )
        upgrade_to_head(settings.effective_database_url)
        engine = make_engine(settings.effective_database_url)
        try:
            with transaction(make_sessionmaker(engine)) as session:
                accounts.create_user(session, name="alice", password=PASSWORD)
                _, token = accounts.create_token(session, accounts.find_user(session, "alice"), "cleanup")
        finally:
            engine.dispose()
        with serve(settings, workers=True) as site:
            try:
                yield site, zone
            finally:
                _remove_leftovers(site, cluster, {"Authorization": f"Bearer {token}"})


def test_a_domain_is_added_verified_served_and_made_primary(browser: Browser, domain_site) -> None:
    site, zone = domain_site
    page = _login(browser, site, "alice")
    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm on Make primary
    _create(page, "linked-shop")
    row = page.locator("tr.store-row", has_text="linked-shop")
    store_id = row.get_attribute("id").removeprefix("store-")  # type: ignore[union-attr]
    page.wait_for_selector(f"#store-{store_id}[data-status=ready]:not([hx-trigger])", timeout=SETTLE_MS)
    page.goto(f"{site.url}/stores/{store_id}")

    own = page.locator("tr.domain[data-domain='linked-shop.localhost']")
    expect(own).to_contain_text("The store's own address")
    expect(own.locator(".badge-primary")).to_have_text("Primary")

    page.fill("form.add-domain input[name=domain]", "Shop.Example.org")
    page.click("form.add-domain button[type=submit]")
    domain = page.locator(f"tr.domain[data-domain='{DOMAIN}']")
    expect(domain).to_have_attribute("data-state", "pending")
    records = domain.locator("tr.dns-record")
    expect(records).to_have_count(2)
    expect(records.nth(0)).to_contain_text(f"TXT_storeplane.{DOMAIN}")
    expect(records.nth(1)).to_contain_text(f"CNAME{DOMAIN}{INGRESS}")
    token = records.nth(0).locator("code.secret").inner_text()
    assert token.startswith("storeplane-verify-")

    # Too early: the page says what is missing.
    domain.get_by_role("button", name="Check now").click()
    expect(domain.locator(".domain-details")).to_contain_text(f"No TXT record at _storeplane.{DOMAIN} yet.")

    # The owner creates the records at their DNS provider (here: the test's DNS server).
    zone.set(f"_storeplane.{DOMAIN}", "TXT", token)
    zone.set(DOMAIN, "CNAME", INGRESS)
    domain.get_by_role("button", name="Check now").click()
    expect(page.locator(f"tr.domain[data-domain='{DOMAIN}']")).to_have_attribute("data-state", "verified")
    # Verifying queued the store action that serves it; the page polls until the store settles.
    page.wait_for_selector(f"tr.domain[data-domain='{DOMAIN}'][data-state=active]", timeout=SETTLE_MS)
    page.wait_for_selector("#store-detail[data-status=ready]:not([hx-trigger])", timeout=SETTLE_MS)

    page.locator(f"tr.domain[data-domain='{DOMAIN}']").get_by_role("button", name="Make primary").click()
    page.wait_for_selector(
        f"tr.domain[data-domain='{DOMAIN}'] .badge-primary", timeout=SETTLE_MS
    )  # applied by the store action, then shown
    expect(page.locator("a.storefront-link")).to_have_attribute("href", f"http://{DOMAIN}/")
    expect(page.locator("tr.domain[data-domain='linked-shop.localhost'] .badge-primary")).to_have_count(0)
    events = page.locator("table.events")
    expect(events).to_contain_text(f"domains requested: make {DOMAIN} the primary address")
    expect(events).to_contain_text(f"{DOMAIN} verified by DNS")
    page.context.close()
