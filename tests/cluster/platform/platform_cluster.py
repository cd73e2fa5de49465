"""Installing the platform chart on the simulated cluster, and acting as its provisioner.

The provisioner identity is real: a ServiceAccount token from the TokenRequest API in a kubeconfig
of its own, so kubectl, helm and lightkube authenticate exactly as the worker pod would in-cluster.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.simcluster.client import ClusterClient
from tests.unit.platform.platform_render import CHART

ROOT = CHART.parent


@dataclass(frozen=True)
class Platform:
    namespace: str
    release: str

    @property
    def fullname(self) -> str:
        return f"{self.release}-storeplane"

    @property
    def service_account(self) -> str:
        return f"{self.fullname}-provisioner"

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.service_account}"

    @property
    def store_manager(self) -> str:
        return f"{self.namespace}-{self.fullname}-store-manager"

    @property
    def policy(self) -> str:
        return f"{self.namespace}-{self.fullname}-provisioner-fence"


def install(cluster: ClusterClient, namespace: str, *args: str, release: str | None = None) -> Platform:
    platform = Platform(namespace=namespace, release=release or f"sp{secrets.token_hex(3)}")
    cluster.helm(
        "upgrade",
        "--install",
        platform.release,
        str(CHART),
        "-n",
        namespace,
        "--wait",
        "--timeout",
        "180s",
        *args,
    )
    return platform


def uninstall(cluster: ClusterClient, platform: Platform) -> None:
    cluster.helm("uninstall", platform.release, "-n", platform.namespace, "--wait", "--timeout", "120s")


def provisioner_kubeconfig(cluster: ClusterClient, platform: Platform, path: Path) -> Path:
    """A kubeconfig that authenticates as the provisioner ServiceAccount with a fresh token."""
    token = cluster.kubectl(
        "create", "token", platform.service_account, "-n", platform.namespace, "--duration", "1h"
    ).strip()
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == admin["current-context"])["context"]
    cluster_entry = next(c for c in admin["clusters"] if c["name"] == context["cluster"])["cluster"]
    if "certificate-authority" in cluster_entry:  # inline it: the kubeconfig may be read from elsewhere
        ca = Path(cluster_entry.pop("certificate-authority")).read_bytes()
        cluster_entry["certificate-authority-data"] = base64.b64encode(ca).decode()
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sim", "cluster": cluster_entry}],
        "users": [{"name": "provisioner", "user": {"token": token}}],
        "contexts": [{"name": "provisioner", "context": {"cluster": "sim", "user": "provisioner"}}],
        "current-context": "provisioner",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path
