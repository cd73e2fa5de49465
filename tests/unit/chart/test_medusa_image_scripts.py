"""The Medusa image: its Dockerfile read as text (it cannot be built here), and its POSIX shell
scripts (the set-up the chart's Job and init container run, the node_modules preparation), which
pass shellcheck and fail on errors instead of swallowing them. The chart's own postgres-init.sh is
covered with the other chart scripts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

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


DOCKERFILE = (IMAGE / "Dockerfile").read_text()


def test_the_dockerfile_uses_the_pinned_official_node_image_and_the_node_user():
    assert "ARG NODE_IMAGE=node:20.20.2-bookworm-slim" in DOCKERFILE
    assert DOCKERFILE.count("FROM ${NODE_IMAGE}") == 2 and "FROM deps AS admin" in DOCKERFILE
    assert "USER 1000:1000" in DOCKERFILE
    assert "npm ci --ignore-scripts" in DOCKERFILE and "sh scripts/prepare-node-modules.sh ." in DOCKERFILE


def test_the_image_holds_what_the_chart_runs():
    chart = (IMAGE.parents[1] / "store-chart" / "templates" / "medusa" / "medusa-deployment.yaml").read_text()
    assert '"/app/node_modules/.bin/medusa", "start", "--host", "0.0.0.0"' in DOCKERFILE
    assert 'command: ["/app/node_modules/.bin/medusa", "start"' in chart
    assert "WORKDIR /app" in DOCKERFILE
    for path in ("src/", "scripts/", "storefront/", "package.json", "medusa-config.ts"):
        assert f"COPY {path}" in DOCKERFILE or f" {path}" in DOCKERFILE, path
    # `medusa start` serves the admin from ./public/admin; `medusa build --admin-only` writes .medusa/admin.
    assert "medusa build --admin-only" in DOCKERFILE
    assert "COPY --from=admin /app/.medusa/admin ./public/admin" in DOCKERFILE
    assert set((IMAGE / ".dockerignore").read_text().split()) >= {"node_modules", ".medusa", "public"}


def test_the_image_pins_what_the_chart_tags():
    values = yaml.safe_load((IMAGE.parents[1] / "store-chart" / "values.yaml").read_text())
    package = yaml.safe_load((IMAGE / "package.json").read_text())
    medusa_pins = {k: v for k, v in package["dependencies"].items() if k.startswith("@medusajs/")}
    assert set(medusa_pins.values()) == {"2.21.2"}  # exact pins, one version
    assert values["images"]["medusa"]["tag"] == package["version"] == "2.21.2-1"
