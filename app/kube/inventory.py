"""The live objects of many store namespaces at once, as plain JSON, for the drift sweep.

Cost is the point (the sweep runs every 30 s over every Ready store), so:
- One list per kind for the whole cluster when the credentials allow it (admin credentials, as in
  `make demo` and the tests): a constant number of requests whatever the number of stores, filtered
  to the store namespaces here. Under the platform chart's least privilege the provisioner may list
  only inside store namespaces; the first 403 switches that kind to one list per namespace (at most
  `concurrency` at once), and the answer is remembered for the life of the process.
- `resourceVersion=0`: the API server answers from its watch cache, not from etcd.
- Plain JSON, not lightkube models (json_lists.py): the comparison works on mappings, like the
  manifest it is compared with, and decoding models costs more than the request.
- Kinds whose presence is all that is checked (ConfigMaps, Secrets, claims, Jobs) are listed as
  metadata only (PartialObjectMetadataList): a store's Helm records alone are ~70 KB each.
A kind the credentials may not read even per namespace (RBAC objects under the platform chart's
store-manager role) is reported as hidden and not judged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from lightkube import ALL_NS, AsyncClient
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.batch_v1 import CronJob, Job
from lightkube.resources.core_v1 import (
    ConfigMap,
    LimitRange,
    PersistentVolumeClaim,
    ResourceQuota,
    Secret,
    Service,
    ServiceAccount,
)
from lightkube.resources.networking_v1 import Ingress, NetworkPolicy
from lightkube.resources.rbac_authorization_v1 import Role, RoleBinding

from app.kube.client import api_call, status_code
from app.kube.json_lists import METADATA_ONLY, list_json

RESOURCES: dict[str, Any] = {
    "Deployment": Deployment,
    "StatefulSet": StatefulSet,
    "CronJob": CronJob,
    "Job": Job,
    "Service": Service,
    "Ingress": Ingress,
    "NetworkPolicy": NetworkPolicy,
    "ResourceQuota": ResourceQuota,
    "LimitRange": LimitRange,
    "ConfigMap": ConfigMap,
    "Secret": Secret,
    "PersistentVolumeClaim": PersistentVolumeClaim,
    "ServiceAccount": ServiceAccount,
    "Role": Role,
    "RoleBinding": RoleBinding,
}


@dataclass
class Inventory:
    # namespace → kind → name → object (as the API server sends it; metadata only for some kinds)
    objects: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)  # kinds these credentials may not list
    requests: int = 0
    served: set[str] = field(default_factory=set)  # kinds answered by the watch index (object_index.py)

    def of(self, namespace: str) -> dict[str, dict[str, dict[str, Any]]]:
        return self.objects.get(namespace, {})

    def merge(self, other: Inventory) -> None:
        """Add another read's kinds (of the same namespaces) to this one."""
        for ns, kinds in other.objects.items():
            self.objects.setdefault(ns, {}).update(kinds)
        self.hidden |= other.hidden
        self.served |= other.served
        self.requests += other.requests


class InventoryReader:
    """Remembers, per kind, whether a cluster-wide list is allowed (one reader per Kube)."""

    def __init__(self) -> None:
        self._per_namespace: set[str] = set()  # kinds refused cluster-wide
        self._hidden: set[str] = set()  # kinds refused even per namespace

    async def read(
        self,
        client: AsyncClient,
        namespaces: Iterable[str],
        kinds: dict[str, bool],
        *,
        concurrency: int,
        per_namespace: bool = False,
    ) -> Inventory:
        """`kinds`: kind → metadata only? `per_namespace`: never list cluster-wide (what the
        platform chart's least privilege comes to; benchmarks measure it). Raises app.errors on
        anything but a 403."""
        wanted = set(namespaces)
        found = Inventory(objects={ns: {} for ns in wanted})
        gate = asyncio.Semaphore(concurrency)

        async def one_kind(kind: str, metadata_only: bool) -> None:
            if kind in self._hidden:
                found.hidden.add(kind)
                return
            if kind not in self._per_namespace and not per_namespace:
                items = await self._list(client, kind, ALL_NS, metadata_only, found)
                if items is not None:
                    for item in items:
                        ns = (item.get("metadata") or {}).get("namespace")
                        if ns in wanted:
                            _put(found, ns, kind, item)
                    return
                self._per_namespace.add(kind)

            async def in_namespace(ns: str) -> bool:
                async with gate:
                    items = await self._list(client, kind, ns, metadata_only, found)
                for item in items or []:
                    _put(found, ns, kind, item)
                return items is not None

            visible = await asyncio.gather(*(in_namespace(ns) for ns in sorted(wanted)))
            if wanted and not any(visible):
                self._hidden.add(kind)
                found.hidden.add(kind)

        await asyncio.gather(*(one_kind(kind, meta) for kind, meta in kinds.items()))
        return found

    async def _list(
        self, client: AsyncClient, kind: str, namespace: str, metadata_only: bool, found: Inventory
    ) -> list[dict[str, Any]] | None:
        """The items, or None when the credentials may not list them there (403)."""
        found.requests += 1
        where = "the cluster" if namespace == ALL_NS else namespace
        try:
            with api_call(f"list {kind} objects in {where}"):
                body = await list_json(
                    client,
                    RESOURCES[kind],
                    namespace=namespace,
                    params={"resourceVersion": "0"},  # from the API server's watch cache
                    accept=METADATA_ONLY if metadata_only else None,
                )
        except Exception as exc:
            if status_code(exc.__cause__ or exc) == 403:
                return None
            raise
        return list(body.get("items") or [])


def _put(found: Inventory, namespace: str, kind: str, item: dict[str, Any]) -> None:
    name = (item.get("metadata") or {}).get("name")
    if name:
        found.objects.setdefault(namespace, {}).setdefault(kind, {})[name] = item
