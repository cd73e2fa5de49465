"""A person buys from the Medusa storefront in a real browser (Debian's chromium): the native store
of tests/native_medusa.py (real Medusa, real PostgreSQL), the storefront page at `/`, add the
product to the cart, check out with an address, the shipping option and the manual payment, read the
order number on the confirmation, and find that order in the admin API."""

from __future__ import annotations

import re

from playwright.sync_api import Browser, expect

from tests.native_medusa import ADMIN_EMAIL, NativeMedusa

# The first cart and order after a start compile Medusa's workflows: give the browser time.
STEP_MS = 60_000


def test_a_shopper_buys_the_product_and_the_order_is_in_the_admin_api(
    browser: Browser, medusa_store: NativeMedusa
) -> None:
    context = browser.new_context()
    page = context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(medusa_store.url + "/")
        expect(page).to_have_title("Native Medusa shop")
        product = page.locator(".product", has_text="Storeplane T-shirt")
        expect(product.locator(".price")).to_contain_text("19.99", timeout=STEP_MS)

        product.get_by_role("button", name="Add to cart").click()
        expect(page.locator("#cart-count")).to_have_text("1", timeout=STEP_MS)
        page.get_by_role("button", name="Cart (1)").click()
        expect(page.locator("#cart-lines")).to_contain_text("Storeplane T-shirt")

        page.get_by_label("E-mail").fill("shopper@example.org")
        page.get_by_label("First name").fill("Ada")
        page.get_by_label("Last name").fill("Lovelace")
        page.get_by_label("Address").fill("12 Analytical Row")
        page.get_by_label("City").fill("Toronto")
        page.get_by_label("Postal code").fill("M5V 2T6")
        page.get_by_label("Country").select_option("ca")
        page.get_by_role("button", name="Continue to delivery").click()

        shipping = page.get_by_label("Standard shipping", exact=False)
        expect(shipping).to_be_checked(timeout=STEP_MS)
        expect(page.get_by_label("Manual payment", exact=False)).to_be_checked()
        expect(page.locator("#cart-total")).to_contain_text("24.99")
        page.get_by_role("button", name="Place order").click()

        confirmation = page.locator("#confirmation")
        expect(confirmation).to_be_visible(timeout=STEP_MS)
        number = page.locator("#order-number")
        expect(number).to_have_text(re.compile(r"^#\d+$"))
        display_id = int(number.inner_text().removeprefix("#"))
        order_id = number.get_attribute("data-order-id")
        assert order_id and order_id.startswith("order_")
        expect(page.locator("#message")).to_be_hidden()
    finally:
        context.close()

    seen = medusa_store.admin_order(order_id)
    assert seen["display_id"] == display_id
    assert seen["email"] == "shopper@example.org"
    assert seen["payment_status"] == "authorized"
    assert [item["product_title"] for item in seen["items"]] == ["Storeplane T-shirt"]
    assert console_errors == []


def test_the_owner_finds_the_order_in_the_admin_dashboard(
    browser: Browser, medusa_store: NativeMedusa
) -> None:
    """The admin at /app (the image's admin build, from `make medusa-deps`), logged in with the admin
    user the set-up created: the Orders list shows an order placed through the Store API."""
    order = medusa_store.place_order()
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(medusa_store.url + "/app/login")
        page.fill("input[name=email]", ADMIN_EMAIL)
        page.fill("input[name=password]", medusa_store.admin_password)
        page.get_by_role("button", name="Continue with Email").click()
        expect(page).to_have_url(re.compile(r"/app/orders"), timeout=STEP_MS)
        row = page.locator("tr", has_text=f"#{order.display_id}")
        expect(row).to_contain_text("verify@storeplane.test", timeout=STEP_MS)
        expect(row).to_contain_text("Authorized")
    finally:
        context.close()
