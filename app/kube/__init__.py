"""Kubernetes access: the only package that talks to the Kubernetes API (through lightkube).

Callers use one `Kube` per settings (`get_kube()`); every method raises app.errors on failure:
ClusterUnreachable/Conflict/StillProgressing (retry) or PermanentError subclasses.

    kube = get_kube()
    await kube.list_managed_namespaces()        # [ManagedNamespace(name, store_id, owner, created_at, …)]
    await kube.namespace_exists("store-s-1")    # bool
    await kube.delete_namespace("store-s-1", timeout=300, store_id="s-1")   # waits until gone
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache

from lightkube.resources.core_v1 import Namespace

from app.kube import access, cluster, namespaces, secrets, volumes
from app.kube import diagnose as _diagnose
from app.kube.client import ClientPool, api_call
from app.kube.diagnose import Diagnosis, Finding
from app.kube.namespaces import ManagedNamespace, store_labels
from app.kube.secrets import SecretRecord
from app.settings import Settings, get_settings

__all__ = ["Diagnosis", "Finding", "Kube", "ManagedNamespace", "SecretRecord", "get_kube", "store_labels"]


class Kube:
    def __init__(self, settings: Settings) -> None:
        self._pool = ClientPool(settings)
        self._store_role = settings.store_role
        self._simulated: bool | None = None

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

    async def delete_namespace(self, name: str, *, timeout: float, store_id: str | None = None) -> bool:
        """Delete a Storeplane-managed namespace, wait until it is gone, then delete the
        PersistentVolumes its claims left (see volumes.py) and wait for those too.
        False if the namespace was already absent (its leftover volumes are still removed)."""
        deadline = time.monotonic() + timeout
        client = self._pool.get()
        existed = await namespaces.delete_namespace(client, name, timeout=timeout, store_id=store_id)
        await volumes.remove_volumes_of(client, name, timeout=max(deadline - time.monotonic(), 1.0))
        return existed

    async def diagnose(self, namespace: str, since: datetime | None = None) -> Diagnosis:
        """Why the namespace's workloads are not ready; events older than `since` are ignored."""
        return await _diagnose.diagnose(self._pool.get(), namespace, since)

    async def volumes_of(self, namespace: str) -> list[str]:
        return await volumes.volumes_of(self._pool.get(), namespace)

    async def remove_volumes_of(self, namespace: str, *, timeout: float) -> list[str]:
        return await volumes.remove_volumes_of(self._pool.get(), namespace, timeout=timeout)

    async def read_secret(self, namespace: str, name: str) -> SecretRecord | None:
        return await secrets.read_secret(self._pool.get(), namespace, name)

    async def list_secrets(self, namespace: str, labels: dict[str, str]) -> list[SecretRecord]:
        return await secrets.list_secrets(self._pool.get(), namespace, labels)

    async def replace_secret(self, record: SecretRecord) -> None:
        await secrets.replace_secret(self._pool.get(), record)

    async def close(self) -> None:
        await self._pool.close()


@lru_cache(maxsize=8)
def _kube_for(kubeconfig: str, context: str, store_role: str) -> Kube:
    return Kube(Settings(kubeconfig=kubeconfig, kube_context=context, store_role=store_role))


def get_kube(settings: Settings | None = None) -> Kube:
    """The shared Kube for these settings (default: app.settings.get_settings())."""
    settings = settings or get_settings()
    return _kube_for(settings.kubeconfig, settings.kube_context, settings.store_role)
