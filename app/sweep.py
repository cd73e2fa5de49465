"""The periodic sweep (`Sweeper`, in every worker): it repairs what drifted between the store table
and the cluster. Not to be confused with app/reconcile/, the store actions a job runs.

1. Expired job leases are reclaimed (the worker died), and so are the jobs of workers that are
   provably dead already (same host, process gone: app/jobs/liveness.py): the job is queued again,
   or failed when it has used all its attempts.
2. Managed namespaces with no live store are deleted once older than a grace period — they are
   left by a crash between namespace creation and the store row's last update, or by a store row
   deleted by hand. The grace period keeps the sweep away from a store being created right now.
3. Ready stores whose namespace vanished (deleted outside Storeplane) become Failed with that reason.
4. Linked domains (app/domains/sweep.py): pending ones are checked again with back-off and expire;
   verified ones get the store action that serves them. DNS only: it runs while the cluster is down.
5. Drift: each Ready store's live objects are compared with its release, the differences recorded
   on the store, and drifted stores repaired when the operator allows it (app/fleet/drift_check.py).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import memory
from app.db.engine import transaction, utcnow
from app.db.events import append_event
from app.db.models import Store
from app.domains.dns import DnsVerifier
from app.domains.sweep import DomainSweep, sweep_domains
from app.errors import StoreplaneError
from app.fleet.drift_check import DriftCheck, DriftSummary
from app.jobs.liveness import provably_dead
from app.jobs.outcome import reclaim_expired
from app.lifecycle import StoreStatus, transition
from app.settings import Settings

log = logging.getLogger("storeplane.sweep")


class ManagedNamespaceLike(Protocol):
    name: str
    store_id: str
    created_at: object
    terminating: bool


class ClusterView(Protocol):
    """What the sweep needs from app.kube.Kube."""

    async def list_managed_namespaces(self) -> list: ...  # type: ignore[type-arg]
    async def namespace_exists(self, name: str) -> bool: ...
    async def delete_namespace(
        self,
        name: str,
        *,
        timeout: float,  # noqa: ASYNC109 - app.kube API: how long to wait for the namespace to go
        store_id: str | None = None,
    ) -> bool: ...


@dataclass
class SweepReport:
    reclaimed_jobs: list[int] = field(default_factory=list)
    orphans_deleted: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)  # store ids marked Failed
    domains: DomainSweep = field(default_factory=DomainSweep)
    errors: list[str] = field(default_factory=list)
    drift: DriftSummary | None = None


class Sweeper:
    def __init__(
        self,
        factory: sessionmaker[Session],
        settings: Settings,
        kube: ClusterView | None = None,
        verifier: DnsVerifier | None = None,
        *,
        drift: bool | None = None,
    ):
        """`drift`: run the drift step (default: STOREPLANE_DRIFT_DETECTION with the real cluster;
        a test's in-memory cluster view has no objects to compare unless it says so)."""
        real = kube is None
        if kube is None:
            from app.kube import get_kube  # late: unit tests of the queue never load lightkube

            kube = get_kube(settings)
        self.factory, self.settings, self.kube = factory, settings, kube
        self.verifier = verifier or DnsVerifier(settings)
        enabled = (settings.drift_detection and real) if drift is None else drift
        self.drift = DriftCheck(factory, settings, kube) if enabled else None  # type: ignore[arg-type]

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            report = await self.sweep()
            memory.release_free_memory()  # what the sweep decoded (Helm's records) is garbage now
            drifted = report.drift is not None and (report.drift.drifted or report.drift.errors)
            if (
                report.orphans_deleted
                or report.vanished
                or report.reclaimed_jobs
                or report.errors
                or report.domains.changed
                or drifted
            ):
                log.info("sweep", extra={"report": asdict(report)})
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.settings.reconcile_interval_seconds)
            except TimeoutError:
                continue

    async def sweep(self) -> SweepReport:
        report = SweepReport()
        try:
            report.reclaimed_jobs = await asyncio.to_thread(reclaim_expired, self.factory, dead=provably_dead)
        except Exception as exc:  # the database may be briefly unavailable; the next sweep retries
            log.exception("reclaiming expired leases failed")
            report.errors.append(f"reclaim: {type(exc).__name__}")
        try:
            report.domains = await sweep_domains(self.factory, self.settings, self.verifier)
        except Exception as exc:  # the database may be briefly unavailable; the next sweep retries
            log.exception("the domain sweep failed")
            report.errors.append(f"domains: {type(exc).__name__}")
        try:
            namespaces = await self.kube.list_managed_namespaces()
        except StoreplaneError as exc:
            report.errors.append(exc.message)
            return report
        await self._delete_orphans(namespaces, report)
        await self._fail_vanished({ns.name for ns in namespaces}, report)
        if self.drift is not None:
            try:
                report.drift = await self.drift.run()
            except StoreplaneError as exc:
                report.errors.append(f"drift: {exc.message}")
        return report

    async def _delete_orphans(self, namespaces: list[ManagedNamespaceLike], report: SweepReport) -> None:
        live = await asyncio.to_thread(self._live_store_ids, [ns.store_id for ns in namespaces])
        cutoff = utcnow() - timedelta(seconds=self.settings.orphan_grace_seconds)
        orphans = [
            ns
            for ns in namespaces
            # Only store namespaces (`store-<id>` labelled with that id): anything else that carries
            # the managed-by label is not ours to delete.
            if ns.store_id
            and ns.name == f"store-{ns.store_id}"
            and ns.store_id not in live
            and not ns.terminating
            and ns.created_at is not None
            and ns.created_at <= cutoff  # type: ignore[operator]
        ]

        async def delete(ns: ManagedNamespaceLike) -> None:
            try:
                await self.kube.delete_namespace(
                    ns.name, timeout=self.settings.helm_timeout, store_id=ns.store_id
                )
                report.orphans_deleted.append(ns.name)
            except StoreplaneError as exc:
                report.errors.append(f"orphan {ns.name}: {exc.message}")

        await asyncio.gather(*(delete(ns) for ns in orphans))

    def _live_store_ids(self, ids: list[str]) -> set[str]:
        with transaction(self.factory) as session:
            query = select(Store.id).where(Store.id.in_(ids), Store.status != StoreStatus.DELETED)  # type: ignore[attr-defined]
            return set(session.execute(query).scalars())

    async def _fail_vanished(self, present: set[str], report: SweepReport) -> None:
        ready = await asyncio.to_thread(self._ready_stores)
        for store_id, namespace in ready:
            if namespace in present:
                continue
            try:
                if await self.kube.namespace_exists(namespace):
                    continue  # it exists but lost its labels: not ours to judge here
            except StoreplaneError as exc:
                report.errors.append(exc.message)
                return
            if await asyncio.to_thread(self._mark_vanished, store_id, namespace):
                report.vanished.append(store_id)

    def _ready_stores(self) -> list[tuple[str, str]]:
        with transaction(self.factory) as session:
            query = select(Store.id, Store.namespace).where(Store.status == StoreStatus.READY)
            return [(row.id, row.namespace) for row in session.execute(query)]

    def _mark_vanished(self, store_id: str, namespace: str) -> bool:
        with transaction(self.factory) as session:
            store = session.get(Store, store_id, with_for_update=True)
            if store is None or store.status != StoreStatus.READY:
                return False  # something acted on it meanwhile
            reason = (
                f"namespace {namespace} was deleted outside Storeplane; "
                "upgrade the store to recreate it, or delete the store"
            )
            store.status = transition(store.status, StoreStatus.FAILED)
            store.status_reason, store.updated_at = reason, utcnow()
            append_event(session, store_id=store.id, step="reconcile", message=reason)
            return True
