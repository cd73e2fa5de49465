"""Helm's release record as stored by its Secret driver, and the stale-lock edit on it.

Helm keeps revision N of release R in Secret `sh.helm.release.v1.R.vN` (type helm.sh/release.v1):
`data.release` is base64(gzip(JSON release)), and the labels name/owner/status/version mirror the
record so helm can query by status. A helm process killed mid-action leaves its revision in a
`pending-*` status; every later helm action then refuses with "another operation is in progress".

Like Flux's helm-controller we unlock by rewriting that revision as `failed` (record and `status`
label): the resources it created stay where they are, and the next `upgrade --install` adopts them
instead of creating duplicates. This is safe only because the caller holds the store's job — no
other helm process may be acting on the release — which is what makes the pending state stale.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from app.helm.revision import Revision, parse_time

PENDING_STATUSES = frozenset({"pending-install", "pending-upgrade", "pending-rollback"})


def secret_name(release: str, revision: int) -> str:
    return f"sh.helm.release.v1.{release}.v{revision}"


def selector(release: str) -> dict[str, str]:
    """Labels of every stored revision of `release` (what helm itself queries by)."""
    return {"owner": "helm", "name": release}


def revisions(records: Iterable[Mapping[str, Any]]) -> list[Revision]:
    """Decoded release records → the rows `helm history` would print, oldest first. Reading the
    storage directly costs one API request instead of a helm process per observation."""
    rows = []
    for record in records:
        info = record.get("info", {})
        metadata = (record.get("chart") or {}).get("metadata") or {}
        chart = f"{metadata['name']}-{metadata['version']}" if metadata else "MISSING"
        rows.append(
            Revision(
                revision=int(record["version"]),
                status=str(info.get("status", "unknown")),
                updated=parse_time(info.get("last_deployed")),
                chart=chart,
                app_version=str(metadata.get("appVersion", "")) if metadata else "MISSING",
                description=str(info.get("description", "")),
            )
        )
    return sorted(rows, key=lambda r: r.revision)


def values_of(records: Iterable[Mapping[str, Any]], revision: int) -> dict[str, Any] | None:
    """The values the release was given at `revision` (Helm's `config`: what we sent, not the chart's
    defaults); None if that revision is not stored."""
    for record in records:
        if int(record.get("version", -1)) == revision:
            config = record.get("config") or {}
            return config if isinstance(config, dict) else {}
    return None


def decode_release(data: bytes) -> dict[str, Any]:
    """The Secret's `release` value (already base64-decoded once by the API) → the release record."""
    raw = base64.b64decode(data)
    if raw[:3] == b"\x1f\x8b\x08":  # helm skips compression for very old records
        raw = gzip.decompress(raw)
    return json.loads(raw)


def encode_release(record: dict[str, Any]) -> bytes:
    packed = gzip.compress(json.dumps(record, separators=(",", ":")).encode(), compresslevel=9)
    return base64.b64encode(packed)


# libyaml's loader when PyYAML has it (ten times faster on a store's ~30 documents), else the pure one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def manifest_documents(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every object the revision's manifest applies, as mappings (hooks are kept apart by Helm and
    are not in it)."""
    return [
        doc
        for doc in yaml.load_all(record.get("manifest") or "", Loader=_LOADER)
        if isinstance(doc, dict) and doc.get("kind") and (doc.get("metadata") or {}).get("name")
    ]


def manifest_objects(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, name) of every object the revision's manifest applies."""
    return [(str(doc["kind"]), str(doc["metadata"]["name"])) for doc in manifest_documents(record)]


# Kinds that live outside any namespace: deleting a store's namespace would leave them behind.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService", "CSIDriver", "CSINode", "ClusterIssuer", "ClusterRole", "ClusterRoleBinding",
        "CustomResourceDefinition", "IngressClass", "MutatingWebhookConfiguration", "Namespace",
        "Node", "PersistentVolume", "PriorityClass", "RuntimeClass", "StorageClass",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
        "VolumeAttachment", "VolumeSnapshotClass",
    }
)  # fmt: skip
DELETE_HOOK_EVENTS = frozenset({"pre-delete", "post-delete"})


def uninstall_work(record: Mapping[str, Any]) -> list[str]:
    """What `helm uninstall` of this revision would do that deleting its namespace would not: run a
    delete hook, or remove a cluster-scoped object. Empty: the namespace deletion is enough."""
    work = [
        f"{kind} {name} is cluster-scoped"
        for kind, name in manifest_objects(record)
        if kind in CLUSTER_SCOPED_KINDS
    ]
    for hook in record.get("hooks") or []:
        events = set(hook.get("events") or [])
        if events & DELETE_HOOK_EVENTS:
            when = "/".join(sorted(events & DELETE_HOOK_EVENTS))
            work.append(f"{hook.get('kind', 'hook')} {hook.get('name', '?')} is a {when} hook")
    return work


def mark_failed(
    record: dict[str, Any],
    labels: dict[str, str],
    reason: str,
    *,
    from_statuses: frozenset[str] = PENDING_STATUSES,
) -> tuple[dict, dict]:
    """A copy of the record and its Secret labels, now `failed` with `reason` as description.
    Refuses (ValueError) a record whose status is not one of `from_statuses`."""
    status = record.get("info", {}).get("status", "")
    if status not in from_statuses:
        expected = " or ".join(sorted(from_statuses))
        raise ValueError(f"release revision is {status or 'without status'}, not {expected}")
    info = {**record["info"], "status": "failed", "description": reason}
    new_labels = {**labels, "status": "failed", "modifiedAt": str(int(time.time()))}
    return {**record, "info": info}, new_labels
