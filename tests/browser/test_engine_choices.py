"""The dashboard offers every engine the deployed store chart builds, and a Medusa store's row links
its storefront (`/`) and its admin (`/app/`) on the store's host. A chart that does not build
Medusa is not offered it, and a Medusa store posted anyway is refused inline with the API's own
sentence. Workers are off: these pages are about choices and links, not provisioning."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.settings import REPO_ROOT, Settings
from tests.browser.conftest import ADMIN_PASSWORD, Site, serve


def _login(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/login?next=/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{site.url}/")


@pytest.fixture
def woocommerce_only_site(tmp_path: Path) -> Iterator[Site]:
    chart = tmp_path / "store-chart"
    shutil.copytree(REPO_ROOT / "store-chart", chart)
    meta = (chart / "Chart.yaml").read_text()
    (chart / "Chart.yaml").write_text(meta.replace("engines: woocommerce,medusa", "engines: woocommerce"))
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'storeplane.db'}",
        admin_password=ADMIN_PASSWORD,
        metrics_port=0,
        embedded_workers=False,
        store_chart=str(chart),
    )
    with serve(settings) as running:
        yield running


def test_both_engines_are_offered_and_a_medusa_row_links_storefront_and_admin(browser: Browser, site: Site):
    context = browser.new_context()
    page = context.new_page()
    _login(page, site)
    engine = page.locator("form.create select[name=engine]")
    assert engine.locator("option").all_inner_texts() == ["WooCommerce", "MedusaJS"]
    page.fill("input[name=name]", "medu")
    engine.select_option("medusa")
    page.get_by_role("button", name="Create store").click()
    row = page.locator("tr.store-row", has_text="medu")
    expect(row).to_contain_text("MedusaJS")
    expect(row.locator("a.storefront-link")).to_have_attribute("href", "http://medu.localhost/")
    expect(row.locator("a.admin-link")).to_have_attribute("href", "http://medu.localhost/app/")
    context.close()


def test_a_chart_without_medusa_offers_only_woocommerce_and_refuses_medusa_inline(
    browser: Browser, woocommerce_only_site: Site
):
    site = woocommerce_only_site
    context = browser.new_context()
    page = context.new_page()
    _login(page, site)
    assert page.locator("form.create select[name=engine] option").all_inner_texts() == ["WooCommerce"]
    # A stale form (or a hand-made request) still posts medusa: refused with the API's sentence.
    page.evaluate(
        "document.querySelector('form.create select[name=engine]')"
        ".add(new Option('MedusaJS', 'medusa', true, true))"
    )
    page.fill("input[name=name]", "medu")
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("alert")).to_contain_text("MedusaJS stores cannot be created here")
    expect(page.locator("tr.store-row")).to_have_count(0)
    context.close()
