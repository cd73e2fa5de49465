"""The sweep's drift step: compare each Ready store's live objects with its release, record the
result on the store (API, store page, metric), and, when the operator allows it, repair.

Cost, per sweep: one database read of the candidates; the live objects' metadata in all candidate
namespaces, from the watch index where the credentials allow a cluster-wide watch (app/kube/
object_index.py: no request at all once it is synced), else listed per namespace; then, for at
most `drift_batch` stores whose objects or revision changed since their last comparison (the rest
wait for the next sweep, least recently checked first), their release (one Secret read each) and
their full objects (listed in their namespaces only), and the comparison (pure, app/fleet/drift.py);
one write transaction. Stores checked less than half an interval ago are skipped, so several
workers sweeping at different moments share the work instead of repeating it.

Only Ready stores with no job queued or running are checked: anything else is in motion, and a
revision being applied is not drift. The write is guarded by the store's status and revision, so a
result computed while an action started is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, exists, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from app import audit, metrics
from app.db.engine import read_transaction, transaction, utcnow
from app.db.events import append_event
from app.db.models import ACTIVE_JOB_STATES, Job, RolloutStep, Store
from app.db.stores import request_action
from app.errors import StoreplaneError
from app.fleet.drift import KINDS, SPEC_DIGESTED, DriftReport, compare
from app.fleet.rollouts import IN_FLIGHT
from app.fleet.versions import RunningVersion, running_from_record
from app.helm import storage
from app.jobs.queue import ActiveJobExists
from app.lifecycle import Action, IllegalTransition, StoreStatus
from app.settings import Settings

if TYPE_CHECKING:
    from app.kube import Inventory

log = logging.getLogger("storeplane.drift")

SWEEP = "storeplane-sweep"  # the audit log's client for what the sweep does by itself
TOUCH_CHUNK = 400  # stores per statement that only moves the check time (2 bound values each)


class DriftCluster(Protocol):
    """What the drift step needs from app.kube.Kube."""

    async def read_secret(self, namespace: str, name: str) -> Any: ...
    async def inventory(
        self,
        namespaces: list[str],
        kinds: dict[str, bool],
        *,
        concurrency: int = 8,
        per_namespace: bool = False,
        watched: bool = False,
    ) -> Any: ...


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str
    engine: str
    namespace: str
    revision: int
    drifted: bool | None
    chart_version: str | None
    values_digest: str | None
    checked_at: datetime | None


# (revision, digest of what a comparison reads of the namespace's objects): equal means nothing
# changed. A digest, not the objects' names and versions: 1,000 stores' marks take ~0.2 MB.
Mark = tuple[int, bytes]


@dataclass(frozen=True)
class Desired:  # one revision's release, parsed for one comparison
    revision: int
    objects: list[dict[str, Any]]
    version: RunningVersion


@dataclass
class DriftSummary:
    checked: int = 0
    compared: int = 0  # of those, compared again (their objects or revision changed)
    deferred: int = 0  # changed stores left for the next sweep (more than `drift_batch`)
    drifted: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0


class DriftCheck:
    def __init__(self, factory: sessionmaker[Session], settings: Settings, kube: DriftCluster) -> None:
        self.factory, self.settings, self.kube = factory, settings, kube
        # store id → ((revision, fingerprint of its objects), report, what the revision runs): a store
        # whose objects did not change since it was compared keeps its report without reading its
        # objects or its release again. Parsed releases are not kept between sweeps: only what the
        # store page needs.
        self._verdicts: dict[str, tuple[Mark, DriftReport, RunningVersion]] = {}
        # store id → (the mark whose verdict this process last wrote to the store's row, the check
        # time it wrote): a store still at that mark whose row still has that time (no other
        # process and no action wrote it since) only has its check time moved, in one statement.
        self._written: dict[str, tuple[Mark, datetime]] = {}

    async def run(self) -> DriftSummary:
        started = time.monotonic()
        summary = DriftSummary()
        candidates = await asyncio.to_thread(self._candidates)
        if candidates:
            await self._check(candidates, summary)
        summary.seconds = time.monotonic() - started
        metrics.DRIFT_SWEEP_DURATION.observe(summary.seconds)
        if summary.checked:  # the sweep's cost, for operators (bench/drift_sweep.py reads it too)
            log.info(
                "drift sweep: %d stores in %.2fs, %d API requests, %d compared, %d deferred, %d drifted",
                summary.checked, summary.seconds, summary.requests, summary.compared, summary.deferred,
                len(summary.drifted),
                extra={"drift_seconds": round(summary.seconds, 3), "drift_stores": summary.checked},
            )  # fmt: skip
        return summary

    async def _check(self, candidates: list[Candidate], summary: DriftSummary) -> None:
        try:
            # What is there, and at which version: metadata only (but a digest of the spec where
            # status churn hides spec changes), from the watch index.
            seen = await self.kube.inventory(
                [c.namespace for c in candidates],
                {kind: kind not in SPEC_DIGESTED for kind in KINDS},
                concurrency=self.settings.drift_concurrency,
                watched=True,
            )
            summary.requests += seen.requests
            marks = {c.id: (c.revision, _fingerprint(seen.of(c.namespace))) for c in candidates}
            stale = [
                c for c in candidates if c.id not in self._verdicts or self._verdicts[c.id][0] != marks[c.id]
            ]
            # A bounded batch per sweep: after a burst, hundreds of stores changed at once, and
            # comparing them all would make one sweep read hundreds of releases and namespaces.
            summary.deferred = max(len(stale) - self.settings.drift_batch, 0)
            stale = stale[: self.settings.drift_batch]
            # Only stores whose objects or revision changed since they were compared need their release.
            desired = await self._manifests(stale, summary)
            changed = [c for c in stale if c.id in desired]
            full = None
            if changed:  # only stores whose objects or revision changed since they were compared
                full = await self.kube.inventory(  # in their namespaces: cluster-wide is every store's
                    [c.namespace for c in changed],
                    {kind: False for kind, presence_only in KINDS.items() if not presence_only},
                    concurrency=self.settings.drift_concurrency,
                    per_namespace=True,
                )
                summary.requests += full.requests
        except StoreplaneError as exc:
            summary.errors.append(f"drift: {exc.message}")
            return
        # The comparison is CPU work: off the event loop, which serves the API too (embedded workers).
        fresh = await asyncio.to_thread(_compare_all, changed, desired, seen, full)
        for c, report in fresh:
            self._verdicts[c.id] = (marks[c.id], report, desired[c.id].version)
        for gone in [sid for sid in self._verdicts if sid not in marks]:
            del self._verdicts[gone]
            self._written.pop(gone, None)
        checked = [c for c in candidates if c.id in self._verdicts and self._verdicts[c.id][0] == marks[c.id]]
        results = [(c, self._verdicts[c.id][2], self._verdicts[c.id][1]) for c in checked]
        summary.checked, summary.compared = len(results), len(fresh)
        summary.drifted = [c.id for c, _, r in results if r.drifted]
        await asyncio.to_thread(self._record, results, marks)
        if self.settings.drift_auto_repair and summary.drifted:
            summary.repairs = await asyncio.to_thread(self._repair, summary.drifted)

    def _candidates(self) -> list[Candidate]:
        """Ready stores with a revision and no job in flight, least recently checked first."""
        recent = utcnow() - timedelta(seconds=self.settings.reconcile_interval_seconds / 2)
        busy = exists().where(and_(Job.store_id == Store.id, Job.status.in_(ACTIVE_JOB_STATES)))  # type: ignore[attr-defined]
        in_rollout = exists().where(
            and_(RolloutStep.store_id == Store.id, RolloutStep.state.in_(IN_FLIGHT))  # type: ignore[attr-defined]
        )
        query = (
            # The columns a Candidate needs, not whole rows: the stored reports are the bulk of a row.
            select(
                Store.id,
                Store.name,
                Store.engine,
                Store.namespace,
                Store.helm_revision,
                Store.drifted,
                Store.chart_version,
                Store.values_digest,
                Store.drift_checked_at,
            )
            .where(
                Store.status == StoreStatus.READY,
                Store.helm_revision.is_not(None),  # type: ignore[union-attr]
                ~busy,
                ~in_rollout,
                (Store.drift_checked_at.is_(None)) | (Store.drift_checked_at < recent),  # type: ignore[union-attr,operator]
            )
            .order_by(Store.drift_checked_at.is_not(None), Store.drift_checked_at, Store.id)  # type: ignore[union-attr]
        )
        with read_transaction(self.factory) as session:
            return [Candidate(*row) for row in session.execute(query)]

    async def _manifests(self, candidates: list[Candidate], summary: DriftSummary) -> dict[str, Desired]:
        """These candidates' releases (each its recorded revision), for one comparison."""
        loaded: dict[str, Desired] = {}
        gate = asyncio.Semaphore(self.settings.drift_concurrency)

        async def load(c: Candidate) -> None:
            name = storage.secret_name(c.name, c.revision)
            async with gate:
                try:
                    record = await self.kube.read_secret(c.namespace, name)
                except StoreplaneError as exc:
                    summary.errors.append(f"drift {c.id}: {exc.message}")
                    return
            summary.requests += 1
            if record is None or "release" not in record.data:
                summary.errors.append(
                    f"drift {c.id}: Helm's record {name} of revision {c.revision} is missing"
                )
                return
            try:  # gunzip, JSON and YAML of ~70 KB: off the event loop
                loaded[c.id] = await asyncio.to_thread(_decode, record.data["release"], c)
            except ValueError as exc:
                summary.errors.append(f"drift {c.id}: Helm's record {name} is unreadable: {exc}")

        await asyncio.gather(*(load(c) for c in candidates))
        return loaded

    def _record(
        self, results: list[tuple[Candidate, RunningVersion, DriftReport]], marks: dict[str, Mark]
    ) -> None:
        """Write each checked store's verdict; a store whose row already holds the verdict of its
        current mark only has its check time moved: at 1,000 quiet stores, one statement per chunk
        instead of 1,000 rows of JSON per sweep. "Already holds" is known by the check time: the
        one this process wrote, so neither another worker's sweep nor an action (which resets it,
        jobs/outcome.py) wrote the row since."""
        now = utcnow()
        unchanged = [
            c
            for c, version, _ in results
            if c.checked_at is not None
            and self._written.get(c.id) == (marks[c.id], c.checked_at)
            and _version_recorded(c, version)
        ]
        kept = {c.id for c in unchanged}
        written: list[str] = []
        with transaction(self.factory) as session:
            for chunk in (unchanged[i : i + TOUCH_CHUNK] for i in range(0, len(unchanged), TOUCH_CHUNK)):
                session.execute(
                    update(Store)
                    .where(
                        tuple_(Store.id, Store.helm_revision).in_([(c.id, c.revision) for c in chunk]),
                        Store.status == StoreStatus.READY,
                    )
                    .values(drift_checked_at=now)
                )
            for c, version, report in results:
                if c.id in kept:
                    continue
                values: dict[str, Any] = {
                    "drifted": report.drifted,
                    "drift": report.as_dict(c.revision),
                    "drift_checked_at": now,
                }
                if not _version_recorded(c, version):
                    # Stores from before this was recorded, or an action that could not read it.
                    values |= {
                        "chart_version": version.chart_version or None,
                        "app_version": version.app_version or None,
                        "values_digest": version.values_digest,
                    }
                rows = session.execute(
                    update(Store)
                    .where(
                        Store.id == c.id, Store.status == StoreStatus.READY, Store.helm_revision == c.revision
                    )
                    .values(**values)
                ).rowcount
                if rows:
                    written.append(c.id)
                if rows and report.drifted != bool(c.drifted):
                    append_event(session, store_id=c.id, step="drift", message=_change(report, c.revision))
                    if report.drifted:
                        log.warning("store %s drifted: %s", c.id, "; ".join(report.differences))
        # Committed. A touched row that an action changed meanwhile keeps another time: written again.
        self._written.update((sid, (marks[sid], now)) for sid in written + list(kept))

    def _repair(self, store_ids: list[str]) -> list[str]:
        """Queue a repair for drifted stores that are free, at most once per backoff per store."""
        repaired = []
        cutoff = utcnow() - timedelta(seconds=self.settings.drift_repair_backoff_seconds)
        for store_id in store_ids:
            with transaction(self.factory) as session:
                store = session.get(Store, store_id, with_for_update=True)
                if store is None or store.status != StoreStatus.READY or not store.drifted:
                    continue
                recent = session.execute(
                    select(Job.id).where(
                        Job.store_id == store_id, Job.kind == Action.REPAIR, Job.created_at > cutoff
                    )
                ).first()
                in_rollout = session.execute(
                    select(RolloutStep.id).where(
                        RolloutStep.store_id == store_id, RolloutStep.state.in_(IN_FLIGHT)
                    )  # type: ignore[attr-defined]
                ).first()
                if recent is not None or in_rollout is not None:
                    continue
                try:
                    request_action(
                        session,
                        store,
                        Action.REPAIR,
                        settings=self.settings,
                        args={"revision": store.helm_revision},
                    )
                except (ActiveJobExists, IllegalTransition):
                    continue
                append_event(
                    session, store_id=store_id, step="drift", message="repair requested by the sweep"
                )
                audit.record(
                    session,
                    action=audit.Action.STORE_REPAIR,
                    outcome=audit.Outcome.SUCCESS,
                    actor=audit.Actor(None, "storeplane"),
                    client_ip=SWEEP,
                    target=f"store:{store_id}",
                    detail={"automatic": True, "revision": store.helm_revision},
                    commit=False,
                )
                repaired.append(store_id)
        return repaired


