"""The sweep's drift step against a real database and an in-memory cluster that answers like
app.kube.Kube (Helm's release records as Secrets, live objects as JSON): what it records, when it
writes an event, which stores it leaves alone, what it repairs by itself and how often."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from sqlalchemy import select, update

from app.db.engine import read_transaction, transaction
from app.db.models import Job, Store
from app.fleet.drift_check import DriftCheck
from app.helm import storage
from app.kube import Inventory, SecretRecord
from app.sweep import Sweeper
from tests.fixtures_db import Db
from tests.unit.core.helpers import fast_settings, jobs_of, new_store, store

POLICY = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
          "metadata": {"name": "shop-deny", "resourceVersion": "10"},
          "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}  # fmt: skip
QUOTA = {"apiVersion": "v1", "kind": "ResourceQuota",
         "metadata": {"name": "shop-quota", "resourceVersion": "11"},
         "spec": {"hard": {"pods": "8"}}}  # fmt: skip


def record(revision: int) -> dict[str, Any]:
    return {
        "version": revision,
        "info": {"status": "deployed"},
        "chart": {
            "metadata": {"name": "store", "version": "0.2.0"},
            "values": {"woocommerce": {"version": "11.0.1"}},
        },
        "config": {"engine": "woocommerce", "host": "shop.localhost"},
        "manifest": "---\n" + "\n---\n".join(yaml.safe_dump(d) for d in (POLICY, QUOTA)),
    }


@dataclass
class FakeCluster:
    """Helm's records and the live objects of store namespaces, as app.kube answers them."""

    live: dict[str, dict[str, dict[str, dict[str, Any]]]] = field(default_factory=dict)
    reads: int = 0
    lists: list[dict[str, bool]] = field(default_factory=list)
    per_namespace: list[bool] = field(default_factory=list)  # how each list was asked for
    # The sweep's own cluster view (no namespace is orphaned or missing here).
    names: list[str] = field(default_factory=list)

    def install(self, store_id: str) -> None:
        ns = f"store-{store_id}"
        self.live[ns] = {
            "NetworkPolicy": {"shop-deny": dict(POLICY)},
            "ResourceQuota": {"shop-quota": dict(QUOTA)},
        }

    async def read_secret(self, namespace: str, name: str) -> SecretRecord | None:
        self.reads += 1
        revision = int(name.rsplit(".v", 1)[1])
        data = storage.encode_release(record(revision))
        return SecretRecord(name, namespace, "helm.sh/release.v1", {}, {"release": data}, "1")

    async def inventory(
        self,
        namespaces: list[str],
        kinds: dict[str, bool],
        *,
        concurrency: int = 8,
        per_namespace: bool = False,
        watched: bool = False,
    ) -> Inventory:
        """Like app.kube: the kinds asked for; metadata only (with resourceVersion) where asked."""
        self.lists.append(dict(kinds))
        self.per_namespace.append(per_namespace)
        found = {
            ns: {
                kind: {
                    name: {"metadata": obj["metadata"]} if kinds[kind] else obj for name, obj in named.items()
                }
                for kind, named in self.live.get(ns, {}).items()
                if kind in kinds
            }
            for ns in namespaces
        }
        return Inventory(objects=found, requests=len(kinds))

    async def list_managed_namespaces(self) -> list[Any]:
        return []

    async def namespace_exists(self, name: str) -> bool:
        return True

    async def delete_namespace(self, name: str, *, timeout: float, store_id: str | None = None) -> bool:  # noqa: ASYNC109
        return False


def ready_store(db: Db, name: str = "shop") -> str:
    settings = fast_settings(db)
    sid = new_store(db, settings, name)
    with transaction(db.factory) as session:
        session.execute(update(Job).where(Job.store_id == sid).values(status="succeeded"))
        row = session.get_one(Store, sid)
        row.status, row.helm_revision = "ready", 1
    return sid


