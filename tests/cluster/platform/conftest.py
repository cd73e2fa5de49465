"""A platform installed once per module, and clients that act as its provisioner ServiceAccount."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.simcluster.client import ClusterClient, CommandFailed
from tests.cluster.platform.platform_cluster import Platform, install, provisioner_kubeconfig, uninstall
from tests.cluster.simcluster.helpers import eventually
from tests.unit.platform.platform_render import ROOT


@pytest.fixture(scope="module")
def platform(cluster: ClusterClient) -> Iterator[Platform]:
    """The chart with the local values (SQLite) in a namespace of its own."""
    namespace = f"sp-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", namespace)
    installed = install(cluster, namespace, "-f", str(ROOT / "values" / "local.yaml"))
    wait_for_policy(cluster, installed)
    yield installed
    uninstall(cluster, installed)
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def wait_for_policy(cluster: ClusterClient, platform: Platform) -> None:
    """The apiserver loads a new ValidatingAdmissionPolicy from an informer: for a moment after
    `helm install` returns it is not yet enforced. Wait until it refuses an unlabelled namespace."""
    probe = f"store-probe-{secrets.token_hex(3)}"

    def refused() -> bool:
        done = cluster.kubectl(
            "create", "namespace", probe, "--dry-run=server", f"--as={platform.username}", check=False
        )
        return done == ""  # kubectl prints nothing on stdout when the request is refused

    eventually(refused, timeout=30, what=f"ValidatingAdmissionPolicy {platform.policy} in force")


@pytest.fixture(scope="module")
def as_provisioner(
    cluster: ClusterClient, platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return provisioner_kubeconfig(cluster, platform, tmp_path_factory.mktemp("sa") / "kubeconfig")


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def provisioner_kubectl(cluster: ClusterClient, as_provisioner: Path) -> Run:
    """kubectl authenticated as the provisioner; returns the completed process (never raises)."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**cluster.env, "KUBECONFIG": str(as_provisioner)}
        return subprocess.run(
            [str(cluster.bin_dir / "kubectl"), *args],
            input=input,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    return run


@pytest.fixture(scope="module")
def provisioner_helm(cluster: ClusterClient, as_provisioner: Path) -> Run:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**cluster.env, "KUBECONFIG": str(as_provisioner)}
        return subprocess.run(
            [str(cluster.bin_dir / "helm"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return run


@pytest.fixture
def cleanup_namespaces(cluster: ClusterClient) -> Iterator[list[str]]:
    """Namespaces a test (or the provisioner) created; the admin removes them afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        try:
            cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")
        except CommandFailed as exc:  # one leftover must not hide the others' cleanup
            print(f"cleanup of namespace {name} failed: {exc}")
