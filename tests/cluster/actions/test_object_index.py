"""The drift sweep's watch index against the real API server: it follows store namespaces as they
change, answers a synced read with no request, and goes on when the server ends a watch."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator

import pytest

from app.kube import Kube
from app.kube import object_index as object_index_module
from app.simcluster.client import ClusterClient
from tests.cluster.actions.helpers import settings_for


@pytest.fixture
def store_ns(cluster: ClusterClient) -> Iterator[str]:
    name = f"store-s-{secrets.token_hex(4)}"
    cluster.kubectl("create", "namespace", name)
    yield name
    cluster.kubectl("delete", "namespace", name, "--wait=false")


ROOT_CA = "kube-root-ca.crt"  # every namespace has it


async def names_when(kube: Kube, namespace: str, *want: str) -> set[str]:
    """The ConfigMaps the index shows in `namespace`, once they are `want` (or the last seen in 15 s)."""
    deadline = time.monotonic() + 15.0
    while True:
        found = await kube.inventory([namespace], {"ConfigMap": True}, watched=True)
        assert "ConfigMap" in found.served
        names = set(found.of(namespace).get("ConfigMap", {}))
        if names == {*want, ROOT_CA} or time.monotonic() > deadline:
            return names
        await asyncio.sleep(0.2)


async def test_the_index_follows_store_namespaces_and_nothing_else(
    cluster: ClusterClient, store_ns: str, namespace: str
):
    cluster.kubectl("create", "configmap", "first", "-n", store_ns)
    cluster.kubectl("create", "configmap", "elsewhere", "-n", namespace)
    kube = Kube(settings_for(cluster))
    try:
        assert await names_when(kube, store_ns, "first") == {"first", ROOT_CA}
        other = await kube.inventory([namespace], {"ConfigMap": True}, watched=True)
        assert other.of(namespace) == {}  # only store namespaces are kept
        cluster.kubectl("create", "configmap", "second", "-n", store_ns)
        cluster.kubectl("delete", "configmap", "first", "-n", store_ns)
        assert await names_when(kube, store_ns, "second") == {"second", ROOT_CA}
        version = (await kube.inventory([store_ns], {"ConfigMap": True}, watched=True)).of(store_ns)
        live = cluster.kubectl_json("get", "configmap", "second", "-n", store_ns)
        want = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"]}}
        assert version["ConfigMap"]["second"] == want
    finally:
        await kube.close()


async def test_a_synced_read_sends_no_request_and_a_kind_read_in_full_keeps_its_spec(
    cluster: ClusterClient, store_ns: str
):
    cluster.kubectl("create", "quota", "shop-quota", "--hard=pods=8", "-n", store_ns)
    kube = Kube(settings_for(cluster))
    try:
        first = await kube.inventory([store_ns], {"ConfigMap": True, "Secret": True}, watched=True)
        assert first.served == {"ConfigMap", "Secret"} and first.requests == 0
        quota = await kube.inventory([store_ns], {"ResourceQuota": False}, watched=True)
        assert quota.served == {"ResourceQuota"} and quota.requests == 0
        kept = quota.of(store_ns)["ResourceQuota"]["shop-quota"]
        assert kept["spec"] == {"hard": {"pods": "8"}} and "status" not in kept
        unwatched = await kube.inventory([store_ns], {"ConfigMap": True})
        assert unwatched.served == set() and unwatched.requests == 1
    finally:
        await kube.close()


async def test_the_index_goes_on_across_watches_the_server_ends(
    cluster: ClusterClient, store_ns: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(object_index_module, "WATCH_SECONDS", 1)
    kube = Kube(settings_for(cluster))
    try:
        await names_when(kube, store_ns)
        await asyncio.sleep(3)  # the server has ended the first watches by now
        cluster.kubectl("create", "configmap", "later", "-n", store_ns)
        assert await names_when(kube, store_ns, "later") == {"later", ROOT_CA}
    finally:
        await kube.close()