async def test_drift_is_recorded_with_an_event_once_and_what_a_store_runs_is_learnt(db: Db):
    cluster = FakeCluster()
    sid = ready_store(db)
    cluster.install(sid)
    check = DriftCheck(db.factory, fast_settings(db, reconcile_interval_seconds=0.001), cluster)
    summary = await check.run()
    assert (summary.checked, summary.drifted) == (1, [])
    row = store(db, sid)
    assert (row.drifted, row.drift, row.chart_version, row.app_version) == (
        False, {"revision": 1, "differences": [], "extras": []}, "0.2.0", "11.0.1"
    )  # fmt: skip

    del cluster.live[f"store-{sid}"]["NetworkPolicy"]
    await check.run()
    await check.run()
    row = store(db, sid)
    assert row.drifted and row.drift["differences"] == ["networkpolicy/shop-deny is missing"]  # type: ignore[index]
    # The release is read when the store's objects changed (the first sweep, the deleted policy),
    # not on every sweep: the third found nothing changed.
    assert cluster.reads == 2
    with read_transaction(db.factory) as session:
        from app.db.models import StoreEvent

        events = session.execute(select(StoreEvent.message).where(StoreEvent.step == "drift")).scalars().all()
    assert events == ["drifted from revision 1: networkpolicy/shop-deny is missing"]  # once, not per sweep


async def test_a_store_whose_objects_did_not_change_is_not_read_or_compared_again(db: Db):
    cluster = FakeCluster()
    sid = ready_store(db)
    cluster.install(sid)
    check = DriftCheck(db.factory, fast_settings(db, reconcile_interval_seconds=0.001), cluster)
    first = await check.run()
    assert (first.checked, first.compared, len(cluster.lists)) == (1, 1, 2)  # metadata, then full objects
    # Metadata, but the quota in full: its status churns and it has no generation.
    assert cluster.lists[0] == {kind: kind != "ResourceQuota" for kind in cluster.lists[0]}
    again = await check.run()
    assert (again.checked, again.compared, len(cluster.lists)) == (1, 0, 3)  # metadata only
    assert cluster.reads == 1  # nor is its release read again: no parsed release is kept in memory
    cluster.live[f"store-{sid}"]["ResourceQuota"]["shop-quota"] = {
        "metadata": {"name": "shop-quota", "resourceVersion": "12"},
        "spec": {"hard": {"pods": "50"}},
    }
    changed = await check.run()
    assert (changed.compared, changed.drifted) == (1, [sid])
    assert store(db, sid).drift["differences"] == [  # type: ignore[index]
        "resourcequota/shop-quota: spec.hard.pods is 50; the release says 8"
    ]


async def test_at_most_a_batch_of_changed_stores_is_compared_per_sweep_the_rest_next(db: Db):
    cluster = FakeCluster()
    ids = [ready_store(db, f"shop{i}") for i in range(5)]
    for sid in ids:
        cluster.install(sid)
    settings = fast_settings(db, reconcile_interval_seconds=0.001, drift_batch=2)
    check = DriftCheck(db.factory, settings, cluster)
    sweeps = [await check.run() for _ in range(3)]
    assert [(s.compared, s.deferred) for s in sweeps] == [(2, 3), (2, 1), (1, 0)]
    # A store is recorded once compared; all five are in the end, each release read once.
    assert [s.checked for s in sweeps] == [2, 4, 5]
    assert cluster.reads == 5 and all(store(db, sid).drifted is False for sid in ids)
    # The batch's full objects are listed in its namespaces only, never cluster-wide.
    asked = zip(cluster.lists, cluster.per_namespace, strict=True)
    full = [per_namespace for kinds, per_namespace in asked if True not in kinds.values()]
    assert full == [True] * 3


