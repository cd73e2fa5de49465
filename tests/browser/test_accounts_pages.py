"""The account pages in a real browser: log in, manage API tokens and users through HTMX forms
(which carry the CSRF token as a header), and a session cookie the page's scripts cannot read."""

from __future__ import annotations

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import ADMIN_PASSWORD, Site


def _login(page: Page, site: Site, username: str, password: str, path: str = "/account/tokens") -> None:
    page.goto(f"{site.url}{path}")
    expect(page).to_have_url(f"{site.url}/login?next={path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_a_wrong_password_shows_an_error_and_no_session(browser: Browser, site: Site):
    context = browser.new_context()
    page = context.new_page()
    _login(page, site, "admin", "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    page.goto(f"{site.url}/account/tokens")
    expect(page).to_have_url(f"{site.url}/login?next=/account/tokens")
    context.close()


def test_tokens_are_created_once_used_and_revoked_through_htmx(browser: Browser, site: Site):
    context = browser.new_context()
    page = context.new_page()
    _login(page, site, "admin", ADMIN_PASSWORD)
    expect(page).to_have_url(f"{site.url}/account/tokens")
    [cookie] = [c for c in context.cookies() if c["name"] == "storeplane_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["secure"] is False
    assert "storeplane_session" not in page.evaluate("document.cookie")

    page.evaluate("window.__notReloaded = true")  # HTMX swaps a fragment; a full reload would drop this
    page.fill("input[name=name]", "ci")
    page.click("text=Create token")
    token = page.locator("#new-token").inner_text(timeout=10_000)
    assert page.evaluate("window.__notReloaded") is True
    assert token.startswith("sp_") and len(token) == 46
    me = httpx.get(f"{site.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == "admin"

    page.on("dialog", lambda dialog: dialog.accept())  # hx-confirm asks before revoking
    row = page.locator("tr", has_text="ci")
    row.locator("text=Revoke").click()
    expect(page.locator("tr", has_text="ci")).to_contain_text("revoked")
    assert page.locator("#new-token").count() == 0  # the token is not shown again
    assert (
        httpx.get(f"{site.url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    context.close()


def test_an_admin_creates_limits_and_disables_a_user_who_is_then_locked_out(browser: Browser, site: Site):
    admin = browser.new_context().new_page()
    _login(admin, site, "admin", ADMIN_PASSWORD, path="/admin/users")
    expect(admin).to_have_url(f"{site.url}/admin/users")
    admin.fill("input[name=name]", "erin")
    admin.click("text=Create user")
    password = admin.locator("#new-password").inner_text(timeout=10_000)

    erin = browser.new_context().new_page()
    _login(erin, site, "erin", password)
    expect(erin).to_have_url(f"{site.url}/account/tokens")
    erin.goto(f"{site.url}/admin/users")
    assert "Only an admin may manage users." in erin.content()

    row = admin.locator("tr", has_text="erin")
    row.locator("input[name=max_stores]").fill("5")
    with admin.expect_response("**/admin/users/*"):  # wait for the HTMX swap before the next click
        row.locator("text=Set").click()
    expect(admin.locator("tr", has_text="erin").locator("input[name=max_stores]")).to_have_value("5")
    with admin.expect_response("**/admin/users/*"):
        admin.locator("tr", has_text="erin").locator("text=Disable").click()
    expect(admin.locator("tr", has_text="erin")).to_contain_text("disabled")

    erin.goto(f"{site.url}/account/tokens")
    expect(erin).to_have_url(f"{site.url}/login?next=/account/tokens")


def test_logout_ends_the_session(browser: Browser, site: Site):
    page = browser.new_context().new_page()
    _login(page, site, "admin", ADMIN_PASSWORD)
    # Not the simulated cluster: no banner (the dashboard test shows it on the simulated one).
    expect(page.locator("#simulated-cluster-banner")).to_have_count(0)
    page.click("text=Log out")
    expect(page).to_have_url(f"{site.url}/login")
    page.goto(f"{site.url}/account/tokens")
    expect(page).to_have_url(f"{site.url}/login?next=/account/tokens")