def _version_recorded(c: Candidate, version: RunningVersion) -> bool:
    return (c.chart_version, c.values_digest) == (version.chart_version, version.values_digest)


def _decode(data: bytes, c: Candidate) -> Desired:
    """Helm's record → the manifest's objects and what the revision runs (gunzip, JSON, YAML)."""
    release = storage.decode_release(data)
    return Desired(c.revision, storage.manifest_documents(release), running_from_record(release, c.engine))


def _fingerprint(objects: dict[str, dict[str, dict[str, Any]]]) -> bytes:
    """What a comparison depends on, per object: equal means comparing again would say the same.
    Status writes must not count, or every store would look changed every few minutes (each cron
    run writes a Job, its CronJob's status and the quota's usage): objects made by a controller are
    left out (never judged), presence-only kinds count by name, kinds with a generation count by it
    (bumped on every spec change, never by status), quotas by their spec's digest, the rest by
    resourceVersion."""
    found: list[str] = []
    for kind, named in objects.items():
        for name, obj in named.items():
            metadata = obj.get("metadata") or {}
            if metadata.get("ownerReferences"):
                continue
            if KINDS.get(kind, True):
                version = ""
            elif metadata.get("generation"):
                version = f"g{metadata['generation']}"
            elif "spec" in obj:
                version = hashlib.sha256(json.dumps(obj["spec"], sort_keys=True).encode()).hexdigest()
            else:
                version = str(metadata.get("resourceVersion", ""))
            found.append(f"{kind}/{name}@{version}")
    return hashlib.sha256("\n".join(sorted(found)).encode()).digest()


def _compare_all(
    changed: list[Candidate], desired: dict[str, Desired], seen: Inventory, full: Inventory | None
) -> list[tuple[Candidate, DriftReport]]:
    """Compare the changed stores: full objects where a rule reads them, metadata for the rest."""
    results = []
    hidden = seen.hidden | (full.hidden if full is not None else set())
    for c in changed:
        live = dict(seen.of(c.namespace))
        if full is not None:
            live.update(full.of(c.namespace))
        results.append((c, compare(desired[c.id].objects, live, hidden=hidden)))
    return results


def _change(report: DriftReport, revision: int) -> str:
    if not report.drifted:
        return f"in sync with revision {revision} again"
    shown = "; ".join(report.differences[:5])
    more = f" (and {len(report.differences) - 5} more)" if len(report.differences) > 5 else ""
    return f"drifted from revision {revision}: {shown}{more}"
