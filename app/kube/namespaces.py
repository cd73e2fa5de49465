"""Store namespaces: create with Storeplane's labels, list the managed ones, delete and wait."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime

from lightkube import ApiError, AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace

from app import errors
from app.kube.client import api_call, poll_pause
from app.kube.json_lists import list_json

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "storeplane"
OWNER = "storeplane.io/owner"
STORE_ID = "storeplane.io/store-id"
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")  # with fullmatch


@dataclass(frozen=True)
class ManagedNamespace:
    """A namespace labelled managed-by=storeplane, as the periodic sweep needs it."""

    name: str
    store_id: str
    owner: str
    created_at: datetime | None
    terminating: bool
    labels: dict[str, str]


def store_labels(*, store_id: str, owner: str, pod_security: str = "restricted") -> dict[str, str]:
    """The labels every store namespace carries. Pod Security Admission enforces `pod_security`
    and also warns/audits at `restricted`, so a `baseline` store still reports what it lacks."""
    for key, value in ((STORE_ID, store_id), (OWNER, owner)):
        if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
            raise errors.PermanentError(
                f"{key}={value!r} is not a valid label value (at most 63 letters, digits, '-', '_' or '.')"
            )
    if pod_security not in {"restricted", "baseline"}:
        raise errors.PermanentError(f"pod security level {pod_security!r} must be restricted or baseline")
    return {
        MANAGED_BY: MANAGER,
        OWNER: owner,
        STORE_ID: store_id,
        "pod-security.kubernetes.io/enforce": pod_security,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def _managed_by_store(ns: Namespace, store_id: str | None) -> bool:
    labels = ns.metadata.labels or {}
    return labels.get(MANAGED_BY) == MANAGER and (store_id is None or labels.get(STORE_ID) == store_id)


async def ensure_namespace(client: AsyncClient, name: str, labels: dict[str, str]) -> bool:
    """Create the namespace, or adopt it if it is already this store's; True when created.
    A namespace of the same name that is not this store's is refused, never relabelled."""
    with api_call(f"create namespace {name}"):
        try:
            await client.create(Namespace(metadata=ObjectMeta(name=name, labels=labels)))
            return True
        except ApiError as exc:
            if exc.status.code != 409:
                raise
        existing = await client.get(Namespace, name)
        if not _managed_by_store(existing, labels.get(STORE_ID)):
            store = labels.get(STORE_ID)
            raise errors.NotManaged(f"namespace {name} exists and does not belong to store {store}")
        if existing.metadata.deletionTimestamp is not None:
            raise errors.Conflict(f"namespace {name} is still being deleted; the action will be retried")
        current = existing.metadata.labels or {}
        if any(current.get(key) != value for key, value in labels.items()):
            await client.patch(Namespace, name, {"metadata": {"labels": labels}})
        return False


async def namespace_exists(client: AsyncClient, name: str) -> bool:
    return await namespace_phase(client, name) is not None


async def namespace_phase(client: AsyncClient, name: str) -> str | None:
    """ "Active", "Terminating", or None when the namespace does not exist."""
    with api_call(f"read namespace {name}"):
        try:
            ns = await client.get(Namespace, name)
        except ApiError as exc:
            if exc.status.code == 404:
                return None
            raise
    if ns.metadata.deletionTimestamp is not None:
        return "Terminating"
    return (ns.status.phase if ns.status else None) or "Active"


async def list_managed(client: AsyncClient) -> list[ManagedNamespace]:
    """Metadata only, as plain JSON: the sweep asks every 30 s, and decoding a thousand Namespace
    models costs more than the request (json_lists.py)."""
    with api_call("list managed namespaces"):
        body = await list_json(client, Namespace, params={"labelSelector": f"{MANAGED_BY}={MANAGER}"})
    found = []
    for item in body.get("items") or []:
        metadata = item.get("metadata") or {}
        labels = dict(metadata.get("labels") or {})
        created = metadata.get("creationTimestamp")
        found.append(
            ManagedNamespace(
                name=metadata.get("name", ""),
                store_id=labels.get(STORE_ID, ""),
                owner=labels.get(OWNER, ""),
                created_at=datetime.fromisoformat(created) if created else None,
                terminating=metadata.get("deletionTimestamp") is not None,
                labels=labels,
            )
        )
    return found


async def delete_namespace(
    client: AsyncClient, name: str, *, timeout: float, store_id: str | None = None
) -> bool:
    """Delete a managed namespace and wait until the API no longer has it; False if it was absent.
    With `store_id`, refuse a namespace labelled for another store."""
    deadline = time.monotonic() + timeout
    with api_call(f"delete namespace {name}"):
        try:
            ns = await client.get(Namespace, name)
        except ApiError as exc:
            if exc.status.code == 404:
                return False
            raise
        if not _managed_by_store(ns, store_id):
            raise errors.NotManaged(f"namespace {name} is not Storeplane's for store {store_id}; not deleted")
        if ns.metadata.deletionTimestamp is None:
            try:
                await client.delete(Namespace, name)
            except ApiError as exc:
                if exc.status.code != 404:
                    raise
        started = time.monotonic()
        while time.monotonic() < deadline:
            try:
                ns = await client.get(Namespace, name)
            except ApiError as exc:
                if exc.status.code == 404:
                    return True
                raise
            await asyncio.sleep(poll_pause(time.monotonic() - started))
    why = _why_stuck(ns)
    raise errors.StillProgressing(f"namespace {name} is still terminating after {timeout:.0f}s: {why}")


def _why_stuck(ns: Namespace) -> str:
    """The namespace controller's own account of what blocks deletion (conditions, finalizers)."""
    reasons = [
        f"{c.reason}: {c.message}"
        for c in (ns.status.conditions or [] if ns.status else [])
        if c.status == "True" and c.message
    ]
    if reasons:
        return "; ".join(reasons)
    finalizers = (ns.spec.finalizers if ns.spec else None) or []
    return f"finalizers {finalizers}" if finalizers else "no condition reported yet"
