"""Kubernetes access: the only package that talks to the Kubernetes API (through lightkube).

Callers use one `Kube` per settings (`get_kube()`); every method raises app.errors on failure:
ClusterUnreachable/Conflict/StillProgressing (retry) or PermanentError subclasses.

    kube = get_kube()
    await kube.list_managed_namespaces()        # [ManagedNamespace(name, store_id, owner, created_at, …)]
    await kube.namespace_exists("store-s-1")    # bool
    await kube.delete_namespace("store-s-1", timeout=300, store_id="s-1")   # waits until gone
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from functools import lru_cache

from lightkube.resources.core_v1 import Namespace

from app.kube import access, cluster, namespaces, readiness, secrets, volumes
from app.kube import diagnose as _diagnose
from app.kube.client import ClientPool, api_call
from app.kube.diagnose import Diagnosis, Finding
from app.kube.inventory import Inventory, InventoryReader
from app.kube.namespaces import ManagedNamespace, store_labels
from app.kube.object_index import ObjectIndex
from app.kube.readiness import ObjectRef, Readiness
from app.kube.secrets import SecretRecord
from app.settings import Settings, get_settings

__all__ = [
    "Diagnosis",
    "Finding",
    "Inventory",
    "Kube",
    "ManagedNamespace",
    "ObjectRef",
    "Readiness",
    "SecretRecord",
    "get_kube",
    "store_labels",
]


INDEX_WAIT = 60.0  # seconds a first read waits for the watch index's first list before listing itself


class Kube:
    def __init__(self, settings: Settings) -> None:
        self._pool = ClientPool(settings)
        self._store_role = settings.store_role
        self._simulated: bool | None = None
        self._inventory = InventoryReader()
        self._indexes: dict[asyncio.AbstractEventLoop, ObjectIndex] = {}

    async def simulated(self) -> bool:
        """True on the simulated cluster (only KWOK fake nodes: no container ever runs). Asked
        once per process: a cluster does not change kind. Errors propagate (and are asked again)."""
        if self._simulated is None:
            self._simulated = await cluster.runs_only_simulated_nodes(self._pool.get())
        return self._simulated

    async def ping(self) -> None:
        """Raise ClusterUnreachable unless the API server answers (for /readyz)."""
        client = self._pool.get()
        with api_call("reach the Kubernetes API"):
            managed = {namespaces.MANAGED_BY: namespaces.MANAGER}
            async for _ in client.list(Namespace, labels=managed, chunk_size=1):
                break

    async def ensure_store_namespace(
        self, name: str, *, store_id: str, owner: str, pod_security: str = "restricted"
    ) -> bool:
        """Create `name` labelled for the store, or adopt it if it is the store's; True if created."""
        labels = store_labels(store_id=store_id, owner=owner, pod_security=pod_security)
        created = await namespaces.ensure_namespace(self._pool.get(), name, labels)
        if self._store_role:  # the provisioner's rights inside the namespace (app/kube/access.py)
            await access.ensure_store_role_binding(self._pool.get(), name, self._store_role)
        return created

    async def namespace_exists(self, name: str) -> bool:
        return await namespaces.namespace_exists(self._pool.get(), name)

    async def namespace_phase(self, name: str) -> str | None:
        """ "Active", "Terminating", or None when the namespace does not exist."""
        return await namespaces.namespace_phase(self._pool.get(), name)

    async def list_managed_namespaces(self) -> list[ManagedNamespace]:
        return await namespaces.list_managed(self._pool.get())

    async def delete_namespace(
        self,
        name: str,
        *,
        timeout: float,
        store_id: str | None = None,
        volumes_known: list[str] | None = None,
    ) -> bool:
        """Delete a Storeplane-managed namespace, wait until it is gone, then delete the
        PersistentVolumes its claims left (see volumes.py) and wait for those too.
        `volumes_known`: the volumes of its claims, if the caller read them already (volumes_of).
        False if the namespace was already absent (its leftover volumes are still removed)."""
        deadline = time.monotonic() + timeout
        client = self._pool.get()
        known = volumes_known if volumes_known is not None else await volumes.claimed_volumes(client, name)
        existed = await namespaces.delete_namespace(client, name, timeout=timeout, store_id=store_id)
        if not known:  # no claim to ask (gone already, or never any): only the cluster-wide list can tell
            known = await volumes.volumes_left_by(client, name)
        left = max(deadline - time.monotonic(), 1.0)
        await volumes.remove_volumes(client, name, known, timeout=left)
        return existed

    async def diagnose(self, namespace: str, since: datetime | None = None) -> Diagnosis:
        """Why the namespace's workloads are not ready; events older than `since` are ignored."""
        return await _diagnose.diagnose(self._pool.get(), namespace, since)

    async def readiness(self, namespace: str, refs: list[ObjectRef]) -> Readiness:
        """Whether the workloads named by `refs` are ready (kstatus semantics, see readiness.py)."""
        return await readiness.read(self._pool.get(), namespace, refs)

    async def inventory(
        self,
        namespaces: list[str],
        kinds: dict[str, bool],
        *,
        concurrency: int = 8,
        per_namespace: bool = False,
        watched: bool = False,
    ) -> Inventory:
        """The live objects of these namespaces, by kind (kind → metadata only?), as plain JSON:
        one list per kind for the whole cluster where allowed, else per namespace (inventory.py).
        `watched`: the kinds come from the watch index where it is allowed and synced
        (object_index.py), so a sweep over a quiet fleet sends no request; of a kind read in full
        the index keeps only the spec, so ask it for kinds with small specs only."""
        found = Inventory(objects={ns: {} for ns in namespaces})
        rest = dict(kinds)
        if watched and not per_namespace:
            found = await self._index().read(namespaces, kinds, wait=INDEX_WAIT)
            rest = {kind: meta for kind, meta in kinds.items() if kind not in found.served}
        if rest:
            found.merge(
                await self._inventory.read(
                    self._pool.get(), namespaces, rest, concurrency=concurrency, per_namespace=per_namespace
                )
            )
        return found

    def _index(self) -> ObjectIndex:
        loop = asyncio.get_running_loop()
        index = self._indexes.get(loop)
        if index is None:
            for stale in [other for other in self._indexes if other.is_closed()]:
                del self._indexes[stale]
            index = self._indexes[loop] = ObjectIndex(self._pool.get)
        return index

    async def volumes_of(self, namespace: str) -> list[str]:
        """The PersistentVolumes bound to the claims of `namespace`."""
        return await volumes.claimed_volumes(self._pool.get(), namespace)

    async def read_secret(self, namespace: str, name: str) -> SecretRecord | None:
        return await secrets.read_secret(self._pool.get(), namespace, name)

    async def list_secrets(self, namespace: str, labels: dict[str, str]) -> list[SecretRecord]:
        return await secrets.list_secrets(self._pool.get(), namespace, labels)

    async def replace_secret(self, record: SecretRecord) -> None:
        await secrets.replace_secret(self._pool.get(), record)

    async def close(self) -> None:
        index = self._indexes.pop(asyncio.get_running_loop(), None)
        if index is not None:
            await index.close()
        await self._pool.close()


@lru_cache(maxsize=8)
def _kube_for(kubeconfig: str, context: str, store_role: str) -> Kube:
    return Kube(Settings(kubeconfig=kubeconfig, kube_context=context, store_role=store_role))


def get_kube(settings: Settings | None = None) -> Kube:
    """The shared Kube for these settings (default: app.settings.get_settings())."""
    settings = settings or get_settings()
    return _kube_for(settings.kubeconfig, settings.kube_context, settings.store_role)
