"""Dockerfile, .dockerignore and docker-compose.yml, read as text and YAML.

No Docker engine exists on these machines, so nothing here builds or runs an image: these tests pin
the properties we can check statically (pins, non-root user, what the image contains, no secrets in
the compose file). docs/operations.md says the image itself is unverified.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.unit.platform.platform_render import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def versions() -> dict[str, str]:
    lines = (ROOT / "tools" / "versions.env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def test_base_images_are_pinned_python_311_slim_and_go() -> None:
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+$", DOCKERFILE, re.M)
    go = re.search(r"^ARG GO_IMAGE=golang:(\S+)-\w+$", DOCKERFILE, re.M)
    assert go and re.fullmatch(r"\d+\.\d+\.\d+", go.group(1))


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


def test_compose_runs_api_and_worker_apart_on_postgresql_with_a_mounted_kubeconfig() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "migrate", "api", "worker"}
    assert services["api"]["command"] == ["serve", "--no-workers"]
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        assert any(v.endswith(":/etc/storeplane/kubeconfig:ro") for v in services[name]["volumes"])
        assert services[name]["environment"]["STOREPLANE_KUBECONFIG"] == "/etc/storeplane/kubeconfig"
    assert services["postgres"]["image"].startswith("docker.io/library/postgres:17.")


def test_compose_publishes_only_on_loopback_and_keeps_secrets_in_files() -> None:
    for service in COMPOSE["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
    assert all(s["file"].startswith("./.data/secrets/") for s in COMPOSE["secrets"].values())
    text = (ROOT / "docker-compose.yml").read_text()
    assert not re.search(r"(PASSWORD|SECRET)\s*:\s*(?!/run/secrets/)\S", text), "a secret value in the file"
    assert ".data/" in (ROOT / ".gitignore").read_text().splitlines(), "the secrets directory is not ignored"
    assert Path(".data/secrets").as_posix() in text
