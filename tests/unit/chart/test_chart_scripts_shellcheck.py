"""The setup and order-test scripts pass shellcheck (Debian's shellcheck, installed by make system-deps)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[3] / "store-chart" / "files").rglob("*.sh"))


def test_the_chart_ships_the_setup_and_order_test_scripts():
    assert {p.name for p in SCRIPTS} == {"setup.sh", "cron.sh", "order-test.sh", "postgres-init.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck(script: Path):
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed: run `make system-deps`"
    result = subprocess.run(
        [shellcheck, "--shell=bash", "--severity=style", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_fails_on_errors_and_swallows_none(script: Path):
    text = script.read_text()
    assert "set -euo pipefail" in text
    assert "|| true" not in text and "|| :" not in text
