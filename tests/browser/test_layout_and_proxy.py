"""The dashboard in Debian's chromium: behind a TLS-terminating proxy its stylesheet and htmx load
(no mixed content) and HTMX forms work; the stores table fits its card at 1280 px, with the admin's
owner column, long names and a long failure reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import update

from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.models import Store
from app.settings import Settings
from tests.browser.conftest import ADMIN_PASSWORD, Site, serve
from tests.browser.tls_proxy import tls_proxy


@pytest.fixture
def proxied_site(tmp_path: Path) -> Iterator[Site]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'storeplane.db'}",
        admin_password=ADMIN_PASSWORD,
        metrics_port=0,
        embedded_workers=False,
        trusted_proxies=["127.0.0.1/32"],
    )
    with serve(settings) as site, tls_proxy(site.url, tmp_path) as https_url:
        yield Site(https_url, settings)


def _log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Stores")
    page.wait_for_load_state("load")  # the stylesheet and htmx, too


def test_behind_a_tls_proxy_the_page_loads_its_assets_and_htmx_works(browser: Browser, proxied_site: Site):
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    try:
        _log_in(page, proxied_site.url)
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(246, 248, 250)"  # site.css arrived
        assert page.evaluate("typeof window.htmx") == "object"
        page.fill("input[name=name]", "proxied")
        page.click("button.primary")  # an HTMX post: the row appears without a page load
        expect(page.locator("tr.store-row a.store-name")).to_have_text("proxied")
        cookie = next(c for c in context.cookies() if c["name"] == "storeplane_session")
        assert cookie["secure"]  # the trusted proxy said HTTPS
        assert not failed, failed
        assert not [p for p in problems if "Mixed Content" in p or "Content Security Policy" in p], problems
    finally:
        context.close()


@pytest.fixture
def busy_site(tmp_path: Path) -> Iterator[Site]:
    """Stores with the longest names, one Failed with a long reason, seen by an admin (owner column)."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'storeplane.db'}",
        admin_password=ADMIN_PASSWORD,
        metrics_port=0,
        embedded_workers=False,
        max_provisioning_per_user=10,
    )
    with serve(settings) as site:
        _add_stores(site)
        yield site


def _add_stores(site: Site) -> None:
    import httpx

    from app.auth import accounts

    engine = make_engine(site.settings.effective_database_url)
    factory = make_sessionmaker(engine)
    try:
        with transaction(factory) as session:
            owner = accounts.create_user(session, name="alexandra.konstantinopoulou-hartmann", password=None)
            _, token = accounts.create_token(session, owner, "setup")
        with httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {token}"}) as http:
            for i in range(3):
                name = f"thelongeststorenameofthirtych{i}"  # no hyphen: nowhere to break
                assert (
                    http.post("/api/v1/stores", json={"name": name, "engine": "woocommerce"}).status_code
                    == 202
                )
        reason = (
            "did not become ready within the provisioning deadline (1200 s); last error: 0/3 nodes are "
            "available: 3 Insufficient memory. preemption: 0/3 nodes are available."
        )
        with transaction(factory) as session:
            session.execute(
                update(Store).where(Store.name.endswith("0")).values(status="failed", status_reason=reason)
            )  # type: ignore[union-attr]
    finally:
        engine.dispose()


@pytest.mark.parametrize("width", [1280, 1024])
def test_the_stores_table_fits_its_card(browser: Browser, busy_site: Site, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    try:
        _log_in(page, busy_site.url)
        expect(page.locator("tr.store-row")).to_have_count(3)
        card = page.evaluate(
            """() => { const c = document.querySelector('section.card');
                       const t = c.querySelector('table.stores');
                       return {card: c.getBoundingClientRect().right, table: t.getBoundingClientRect().right,
                               overflow: c.scrollWidth - c.clientWidth,
                               page: document.documentElement.scrollWidth - window.innerWidth}; }"""
        )
        assert card["table"] <= card["card"], card
        assert card["overflow"] <= 0 and card["page"] <= 0, card
    finally:
        context.close()
