"""Observe a store's release into a closed set of states, each with a reason.

Observing is separate from deciding (the `decide` step of each public action in __init__.py) and
from acting (one module per verb), like Flux's helm-controller: after every action the release is
observed again, so a decision is always made on what is true now, not on what we expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app import errors
from app.helm import Revision, storage
from app.helm.storage import PENDING_STATUSES
from app.kube import ObjectRef
from app.reconcile.target import StoreTarget
from app.reconcile.toolkit import Toolkit


class ReleaseState(StrEnum):
    # No release is stored: never installed, or fully uninstalled. Install is the way forward.
    ABSENT = "absent"
    # The latest revision is deployed: helm saw every object ready when it wrote it.
    DEPLOYED = "deployed"
    # The latest revision failed: helm wrote it and some objects may exist. A new
    # `upgrade --install` adopts them; nothing has to be cleaned first.
    FAILED = "failed"
    # The latest revision is pending-install/-upgrade/-rollback. The caller holds the store's job,
    # so no helm process of ours is running for it: its process died and the lock is stale.
    STALE_PENDING = "stale-pending"
    # An uninstall was interrupted; only finishing it leads anywhere.
    UNINSTALLING = "uninstalling"
    # Anything else helm may report (unknown, superseded as latest): treated as failed.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Observation:
    state: ReleaseState
    reason: str
    history: tuple[Revision, ...] = ()

    @property
    def latest(self) -> Revision | None:
        return self.history[-1] if self.history else None

    @property
    def deployed_revision(self) -> int | None:
        """The newest revision that was deployed, now or before (the one a failed upgrade returns to)."""
        for rev in reversed(self.history):
            if rev.status in {"deployed", "superseded"}:
                return rev.revision
        return None


def classify(history: list[Revision]) -> Observation:
    """The state of a release from its history, oldest first."""
    if not history:
        return Observation(ReleaseState.ABSENT, "no release is stored")
    latest = history[-1]
    where = f"revision {latest.revision} is {latest.status}"
    match latest.status:
        case "deployed":
            state, reason = ReleaseState.DEPLOYED, where
        case "failed":
            state, reason = ReleaseState.FAILED, f"{where}: {latest.description}"
        case status if status in PENDING_STATUSES:
            state, reason = ReleaseState.STALE_PENDING, f"{where} but no helm process holds it"
        case "uninstalling":
            state, reason = ReleaseState.UNINSTALLING, f"{where}: an uninstall was interrupted"
        case "uninstalled":
            state, reason = ReleaseState.ABSENT, f"{where} (history kept)"
        case _:
            state, reason = ReleaseState.UNKNOWN, where
    return Observation(state, reason, tuple(history))


async def release_records(t: StoreTarget, kit: Toolkit) -> list[dict]:  # type: ignore[type-arg]
    """Every stored revision of the release, decoded (one API request)."""
    records = await kit.kube.list_secrets(t.namespace, storage.selector(t.release))
    try:
        return [storage.decode_release(r.data["release"]) for r in records if "release" in r.data]
    except ValueError as exc:  # base64, gzip or JSON: not a record helm could read either
        raise errors.PermanentError(f"helm's record of release {t.release} is unreadable: {exc}") from exc


async def observe(t: StoreTarget, kit: Toolkit) -> Observation:
    """Read the release's revisions from Helm's storage Secrets: the same rows as `helm history`,
    in one API request instead of a helm process (observing happens several times per action)."""
    return classify(storage.revisions(await release_records(t, kit)))


async def revision_record(t: StoreTarget, kit: Toolkit, revision: int) -> dict[str, Any]:
    """Helm's record of one revision (chart, values, manifest), from its storage Secret."""
    name = storage.secret_name(t.release, revision)
    record = await kit.kube.read_secret(t.namespace, name)
    if record is None or "release" not in record.data:
        raise errors.Conflict(f"helm's record {name} is missing; the action will be retried")
    try:
        return storage.decode_release(record.data["release"])
    except ValueError as exc:
        raise errors.PermanentError(f"helm's record {name} is unreadable: {exc}") from exc


async def revision_objects(t: StoreTarget, kit: Toolkit, revision: int) -> list[ObjectRef]:
    """The objects revision `revision` applied (its manifest), to judge their readiness."""
    release = await revision_record(t, kit, revision)
    return [ObjectRef(kind, name) for kind, name in storage.manifest_objects(release)]


def applied_by(revision: Revision | None, job_id: int | None) -> bool:
    """Did job `job_id` write this revision? (Its id is in the revision's description.)"""
    return bool(revision and job_id is not None and revision.description.endswith(job_marker(job_id)))


def job_marker(job_id: int) -> str:
    return f"(job {job_id})"
