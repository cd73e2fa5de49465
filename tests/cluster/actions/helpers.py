"""Helpers for the store-action cluster tests (imported as tests.cluster.actions.helpers)."""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from lightkube import ApiError
from lightkube.resources.core_v1 import Secret

from app.reconcile import StoreTarget
from app.reconcile.toolkit import Toolkit
from app.settings import Settings
from app.simcluster.client import ClusterClient

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TINY_CHART = FIXTURES / "charts" / "tiny-store"
STORE_CHART = Path(__file__).resolve().parents[3] / "store-chart"


def settings_for(cluster: ClusterClient, chart: Path = TINY_CHART, **extra: str) -> Settings:
    return Settings(
        kubeconfig=str(cluster.kubeconfig),
        helm_binary=str(cluster.bin_dir / "helm"),
        store_chart=str(chart),
        **extra,
    )


@dataclass
class Events:
    """The EventSink the job runner would give: records (step, message) in order."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    async def __call__(self, step: str, message: str) -> None:
        self.seen.append((step, message))

    def steps(self) -> list[str]:
        return [step for step, _ in self.seen]


def new_target(**values: object) -> StoreTarget:
    store_id = f"s-{secrets.token_hex(4)}"
    name = f"shop-{store_id[2:]}"
    return StoreTarget(
        store_id=store_id,
        name=name,
        owner="alice",
        engine="woocommerce",
        namespace=f"store-{store_id}",
        release=name,
        host=f"{name}.localhost",
        values=dict(values),
    )


def held(t: StoreTarget, on: str, **values: object) -> StoreTarget:
    """`t` with a hook on `on` (e.g. pre-install) that holds helm for a minute, and other values."""
    return StoreTarget(**{**t.__dict__, "values": {**values, "hold": {"duration": "60s", "on": on}}})


def without_hold(t: StoreTarget, **values: object) -> StoreTarget:
    return StoreTarget(**{**t.__dict__, "values": dict(values)})


def cleanup(cluster: ClusterClient, namespace: str) -> None:
    cluster.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true", "--timeout=120s")
    for pv in volumes_of(cluster, namespace):
        cluster.kubectl("delete", "pv", pv, "--ignore-not-found", "--wait=true", "--timeout=60s")


def volumes_of(cluster: ClusterClient, namespace: str) -> list[str]:
    pvs = cluster.kubectl_json("get", "pv")["items"]
    return [
        pv["metadata"]["name"] for pv in pvs if pv["spec"].get("claimRef", {}).get("namespace") == namespace
    ]


def release_statuses(cluster: ClusterClient, t: StoreTarget) -> list[tuple[int, str]]:
    out = cluster.helm("history", t.release, "-n", t.namespace, "-o", "json", check=False)
    return [(row["revision"], row["status"]) for row in json.loads(out or "[]")]


def names(cluster: ClusterClient, kind: str, namespace: str) -> list[str]:
    out = cluster.kubectl("get", kind, "-n", namespace, "-o", "name")
    return sorted(line for line in out.splitlines() if line)


async def wait_for_release_status(kit: Toolkit, t: StoreTarget, status: str, *, within: float = 60) -> int:
    """Poll Helm's storage Secrets until some revision of the release has `status`; returns it."""
    client = kit.kube._pool.get()  # tests may look inside; production code goes through Kube's methods
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    labels = {"owner": "helm", "name": t.release, "status": status}
    while loop.time() < deadline:
        try:
            async for secret in client.list(Secret, namespace=t.namespace, labels=labels):
                return int(secret.metadata.labels["version"])
        except ApiError as exc:  # 403 until the provisioner's binding exists in the new namespace
            if exc.status.code != 403:
                raise
        await asyncio.sleep(0.05)
    raise AssertionError(f"release {t.release} never reached {status}")
