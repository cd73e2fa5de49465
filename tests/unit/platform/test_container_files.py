"""Dockerfile and .dockerignore, read as text (docker-compose.yml: test_compose.py).

No Docker engine exists on these machines, so nothing here builds or runs an image: these tests pin
the properties we can check statically (pins, non-root user, what the image contains, the platforms
it builds for). docs/operations.md says the image itself is unverified.
"""

from __future__ import annotations

import re

from tests.unit.platform.platform_render import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()


def versions() -> dict[str, str]:
    lines = (ROOT / "tools" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_base_images_are_pinned_python_311_slim_and_go() -> None:
    assert re.search(
        r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?$", DOCKERFILE, re.M
    )
    go = re.search(r"^ARG GO_IMAGE=golang:(\d+\.\d+\.\d+)-\w+(@sha256:[0-9a-f]{64})?$", DOCKERFILE, re.M)
    assert go, "golang image not pinned to a patch release"
    assert go.group(1) == _go_version_of_the_tools(), "the image builds helm with another Go than the tests"


def _go_version_of_the_tools() -> str:
    import subprocess

    version = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout
    return version.strip().removeprefix("go")


def test_helm_is_cross_compiled_for_the_target_platform() -> None:
    """Multi-arch builds (release workflow): Go runs natively and cross-compiles, no emulation."""
    assert "FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS helm" in DOCKERFILE
    assert "GOARCH=${TARGETARCH" in DOCKERFILE


def test_dependencies_come_from_the_lock_without_dev_extras() -> None:
    assert "uv sync --frozen --no-dev" in DOCKERFILE
    assert "--extra dev" not in DOCKERFILE
    make_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert make_uv and f"ARG UV_VERSION={make_uv.group(1)}" in DOCKERFILE


def test_helm_is_built_from_the_same_pin_as_the_test_machines() -> None:
    assert "COPY tools/helm/" in DOCKERFILE and "COPY tools/versions.env" in DOCKERFILE
    assert "helm.sh/helm/v4/internal/version.version=${HELM_VERSION}" in DOCKERFILE
    assert versions()["HELM_VERSION"].startswith("v4.")


def test_runs_as_the_non_root_uid_the_chart_expects() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.M)
    assert users == ["10001:10001"]
    assert "runAsUser: 10001" in (ROOT / "platform-chart" / "templates" / "_helpers.tpl").read_text()


def test_image_holds_what_settings_resolve_from_the_repository_root() -> None:
    for path in ("alembic.ini", "migrations/", "app/", "store-chart/", "values/"):
        assert f"COPY {path}" in DOCKERFILE, path
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    for never in (".git", ".venv", ".cluster", ".data", "tests"):
        assert never in ignored, never
    assert "!tools/helm" in ignored and "!tools/versions.env" in ignored
