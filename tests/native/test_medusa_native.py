"""The Medusa store end to end on this machine: Debian's PostgreSQL, the store's own set-up script
run twice, `medusa start`, and the order script `helm test` runs, with the order read back from
the admin API. Real Node.js, real npm packages (from the lockfile), a real database: nothing faked.

The store is started once per session (the `medusa_store` fixture in tests/conftest.py) and shared
with the browser purchase test.
"""

from __future__ import annotations

import re
import subprocess

import httpx

from tests.native_medusa import NativeMedusa, admin_dir, deps_dir, free_port, run


def _steps(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("ok   ")]


def test_the_set_up_runs_twice_and_the_second_run_creates_nothing(medusa_store: NativeMedusa) -> None:
    first, second = medusa_store.setup_runs
    assert first.returncode == 0 and second.returncode == 0
    first_steps, second_steps = _steps(first.output), _steps(second.output)
    names = [line.split(":")[0].removeprefix("ok   ") for line in first_steps]
    assert names == [
        "sales channel", "store", "region", "tax regions", "stock location", "stock location links",
        "shipping profile", "fulfillment set", "shipping option", "publishable API key", "product",
        "stock", "admin user",
    ]  # fmt: skip
    assert any("created" in line for line in first_steps)
    assert [line.split(":")[0] for line in second_steps] == [line.split(":")[0] for line in first_steps]
    assert not [line for line in second_steps if re.search(r"\bcreated\b|\blinked\b|changed|repriced", line)]
    assert "setup complete" in second.output
    # The admin password is never printed, by either run.
    assert medusa_store.admin_password not in first.output + second.output


def test_an_order_through_the_store_api_is_in_the_admin_api(medusa_store: NativeMedusa) -> None:
    order = medusa_store.place_order()
    steps = [line.split(":")[0].removeprefix("ok   ") for line in _steps(order.run.output)]
    assert steps == [
        "storefront", "list regions", "list products", "create cart", "add line item",
        "set email and addresses", "list shipping options", "add shipping method",
        "create payment collection", "create payment session", "complete cart", "admin login",
        "order in admin API",
    ]  # fmt: skip
    # Read back independently of the script: the admin API has the order with its line and total.
    seen = medusa_store.admin_order(order.id)
    assert seen["display_id"] == order.display_id
    assert seen["email"] == "verify@storeplane.test"
    assert seen["payment_status"] == "authorized"
    assert [item["product_title"] for item in seen["items"]] == ["Storeplane T-shirt"]
    assert seen["total"] == 24.99  # 19.99 + 5 shipping, major units
    assert medusa_store.admin_password not in order.run.output


def test_the_order_test_names_the_step_that_fails(medusa_store: NativeMedusa) -> None:
    wrong = medusa_store.order_test(ADMIN_PASSWORD="not-the-password")
    assert wrong.returncode == 1
    assert "order test FAILED at step 'admin login': HTTP 401" in wrong.output

    closed = medusa_store.order_test(STORE_URL=f"http://127.0.0.1:{free_port()}")
    assert closed.returncode == 1
    assert "order test FAILED at step 'storefront'" in closed.output
    assert "did not complete" in closed.output


def test_a_failing_set_up_step_is_named(medusa_store: NativeMedusa) -> None:
    # No database: the first step says so within WAIT_SECONDS, before any migration.
    down = medusa_store.setup(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/medusa", WAIT_SECONDS="2"
    )
    assert down.returncode == 1
    assert "setup FAILED at step 'database'" in down.output
    assert "postgres://" not in down.output  # the URL (it carries the password in the cluster) is not echoed

    # A value the seed refuses: the step and the reason, and nothing created.
    bad = run(
        ["node_modules/.bin/medusa", "exec", "./src/scripts/setup.ts"],
        cwd=medusa_store.app_dir,
        env=medusa_store.env | {"STORE_COUNTRIES": "usa"},
        limit=300,
    )
    assert bad.returncode == 1
    assert (
        "setup FAILED at step 'configuration': STORE_COUNTRIES must be ISO 3166 alpha-2 codes" in bad.output
    )


def test_the_storefront_serves_only_its_own_assets(medusa_store: NativeMedusa) -> None:
    page = httpx.get(medusa_store.url + "/", timeout=30)
    assert page.status_code == 200
    assert "Native Medusa shop" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert httpx.get(medusa_store.url + "/storefront/app.js", timeout=30).status_code == 200
    for name in ("index.html", "..%2Fpackage.json", "package.json"):
        assert httpx.get(f"{medusa_store.url}/storefront/{name}", timeout=30).status_code == 404, name
    # The Store API still wants its publishable key: the storefront is not a way around it.
    assert httpx.get(medusa_store.url + "/store/products", timeout=30).status_code == 400


def test_nothing_is_written_to_the_app_or_node_modules(medusa_store: NativeMedusa) -> None:
    """What a read-only root filesystem needs: after two set-ups, a start, orders and the admin
    dashboard served, no file or directory under the app, its node_modules or the admin build is
    newer than the copy (writes went to HOME, which is /tmp in the pod)."""
    since = f"@{medusa_store.started_marker:.3f}"
    places = [str(medusa_store.app_dir), str(deps_dir() / "node_modules"), str(admin_dir())]
    found = subprocess.run(["find", *places, "-newermt", since], capture_output=True, text=True, check=True)
    assert found.stdout.split() == []
    assert medusa_store.process.poll() is None  # and the store is still serving
