"""Is a release's workload ready? The same judgement as Helm's kstatus wait (`--wait=watcher
--wait-for-jobs`), made by us, so that waiting costs no helm process and no worker slot.

`assess` is pure (lightkube objects in, a verdict out) and unit-tested with API-shaped objects;
`read` does the reading: one list per kind the release has, whatever the number of objects.
A Deployment is ready when its controller has seen the latest spec and every replica is updated
and available with no old replica left; a StatefulSet when every replica is ready and on the
update revision; a Job when it has completed; a claim when it is bound; a bare pod when it is
Ready or has succeeded. Other kinds (Services, Secrets, policies…) are ready once they exist,
which Helm's apply already ensured.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod

from app.kube.client import api_call

KINDS: dict[str, Any] = {
    "Deployment": Deployment,
    "StatefulSet": StatefulSet,
    "Job": Job,
    "PersistentVolumeClaim": PersistentVolumeClaim,
    "Pod": Pod,
}


@dataclass(frozen=True)
class ObjectRef:
    kind: str
    name: str


@dataclass(frozen=True)
class Readiness:
    pending: list[str] = field(default_factory=list)  # "deployment/web: 0/1 available", …

    @property
    def ready(self) -> bool:
        return not self.pending

    def summary(self) -> str:
        return "; ".join(self.pending) if self.pending else "every object is ready"


def _deployment(d: Any) -> str | None:
    spec, status, meta = d.spec, d.status, d.metadata
    want = 1 if spec is None or spec.replicas is None else spec.replicas
    if status is None or (status.observedGeneration or 0) < (meta.generation or 0):
        return "the controller has not seen the latest spec yet"
    updated, available = status.updatedReplicas or 0, status.availableReplicas or 0
    total = status.replicas or 0
    if updated < want:
        return f"{updated}/{want} replicas updated"
    if total > updated:
        return f"{total - updated} old replica(s) still terminating"
    if available < want:
        return f"{available}/{want} available"
    return None


def _statefulset(s: Any) -> str | None:
    spec, status, meta = s.spec, s.status, s.metadata
    want = 1 if spec is None or spec.replicas is None else spec.replicas
    if status is None or (status.observedGeneration or 0) < (meta.generation or 0):
        return "the controller has not seen the latest spec yet"
    ready = status.readyReplicas or 0
    rolling = spec is None or spec.updateStrategy is None or spec.updateStrategy.type != "OnDelete"
    if rolling and status.updateRevision and status.currentRevision != status.updateRevision:
        return f"{status.updatedReplicas or 0}/{want} replicas on the new revision"
    if ready < want:
        return f"{ready}/{want} ready"
    return None


def _job(j: Any) -> str | None:
    conditions = {c.type: c.status for c in ((j.status.conditions if j.status else None) or [])}
    if conditions.get("Complete") == "True":
        return None
    if conditions.get("Failed") == "True":
        return "failed"
    active = (j.status.active if j.status else 0) or 0
    return f"running ({active} active pod)" if active else "not started yet"


def _claim(c: Any) -> str | None:
    phase = c.status.phase if c.status else None
    return None if phase == "Bound" else f"{(phase or 'pending').lower()}, not bound"


def _pod(p: Any) -> str | None:
    status = p.status
    if status is None:
        return "not scheduled yet"
    if status.phase == "Succeeded":
        return None
    ready = any(c.type == "Ready" and c.status == "True" for c in status.conditions or [])
    return None if ready else (status.phase or "Pending").lower()


_JUDGE = {
    "Deployment": _deployment,
    "StatefulSet": _statefulset,
    "Job": _job,
    "PersistentVolumeClaim": _claim,
    "Pod": _pod,
}


def assess(refs: Iterable[ObjectRef], found: dict[str, Sequence[Any]]) -> Readiness:
    """`found` maps a kind to the objects of that kind in the namespace."""
    by_name = {(kind, obj.metadata.name): obj for kind, objs in found.items() for obj in objs}
    pending = []
    for ref in refs:
        judge = _JUDGE.get(ref.kind)
        if judge is None:
            continue
        obj = by_name.get((ref.kind, ref.name))
        why = "missing" if obj is None else judge(obj)
        if why is not None:
            pending.append(f"{ref.kind.lower()}/{ref.name}: {why}")
    return Readiness(pending)


async def read(client: AsyncClient, namespace: str, refs: Sequence[ObjectRef]) -> Readiness:
    kinds = sorted({ref.kind for ref in refs if ref.kind in KINDS})
    found: dict[str, list[Any]] = {}
    with api_call(f"read the workloads of {namespace}"):
        for kind in kinds:
            found[kind] = [obj async for obj in client.list(KINDS[kind], namespace=namespace)]
    return assess(refs, found)
