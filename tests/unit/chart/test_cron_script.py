"""The chart's WP-Cron script (files/woocommerce/cron.sh) with bash and the WP-CLI stand-in: it
runs due events once WordPress is installed, is a quiet success before that, and fails when WP-CLI
cannot tell (an unreachable database). Run against a real WordPress too (store-chart/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "store-chart" / "files" / "woocommerce" / "cron.sh"
FAKE_WP = Path(__file__).with_name("fake_wp.py")


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    docroot = tmp_path / "html"
    docroot.mkdir()
    (docroot / "wp-config.php").write_text("<?php // written by the web image's entrypoint\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "wp").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_WP}" "$@"\n')
    (bin_dir / "wp").chmod(0o755)
    return {"docroot": docroot, "bin": bin_dir, "state": tmp_path / "state.json", "log": tmp_path / "wp.log"}


def run_cron(site: dict[str, Path], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": f"{site['bin']}{os.pathsep}{os.environ['PATH']}",
        "FAKE_WP_STATE": str(site["state"]),
        "FAKE_WP_LOG": str(site["log"]),
        "WP_PATH": str(site["docroot"]),
        **extra,
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def calls(site: dict[str, Path]) -> list[str]:
    return [" ".join(json.loads(line)) for line in site["log"].read_text().splitlines()]


def test_an_installed_store_runs_its_due_events(site):
    site["state"].write_text(json.dumps({"installed": True, "options": {}, "users": {}, "plugins": {},
                                         "themes": {}, "products": {}, "next_id": 10}))  # fmt: skip
    result = run_cron(site)

    assert result.returncode == 0, result.stderr
    assert calls(site) == ["core is-installed", "cron event run --due-now"]
    assert "Success: Executed a total of 0 cron events." in result.stdout


def test_before_setup_installed_wordpress_there_is_nothing_to_run(site):
    result = run_cron(site)

    assert result.returncode == 0, result.stderr
    assert "WordPress is not installed yet" in result.stdout
    assert calls(site) == ["core is-installed"]


def test_before_the_web_pod_wrote_wp_config_there_is_nothing_to_run(site):
    (site["docroot"] / "wp-config.php").unlink()

    result = run_cron(site)

    assert result.returncode == 0 and "no wp-config.php yet" in result.stdout
    assert not site["log"].exists()


def test_a_wp_cli_that_cannot_tell_fails_the_run(site):
    result = run_cron(site, FAKE_WP_FAIL="core is-installed")

    assert result.returncode == 1
    assert "Error:" in result.stderr