async def test_status_writes_and_what_a_cron_run_makes_do_not_make_a_store_compared_again(db: Db):
    cluster = FakeCluster()
    sid = ready_store(db)
    cluster.install(sid)
    live = cluster.live[f"store-{sid}"]
    live["CronJob"] = {"wp-cron": {"metadata": {"name": "wp-cron", "generation": 1, "resourceVersion": "20"}}}
    check = DriftCheck(db.factory, fast_settings(db, reconcile_interval_seconds=0.001), cluster)
    assert (await check.run()).compared == 1
    # A cron run: a Job owned by the CronJob, the CronJob's status, the quota's usage.
    owner = [{"kind": "CronJob", "name": "wp-cron"}]
    job = {"name": "wp-cron-1", "resourceVersion": "30", "ownerReferences": owner}
    live["Job"] = {"wp-cron-1": {"metadata": job}}
    live["CronJob"]["wp-cron"]["metadata"]["resourceVersion"] = "31"
    used = {"metadata": {**QUOTA["metadata"], "resourceVersion": "32"}, "status": {"used": {"pods": "3"}}}
    live["ResourceQuota"]["shop-quota"] = {**QUOTA, **used}
    assert (await check.run()).compared == 0
    # A spec change is one: the CronJob's generation, the quota's spec.
    live["CronJob"]["wp-cron"]["metadata"]["generation"] = 2
    assert (await check.run()).compared == 1
    live["ResourceQuota"]["shop-quota"] = {**QUOTA, "spec": {"hard": {"pods": "80"}}}
    changed = await check.run()
    assert changed.compared == 1 and changed.drifted == [sid]


async def test_stores_with_a_job_in_flight_or_not_ready_are_left_alone(db: Db):
    cluster = FakeCluster()
    busy, failed = ready_store(db, "busy"), ready_store(db, "broken")
    with transaction(db.factory) as session:
        session.add(Job(store_id=busy, kind="verify", status="queued", max_attempts=3))
        session.get_one(Store, failed).status = "failed"
    summary = await DriftCheck(db.factory, fast_settings(db), cluster).run()
    assert summary.checked == 0 and cluster.reads == 0


async def test_automatic_repair_queues_one_repair_per_backoff(db: Db):
    cluster = FakeCluster()
    sid = ready_store(db)
    cluster.install(sid)
    cluster.live[f"store-{sid}"]["ResourceQuota"]["shop-quota"] = {**QUOTA, "spec": {"hard": {"pods": "50"}}}
    settings = fast_settings(db, drift_auto_repair=True, reconcile_interval_seconds=0.001)
    check = DriftCheck(db.factory, settings, cluster)
    summary = await check.run()
    assert summary.repairs == [sid]
    repair = jobs_of(db, sid)[-1]
    assert (repair.kind, repair.args, store(db, sid).status) == ("repair", {"revision": 1}, "upgrading")
    with transaction(db.factory) as session:  # the repair ran, but could not fix it
        session.execute(update(Job).where(Job.id == repair.id).values(status="succeeded"))
        session.get_one(Store, sid).status = "ready"
    assert (await check.run()).repairs == []  # not again before the backoff
    assert [j.kind for j in jobs_of(db, sid)].count("repair") == 1


async def test_the_sweep_runs_the_drift_step_when_asked(db: Db):
    cluster = FakeCluster()
    sid = ready_store(db)
    cluster.install(sid)
    report = await Sweeper(db.factory, fast_settings(db), kube=cluster, drift=True).sweep()  # type: ignore[arg-type]
    assert report.drift is not None and report.drift.checked == 1
    assert store(db, sid).drifted is False


async def test_a_verdict_already_written_only_moves_the_check_time_until_another_writer_touches_it(db: Db):
    cluster = FakeCluster()
    sid = ready_store(db)
    cluster.install(sid)
    check = DriftCheck(db.factory, fast_settings(db, reconcile_interval_seconds=0.001), cluster)
    await check.run()
    first = store(db, sid).drift_checked_at
    marker = {"revision": 1, "differences": [], "extras": [], "marker": True}
    with transaction(db.factory) as session:  # tells a rewrite of the verdict from a moved check time
        session.get_one(Store, sid).drift = marker
    await check.run()
    row = store(db, sid)
    assert row.drift == marker and row.drift_checked_at is not None and first is not None
    assert row.drift_checked_at > first
    verdict = {"revision": 1, "differences": [], "extras": []}
    with transaction(db.factory) as session:  # what jobs/outcome.py does after an action
        reset = session.get_one(Store, sid)
        reset.drifted, reset.drift, reset.drift_checked_at = None, None, None
    await check.run()
    row = store(db, sid)
    assert (row.drifted, row.drift) == (False, verdict)
    with transaction(db.factory) as session:  # another worker's sweep wrote it (its own time)
        other = session.get_one(Store, sid)
        other.drift, other.drift_checked_at = marker, first
    await check.run()
    assert store(db, sid).drift == verdict
