"""The chart's setup script, run for real with bash against a real MariaDB (Debian's mariadbd) and
a WP-CLI stand-in (tests/unit/chart/fake_wp.py): WordPress with WooCommerce cannot run in CI, so
`wp` is the one boundary that is faked, and the fake refuses what real WP-CLI and WooCommerce
refuse (see its docstring). What is proven: step order, idempotency (a second run changes nothing
it need not), convergence on changed values, loud failure naming the step, and that the admin
password is never printed. The script was also run against a real WordPress + WooCommerce +
WP-CLI (store-chart/README.md, "What is proven")."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "store-chart" / "files" / "woocommerce" / "setup.sh"
FAKE_WP = Path(__file__).with_name("fake_wp.py")
ADMIN_PASSWORD = "Adm1nS3cretValue"
DB_PASSWORD = "DbS3cretValue"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A throwaway MariaDB on 127.0.0.1 with the database and user the chart's StatefulSet creates."""
    for tool in ("mariadbd", "mariadb-install-db", "mariadb"):
        assert shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists(), (
            f"{tool} missing: run `make system-deps`"
        )
    base = tmp_path_factory.mktemp("mariadb")
    data, sock, port = base / "data", base / "mysqld.sock", free_port()
    subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root", "--skip-test-db",
         "--auth-root-authentication-method=socket"],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    server = subprocess.Popen(
        [mariadbd, "--no-defaults", f"--datadir={data}", "--user=root",
         f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1", f"--pid-file={base / 'pid'}",
         "--skip-log-bin", "--innodb-buffer-pool-size=16M"],
        stdout=subprocess.DEVNULL, stderr=(base / "err.log").open("wb"),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert server.poll() is None, (base / "err.log").read_text()
            assert time.monotonic() < deadline, "mariadbd did not open its socket within 60 s"
            time.sleep(0.2)
        sql = (
            "CREATE DATABASE wordpress; "
            f"CREATE USER 'wordpress'@'127.0.0.1' IDENTIFIED BY '{DB_PASSWORD}'; "
            "GRANT ALL ON wordpress.* TO 'wordpress'@'127.0.0.1';"
        )
        subprocess.run(["mariadb", f"--socket={sock}", "-uroot", "-e", sql], check=True, timeout=30)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    """A WordPress directory as the web container leaves it, and a `wp` on PATH."""
    docroot = tmp_path / "html"
    (docroot / "wp-includes").mkdir(parents=True)
    (docroot / "wp-config.php").write_text("<?php // written by the web image's entrypoint\n")
    (docroot / "wp-includes" / "version.php").write_text("<?php $wp_version = '7.1';\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wp = bin_dir / "wp"
    wp.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_WP}" "$@"\n')
    wp.chmod(0o755)
    return {"docroot": docroot, "bin": bin_dir, "state": tmp_path / "state.json", "log": tmp_path / "wp.log"}


def environment(site: dict[str, Path], port: int, **overrides: str) -> dict[str, str]:
    env = {
        "PATH": f"{site['bin']}{os.pathsep}{os.environ['PATH']}",
        "FAKE_WP_STATE": str(site["state"]),
        "FAKE_WP_LOG": str(site["log"]),
        "WP_PATH": str(site["docroot"]),
        "WAIT_SECONDS": "30",
        "STORE_URL": "http://shop.localhost",
        "STORE_TITLE": "Shop",
        "ADMIN_USER": "storeadmin",
        "ADMIN_EMAIL": "admin@shop.localhost",
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "WP_CORE_VERSION": "7.1.0",
        "WC_VERSION": "11.0.1",
        "WC_PACKAGE_URL": "",
        "THEME_SLUG": "storefront",
        "THEME_VERSION": "4.6.2",
        "THEME_PACKAGE_URL": "",
        "STORE_CURRENCY": "USD",
        "STORE_COUNTRY": "US:CA",
        "PRODUCT_NAME": "Storeplane T-shirt",
        "PRODUCT_SKU": "storeplane-tshirt",
        "PRODUCT_PRICE": "19.99",
        "PRODUCT_STOCK": "100",
        "WORDPRESS_DB_HOST": f"127.0.0.1:{port}",
        "WORDPRESS_DB_USER": "wordpress",
        "WORDPRESS_DB_PASSWORD": DB_PASSWORD,
        "WORDPRESS_DB_NAME": "wordpress",
    }
    env.update(overrides)
    return env


def run_setup(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert ADMIN_PASSWORD not in result.stdout + result.stderr, "the admin password was printed"
    assert DB_PASSWORD not in result.stdout + result.stderr, "the database password was printed"
    return result


def calls(site: dict[str, Path]) -> list[str]:
    if not site["log"].exists():
        return []
    return [" ".join(json.loads(line)) for line in site["log"].read_text().splitlines()]


def state(site: dict[str, Path]) -> dict[str, Any]:
    return json.loads(site["state"].read_text())


def test_a_first_run_installs_a_store_ready_for_a_cash_on_delivery_order(mariadb, site):
    result = run_setup(environment(site, mariadb))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "setup complete: WooCommerce 11.0.1, theme storefront 4.6.2, product #10" in result.stdout
    s = state(site)
    assert s["installed"] and s["users"]["storeadmin"]["role"] == "administrator"
    assert s["plugins"]["woocommerce"] == {"version": "11.0.1", "active": True}
    assert s["themes"]["storefront"] == {"version": "4.6.2", "active": True}
    assert s["hpos"] is True, "orders must live in the HPOS tables from the start"
    options = s["options"]
    assert options["permalink_structure"] == "/%postname%/"
    assert options["woocommerce_coming_soon"] == "no"
    assert options["woocommerce_enable_guest_checkout"] == "yes"
    assert options["woocommerce_ship_to_countries"] == "disabled"
    assert options["woocommerce_onboarding_profile"] == {"skipped": True}
    # The task list is hidden through its current option, never through the deprecated alias.
    assert options["woocommerce_task_list_hidden_lists"] == ["setup"]
    assert not [c for c in calls(site) if "woocommerce_task_list_hidden " in c + " "]
    assert options["woocommerce_cod_settings"]["enabled"] == "yes"
    assert options["blogname"] == "Shop" and options["home"] == "http://shop.localhost"
    product = s["products"]["10"]
    assert (product["sku"], product["regular_price"], product["stock_quantity"], product["status"]) == (
        "storeplane-tshirt",
        "19.99",
        "100",
        "publish",
    )
    assert product["manage_stock"] == "true" and product["type"] == "simple"
    # Steps run in this order; each is announced so a failure can name it.
    steps = [line[4:] for line in result.stdout.splitlines() if line.startswith("==> ")]
    assert [step.split(" ")[0] for step in steps] == [
        "wait", "wait", "install", "WordPress", "site", "administrator", "pretty", "theme", "WooCommerce",
        "store", "order", "Cash", "product", "done",
    ]  # fmt: skip
    # The image tag 7.1.0 and WordPress's own "7.1" are the same release: core is not downloaded.
    assert not [c for c in calls(site) if c.startswith("core update ")]
    assert "core is 7.1, as in the image" in result.stdout


def test_a_second_run_changes_nothing_it_need_not(mariadb, site):
    env = environment(site, mariadb)
    assert run_setup(env).returncode == 0
    site["log"].unlink()

    again = run_setup(env)

    assert again.returncode == 0, again.stderr
    second = calls(site)
    for verb in (
        "core install",
        "plugin install",
        "theme install",
        "plugin activate",
        "theme activate",
        "wc product create",
        "user create",
        "core update ",
        "option update woocommerce_task_list_hidden_lists",
        "wc hpos enable",
        "wc hpos sync",
    ):
        assert not [c for c in second if c.startswith(verb)], f"second run repeated {verb}"  # fmt: skip
    assert len(state(site)["products"]) == 1
    assert any(c.startswith("wc product update 10 ") for c in second)


def test_changed_values_converge_on_the_next_run(mariadb, site):
    assert run_setup(environment(site, mariadb)).returncode == 0

    result = run_setup(
        environment(
            site,
            mariadb,
            WC_VERSION="11.1.0",
            STORE_TITLE="Renamed",
            PRODUCT_PRICE="24.50",
            WP_CORE_VERSION="7.2.0",
        )
    )

    assert result.returncode == 0, result.stderr
    s = state(site)
    assert s["plugins"]["woocommerce"]["version"] == "11.1.0"
    # wordpress.org names the x.y.0 release "x.y": that is the version asked for.
    assert s["core_version"] == "7.2"
    assert "core update --version=7.2 --force" in calls(site)
    assert s["options"]["blogname"] == "Renamed"
    assert s["products"]["10"]["regular_price"] == "24.50"
    assert "plugin install woocommerce --version=11.1.0 --force" in calls(site)


def test_a_failing_step_stops_the_run_and_is_named(mariadb, site):
    result = run_setup(environment(site, mariadb, FAKE_WP_FAIL="plugin install woocommerce"))

    assert result.returncode == 1
    assert "Error: Download failed." in result.stderr
    assert "setup FAILED at step 'WooCommerce 11.0.1' (exit 1)" in result.stderr
    assert not [c for c in calls(site) if c.startswith("wc ")], "steps after the failure ran"


def test_a_mirror_serving_another_version_fails_the_install(mariadb, site):
    mirror = "https://mirror.example.org/woocommerce.10.9.4.zip"
    result = run_setup(environment(site, mariadb, WC_PACKAGE_URL=mirror))

    assert result.returncode == 1
    assert "plugin woocommerce is at version '10.9.4' after installing, expected '11.0.1'" in result.stderr


def test_an_unreachable_database_fails_the_wait_step(mariadb, site):
    result = run_setup(
        environment(site, mariadb, WORDPRESS_DB_HOST=f"127.0.0.1:{free_port()}", WAIT_SECONDS="2")
    )

    assert result.returncode == 1
    assert "database not ready:" in result.stderr
    assert "did not answer within 2s" in result.stderr
    assert "setup FAILED at step 'wait for the database'" in result.stderr
    assert calls(site) == []


def test_a_wrong_database_password_is_reported_not_hidden(mariadb, site):
    result = run_setup(environment(site, mariadb, WORDPRESS_DB_PASSWORD="wrong", WAIT_SECONDS="2"))

    assert result.returncode == 1
    assert "Access denied for user 'wordpress'" in result.stderr


def test_missing_wordpress_files_fail_the_first_step(mariadb, site):
    (site["docroot"] / "wp-config.php").unlink()

    result = run_setup(environment(site, mariadb, WAIT_SECONDS="2"))

    assert result.returncode == 1
    assert "no WordPress in" in result.stderr and "after 2s" in result.stderr
    assert "setup FAILED at step 'wait for WordPress files and wp-config.php" in result.stderr


def test_a_missing_setting_is_refused_before_anything_runs(mariadb, site):
    env = environment(site, mariadb)
    del env["ADMIN_PASSWORD"]

    result = run_setup(env)

    assert result.returncode == 1
    assert "environment variable ADMIN_PASSWORD is required" in result.stderr
    assert calls(site) == []


def run_fake(site: dict[str, Path], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FAKE_WP_STATE": str(site["state"]), "FAKE_WP_LOG": str(site["log"])}
    return subprocess.run(
        [str(site["bin"] / "wp"), *args], cwd=site["docroot"], env=env, capture_output=True,
        text=True, timeout=30, check=False,
    )  # fmt: skip


def test_the_stand_in_refuses_the_deprecated_task_list_option_like_woocommerce(mariadb, site):
    """The failure every first install hit with the old script: WooCommerce's pre_update filter
    hides the list and returns the old value, so update_option() is false and WP-CLI exits 1;
    a retry then sees 'yes' through the pre_option filter and reports it unchanged."""
    assert run_setup(environment(site, mariadb)).returncode == 0
    s = state(site)
    s["options"]["woocommerce_task_list_hidden_lists"] = []
    site["state"].write_text(json.dumps(s))

    first = run_fake(site, "option", "update", "woocommerce_task_list_hidden", "yes")
    again = run_fake(site, "option", "update", "woocommerce_task_list_hidden", "yes")

    assert (first.returncode, first.stderr.strip()) == (
        1,
        "Error: Could not update option 'woocommerce_task_list_hidden'.",
    )
    assert state(site)["options"]["woocommerce_task_list_hidden_lists"] == ["setup"]
    assert (again.returncode, again.stdout.strip()) == (
        0,
        "Success: Value passed for 'woocommerce_task_list_hidden' option is unchanged.",
    )


def test_a_store_set_up_before_hpos_has_its_orders_copied_then_switches(mariadb, site):
    env = environment(site, mariadb)
    assert run_setup(env).returncode == 0
    s = state(site)
    s.update(hpos=False, legacy_orders=3)
    site["state"].write_text(json.dumps(s))

    result = run_setup(env)

    assert result.returncode == 0, result.stdout + result.stderr
    hpos_calls = [c for c in calls(site) if c.startswith("wc hpos ")]
    assert hpos_calls[-3:] == ["wc hpos count_unmigrated", "wc hpos sync", "wc hpos enable"]
    assert state(site)["hpos"] is True


def test_hpos_that_cannot_be_enabled_fails_the_run_naming_the_step(mariadb, site):
    result = run_setup(environment(site, mariadb, FAKE_WP_FAIL="wc hpos enable"))

    assert result.returncode == 1
    assert "setup FAILED at step 'order storage: HPOS' (exit 1)" in result.stderr
    assert not [c for c in calls(site) if c.startswith("wc payment_gateway")]
