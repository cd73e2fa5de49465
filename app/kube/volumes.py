"""PersistentVolumes that outlive a store. A PV is cluster-scoped, so deleting the namespace does
not delete it: with reclaimPolicy Delete the provisioner removes it once its claim is gone, with
Retain (or a provisioner that is down) it stays. A deleted store must leave none behind.

The volumes are found through the store's own claims (`spec.volumeName`, one namespaced list), not
by listing every PV of the cluster: at 1,000 stores that list is megabytes per delete. Only when
the claims are already gone (a crash after the namespace was deleted, an orphan) do we fall back to
the cluster-wide list, the one place that can still tell.
"""

from __future__ import annotations

import asyncio
import time

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import PersistentVolume, PersistentVolumeClaim

from app import errors
from app.kube.client import api_call, poll_pause


async def claimed_volumes(client: AsyncClient, namespace: str) -> list[str]:
    """Names of the PVs bound to the claims in `namespace` (empty if it has none or is gone)."""
    with api_call(f"list persistent volume claims in {namespace}"):
        claims = [c async for c in client.list(PersistentVolumeClaim, namespace=namespace)]
    return sorted({c.spec.volumeName for c in claims if c.spec and c.spec.volumeName})


async def volumes_left_by(client: AsyncClient, namespace: str) -> list[str]:
    """PVs whose claim was in `namespace`, from the cluster-wide list (the fallback, see above)."""
    with api_call("list persistent volumes"):
        return [
            pv.metadata.name
            async for pv in client.list(PersistentVolume)
            if pv.spec and pv.spec.claimRef and pv.spec.claimRef.namespace == namespace
        ]


async def _still_of(client: AsyncClient, name: str, namespace: str) -> bool:
    """Does PV `name` exist and still belong to a claim of `namespace`? (A name could be reused.)"""
    with api_call(f"read persistent volume {name}"):
        try:
            pv = await client.get(PersistentVolume, name)
        except ApiError as exc:
            if exc.status.code == 404:
                return False
            raise
    return bool(pv.spec and pv.spec.claimRef and pv.spec.claimRef.namespace == namespace)


async def remove_volumes(
    client: AsyncClient, namespace: str, names: list[str], *, timeout: float
) -> list[str]:
    """Delete the PVs `names` left by `namespace`'s claims and wait until they are gone; returns the
    names that were there. Call only after the namespace is gone, so no pod can still use them."""
    present = [name for name in names if await _still_of(client, name, namespace)]
    with api_call("delete persistent volumes"):
        for name in present:
            try:
                await client.delete(PersistentVolume, name)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
    started = time.monotonic()
    deadline = started + timeout
    remaining = present
    while remaining:
        if time.monotonic() >= deadline:
            raise errors.StillProgressing(
                f"persistent volumes {', '.join(remaining)} of namespace {namespace} are still being deleted"
            )
        await asyncio.sleep(poll_pause(time.monotonic() - started))
        remaining = [name for name in remaining if await _still_of(client, name, namespace)]
    return present
