"""docker-compose.yml (and the kind override) as `docker compose` itself loads them, through
compose-go's loader (tools/composecheck), plus the services' commands run for real with the
environment Compose would give them. No Docker engine exists here: whether the containers start is
docs/operations.md §7's to check."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from tests.fixtures_db import fresh_postgres_database
from tests.unit.platform.platform_render import ROOT
from tests.unit.platform.test_readiness import dead_kubeconfig
from tests.unit.platform.tools import tool


def load(*files: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(tool("composecheck")), "-C", str(ROOT), *files],
        env={"PATH": os.environ["PATH"], **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@cache
def project(*files: str) -> dict[str, Any]:
    done = load(*(files or ("docker-compose.yml",)))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def seconds(duration: str) -> float:
    """A Go duration as compose-go prints it ("45s", "1m0s")."""
    units = {"h": 3600, "m": 60, "s": 1}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)([hms])", duration))


def test_the_compose_files_load_as_docker_compose_loads_them() -> None:
    services = project()["services"]
    assert set(services) == {"postgres", "migrate", "api", "worker"}
    assert services["api"]["command"] == ["serve", "--no-workers"]
    assert services["worker"]["command"] == ["worker"]
    assert services["migrate"]["command"][:1] == ["migrate"]
    assert services["postgres"]["image"].startswith("docker.io/library/postgres:17.")
    kind = project("docker-compose.yml", "docker-compose.kind.yml")
    network = kind["networks"]["default"]
    assert (network["name"], network["external"]) == ("kind", True)


def test_the_services_run_the_images_entrypoint_so_exec_sees_the_same_settings() -> None:
    """No wrapper entrypoint assembling variables: `docker compose exec api python -m app …` gets the
    container's environment, which is everything the services get."""
    knobs = {f"STOREPLANE_{name.upper()}" for name in Settings.model_fields}
    for name in ("migrate", "api", "worker"):
        service = project()["services"][name]
        assert service["entrypoint"] is None, name
        assert set(service["environment"]) <= knobs, set(service["environment"]) - knobs
        assert service["environment"]["STOREPLANE_DATABASE_URL_FILE"] == "/run/secrets/database_url"
        assert {s["source"] for s in service["secrets"]} == {
            "database_url",
            "admin_password",
            "session_secret",
        }
        assert "STOREPLANE_DATABASE_URL" not in service["environment"]


def test_api_and_worker_get_time_to_stop_cleanly() -> None:
    """Docker's default is 10 s, then SIGKILL: helm killed mid-action leaves a pending release."""
    grace = Settings().shutdown_grace_seconds
    for name in ("api", "worker"):
        assert seconds(project()["services"][name]["stop_grace_period"]) >= grace + 15, name
    assert seconds(project()["services"]["postgres"]["stop_grace_period"]) >= 30


def test_the_worker_has_a_healthcheck_from_the_image() -> None:
    check = project()["services"]["worker"]["healthcheck"]
    assert check["test"] == ["CMD", "python", "-m", "app", "probe", "alive", "ready"]
    assert seconds(check["start_period"]) >= 10


def test_a_missing_kubeconfig_stops_compose_instead_of_becoming_a_directory() -> None:
    for name in ("migrate", "api", "worker"):
        (mount,) = project()["services"][name]["volumes"]
        assert mount["type"] == "bind" and mount["target"] == "/etc/storeplane/kubeconfig"
        assert mount["read_only"] is True
        assert mount["bind"]["create_host_path"] is False, name


def test_the_kubeconfig_path_can_be_chosen_from_the_host(tmp_path: Path) -> None:
    done = load("docker-compose.yml", env={"STOREPLANE_HOST_KUBECONFIG": str(tmp_path / "k3s.yaml")})
    assert done.returncode == 0, done.stderr
    (mount,) = json.loads(done.stdout)["services"]["worker"]["volumes"]
    assert mount["source"] == str(tmp_path / "k3s.yaml")


def test_no_secret_value_is_in_the_files() -> None:
    for service in project()["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "DATABASE_URL")):
                assert value.startswith("/run/secrets/"), key
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", port
    assert all(s["file"].startswith(str(ROOT / ".data" / "secrets")) for s in project()["secrets"].values())
    assert ".data/" in (ROOT / ".gitignore").read_text().splitlines()


def compose_environment(service: str, secrets: dict[str, str], kubeconfig: Path) -> dict[str, str]:
    """What the container's processes see: the service's environment, with /run/secrets/<name>
    and the kubeconfig mount mapped to files here."""
    env = dict(project()["services"][service]["environment"])
    for key, value in env.items():
        if value.startswith("/run/secrets/"):
            env[key] = secrets[value.removeprefix("/run/secrets/")]
    env["STOREPLANE_KUBECONFIG"] = str(kubeconfig)
    env["STOREPLANE_STORE_VALUES_FILE"] = str(ROOT / "values" / "stores-local.yaml")
    return env


@pytest.mark.postgres
def test_migrate_then_exec_tokens_create_work_with_the_compose_environment(
    postgres_admin_url: str, tmp_path: Path
) -> None:
    """The migrate service's command, then what `docker compose exec api python -m app tokens create`
    runs: both only with the service's environment and its secret files."""
    secrets = {}
    for name, value in {
        "database_url": fresh_postgres_database(postgres_admin_url),
        "admin_password": "a-long-enough-admin-password",
        "session_secret": "0" * 64,
    }.items():
        (tmp_path / name).write_text(value + "\n")
        secrets[name] = str(tmp_path / name)
    env = {
        "PATH": os.environ["PATH"],
        "STOREPLANE_DATA_DIR": str(tmp_path / "data"),
        **compose_environment("api", secrets, dead_kubeconfig(tmp_path / "kubeconfig")),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    migrated = run(*project()["services"]["migrate"]["command"])
    assert migrated.returncode == 0, migrated.stderr
    token = run("tokens", "create", "--user", "ops")
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("sp_")


def test_an_unreadable_database_url_file_is_named_in_the_error(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "STOREPLANE_DATABASE_URL": "",
        "STOREPLANE_DATABASE_URL_FILE": str(tmp_path / "no"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode != 0
    assert f"STOREPLANE_DATABASE_URL_FILE names {tmp_path / 'no'}, which cannot be read" in done.stderr


def test_a_loopback_kubeconfig_inside_a_container_gets_a_hint(tmp_path: Path) -> None:
    """k3d/kind/k3s write 127.0.0.1 or 0.0.0.0; from a container that is the container itself."""
    from app.cluster_status import container_loopback_hint

    def kubeconfig(server: str) -> Settings:
        path = tmp_path / "kubeconfig"
        path.write_text(
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            f"clusters: [{{name: c, cluster: {{server: '{server}'}}}}]\n"
            "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
        )
        return Settings(kubeconfig=str(path))

    hint = container_loopback_hint(kubeconfig("https://0.0.0.0:6550"), in_container=True)
    assert hint.startswith("the kubeconfig names https://0.0.0.0:6550, and inside a container")
    assert "host.docker.internal" in hint and "docker-compose.kind.yml" in hint
    assert container_loopback_hint(kubeconfig("https://127.0.0.1:6443"), in_container=False) == ""
    assert container_loopback_hint(kubeconfig("https://host.docker.internal:6443"), in_container=True) == ""
