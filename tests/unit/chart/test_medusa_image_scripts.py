"""The Medusa image's POSIX shell scripts (the set-up the chart's Job and init container run, the
node_modules preparation) pass shellcheck and fail on errors instead of swallowing them. The chart's
own postgres-init.sh is covered with the other chart scripts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parents[3] / "images" / "medusa"
SCRIPTS = sorted((IMAGE / "scripts").glob("*.sh"))


def test_the_image_ships_the_setup_and_preparation_scripts():
    assert {p.name for p in SCRIPTS} == {"setup.sh", "prepare-node-modules.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_passes_shellcheck_as_posix_sh(script: Path):
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is not installed: run `make system-deps`"
    result = subprocess.run(
        [shellcheck, "--shell=sh", "--severity=style", str(script)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_fails_on_errors_and_swallows_none(script: Path):
    text = script.read_text()
    assert "set -eu" in text
    assert "|| true" not in text and "|| :" not in text
