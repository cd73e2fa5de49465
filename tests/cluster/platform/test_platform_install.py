"""`helm install --wait` of the platform chart on the simulated cluster: every object accepted by the
real API server (schema, admission, Pod Security), pods Ready, the migrate init container done,
generated secrets kept across upgrades, bad values refused before anything is created.

KWOK runs no container: "Ready" and "Completed" mean scheduled and admitted, not that the image ran
(docs/operations.md says what only a real cluster can prove)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from app.simcluster.client import ClusterClient, CommandFailed
from tests.cluster.platform.platform_cluster import Platform, install, uninstall
from tests.unit.platform.platform_render import CHART, ROOT

RESTRICTED = (
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/enforce-version=latest",
)


@pytest.fixture
def platform_namespace(cluster: ClusterClient) -> Iterator[str]:
    """A namespace enforcing Pod Security "restricted", as the platform's own should."""
    name = f"sp-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    cluster.kubectl("label", "namespace", name, *RESTRICTED)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


def pods(cluster: ClusterClient, platform: Platform, component: str) -> list[dict[str, Any]]:
    selector = f"app.kubernetes.io/instance={platform.release},app.kubernetes.io/component={component}"
    return cluster.kubectl_json("get", "pods", "-n", platform.namespace, "-l", selector)["items"]


def ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


def migrated(pod: dict[str, Any]) -> bool:
    (status,) = [s for s in pod["status"]["initContainerStatuses"] if s["name"] == "migrate"]
    return status["state"].get("terminated", {}).get("reason") == "Completed"


def secret_data(cluster: ClusterClient, namespace: str, name: str) -> dict[str, str]:
    return cluster.kubectl_json("get", "secret", name, "-n", namespace)["data"]


def test_local_values_install_with_sqlite_and_keep_their_secrets_on_upgrade(cluster, platform_namespace):
    platform = install(cluster, platform_namespace, "-f", str(ROOT / "values" / "local.yaml"))
    try:
        status = cluster.helm("status", platform.release, "-n", platform_namespace, "-o", "json")
        assert '"status":"deployed"' in status.replace(" ", "")
        (api,) = pods(cluster, platform, "api")
        assert ready(api) and migrated(api)
        assert pods(cluster, platform, "worker") == [], "on SQLite the workers run in the API pod"
        claim = cluster.kubectl_json("get", "pvc", f"{platform.fullname}-data", "-n", platform_namespace)
        assert claim["status"]["phase"] == "Bound"
        for kind in ("ingress", "networkpolicy", "service", "configmap", "serviceaccount"):
            assert cluster.kubectl("get", kind, "-n", platform_namespace, "-o", "name").strip(), kind
        for kind in ("clusterrole", "clusterrolebinding", "validatingadmissionpolicy"):
            names = cluster.kubectl("get", kind, "-o", "name")
            assert f"{platform_namespace}-{platform.fullname}-" in names, kind

        generated = secret_data(cluster, platform_namespace, f"{platform.fullname}-secrets")
        assert len(generated["admin-password"]) > 0 and len(generated["session-secret"]) > 0
        install(
            cluster,
            platform_namespace,
            "-f",
            str(ROOT / "values" / "local.yaml"),
            "--set",
            "logLevel=DEBUG",
            release=platform.release,
        )
        assert secret_data(cluster, platform_namespace, f"{platform.fullname}-secrets") == generated
        config = cluster.kubectl_json(
            "get", "configmap", f"{platform.fullname}-config", "-n", platform_namespace
        )
        assert config["data"]["STOREPLANE_LOG_LEVEL"] == "DEBUG"
        history = cluster.helm("history", platform.release, "-n", platform_namespace, "-o", "json")
        assert history.count('"revision"') == 2
    finally:
        uninstall(cluster, platform)
    for kind in ("clusterrole", "validatingadmissionpolicy"):
        assert f"{platform_namespace}-{platform.fullname}-" not in cluster.kubectl("get", kind, "-o", "name")


def test_bundled_postgresql_with_replicas_installs_and_keeps_its_password(cluster, platform_namespace):
    platform = install(cluster, platform_namespace, "-f", str(CHART / "ci" / "postgresql-values.yaml"))
    try:
        (database,) = pods(cluster, platform, "postgresql")
        assert ready(database)
        assert database["spec"]["securityContext"]["runAsUser"] == 999
        api, workers = pods(cluster, platform, "api"), pods(cluster, platform, "worker")
        assert len(api) == 2 and len(workers) == 2
        assert all(ready(p) and migrated(p) for p in api + workers)
        claim = cluster.kubectl_json(
            "get", "pvc", f"data-{platform.fullname}-postgresql-0", "-n", platform_namespace
        )
        assert claim["status"]["phase"] == "Bound"

        before = secret_data(cluster, platform_namespace, f"{platform.fullname}-postgresql")
        install(
            cluster,
            platform_namespace,
            "-f",
            str(CHART / "ci" / "postgresql-values.yaml"),
            "--set",
            "worker.replicas=3",
            release=platform.release,
        )
        assert secret_data(cluster, platform_namespace, f"{platform.fullname}-postgresql") == before
        assert len(pods(cluster, platform, "worker")) == 3
    finally:
        uninstall(cluster, platform)


def test_production_like_values_are_accepted_by_the_api_server(cluster, platform_namespace):
    """HPA, PDB, TLS ingress, inline store defaults: a server-side dry run through admission."""
    rendered = cluster.helm(
        "template",
        "sp",
        str(CHART),
        "-n",
        platform_namespace,
        "-f",
        str(CHART / "ci" / "production-values.yaml"),
    )
    # Traefik's Middleware (the HTTPS redirect) needs Traefik's CRDs, which the simulated cluster does
    # not have; its rendering is tested in tests/unit/platform, its effect in docs/operations.md §7.
    documents = [d for d in yaml.safe_load_all(rendered) if d]
    assert [d["kind"] for d in documents].count("Middleware") == 1
    kept = yaml.safe_dump_all([d for d in documents if d["kind"] != "Middleware"])
    applied = cluster.kubectl("apply", "-n", platform_namespace, "--dry-run=server", "-f", "-", input=kept)
    for kind in (
        "horizontalpodautoscaler",
        "poddisruptionbudget",
        "ingress",
        "statefulset",
        "validatingadmissionpolicy",
    ):
        assert f"{kind}." in applied, kind


def test_bad_values_create_nothing(cluster, platform_namespace):
    with pytest.raises(CommandFailed) as refused:
        install(cluster, platform_namespace, "--set", "api.replicas=3")
    assert "api.replicas=3 needs PostgreSQL" in refused.value.stderr
    assert cluster.helm("list", "-n", platform_namespace, "-q").strip() == ""
    assert cluster.kubectl("get", "all", "-n", platform_namespace, "-o", "name").strip() == ""
