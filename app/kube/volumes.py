"""PersistentVolumes that outlive a store. A PV is cluster-scoped, so deleting the namespace does
not delete it: with reclaimPolicy Delete the provisioner removes it once its claim is gone, with
Retain (or a provisioner that is down) it stays. A deleted store must leave none behind."""

from __future__ import annotations

import asyncio
import time

from lightkube import ApiError, AsyncClient
from lightkube.resources.core_v1 import PersistentVolume

from app import errors
from app.kube.client import api_call

POLL_SECONDS = 0.5


async def volumes_of(client: AsyncClient, namespace: str) -> list[str]:
    """Names of PVs whose claim was (or is) in `namespace`."""
    with api_call("list persistent volumes"):
        return [
            pv.metadata.name
            async for pv in client.list(PersistentVolume)
            if pv.spec and pv.spec.claimRef and pv.spec.claimRef.namespace == namespace
        ]


async def remove_volumes_of(client: AsyncClient, namespace: str, *, timeout: float) -> list[str]:
    """Delete the PVs left by `namespace`'s claims and wait until they are gone; returns their names.
    Call only after the namespace is gone, so no pod can still be using them."""
    leftover = await volumes_of(client, namespace)
    with api_call("delete persistent volumes"):
        for name in leftover:
            try:
                await client.delete(PersistentVolume, name)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
    deadline = time.monotonic() + timeout
    remaining = leftover
    while remaining:
        if time.monotonic() >= deadline:
            raise errors.StillProgressing(
                f"persistent volumes {', '.join(remaining)} of namespace {namespace} are still being deleted"
            )
        await asyncio.sleep(POLL_SECONDS)
        remaining = await volumes_of(client, namespace)
    return leftover
