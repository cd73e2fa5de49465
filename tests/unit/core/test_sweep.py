"""The periodic sweep, against a real database and an in-memory cluster view (unit tests only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import update

from app.db.engine import transaction, utcnow
from app.db.models import Job, Store
from app.errors import ClusterUnreachable
from app.jobs.queue import claim
from app.sweep import Sweeper
from tests.fixtures_db import Db
from tests.unit.core.helpers import fast_settings, jobs_of, new_store, store


@dataclass
class Ns:
    name: str
    store_id: str
    created_at: datetime | None
    terminating: bool = False


@dataclass
class FakeCluster:
    """What app.kube.Kube answers about managed namespaces, in memory."""

    namespaces: dict[str, Ns] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    down: bool = False

    def add(self, store_id: str, *, age: float) -> None:
        name = f"store-{store_id}"
        self.namespaces[name] = Ns(name, store_id, utcnow() - timedelta(seconds=age))

    async def list_managed_namespaces(self) -> list[Ns]:
        if self.down:
            raise ClusterUnreachable("list managed namespaces: connection refused")
        return list(self.namespaces.values())

    async def namespace_exists(self, name: str) -> bool:
        return name in self.namespaces

    async def delete_namespace(self, name: str, *, timeout: float, store_id: str | None = None) -> bool:  # noqa: ASYNC109
        self.deleted.append(name)
        return self.namespaces.pop(name, None) is not None


def _set_status(db: Db, store_id: str, status: str) -> None:
    with transaction(db.factory) as session:
        session.get_one(Store, store_id).status = status


async def test_an_old_namespace_without_a_live_store_is_deleted_and_a_young_one_is_spared(db: Db) -> None:
    cluster = FakeCluster()
    cluster.add("s-0123456789ab", age=600)  # no such store: left by a crash or a hand-deleted row
    cluster.add("s-ba9876543210", age=10)  # just as old as a store being created right now
    report = await Sweeper(db.factory, fast_settings(db, orphan_grace_seconds=300), kube=cluster).sweep()
    assert report.orphans_deleted == ["store-s-0123456789ab"]
    assert list(cluster.namespaces) == ["store-s-ba9876543210"]


async def test_the_namespace_of_a_deleted_store_is_an_orphan_but_a_live_stores_is_not(db: Db) -> None:
    settings = fast_settings(db, orphan_grace_seconds=0)
    gone, live = new_store(db, settings, "gone"), new_store(db, settings, "live")
    _set_status(db, gone, "deleted")
    cluster = FakeCluster()
    cluster.add(gone, age=5)
    cluster.add(live, age=5)
    report = await Sweeper(db.factory, settings, kube=cluster).sweep()
    assert report.orphans_deleted == [f"store-{gone}"]


async def test_a_terminating_namespace_is_left_to_finish(db: Db) -> None:
    cluster = FakeCluster()
    cluster.add("s-0123456789ab", age=600)
    cluster.namespaces["store-s-0123456789ab"].terminating = True
    await Sweeper(db.factory, fast_settings(db, orphan_grace_seconds=0), kube=cluster).sweep()
    assert cluster.deleted == []


async def test_a_ready_store_whose_namespace_vanished_becomes_failed_with_that_reason(db: Db) -> None:
    settings = fast_settings(db)
    sid = new_store(db, settings, "shop")
    with transaction(db.factory) as session:
        session.execute(update(Job).values(status="succeeded"))
    _set_status(db, sid, "ready")
    report = await Sweeper(db.factory, settings, kube=FakeCluster()).sweep()
    assert report.vanished == [sid]
    failed = store(db, sid)
    assert failed.status == "failed"
    assert failed.status_reason == (
        f"namespace store-{sid} was deleted outside Storeplane; "
        "upgrade the store to recreate it, or delete the store"
    )


async def test_stores_still_provisioning_are_not_judged_by_their_namespace(db: Db) -> None:
    settings = fast_settings(db)
    sid = new_store(db, settings, "shop")
    report = await Sweeper(db.factory, settings, kube=FakeCluster()).sweep()
    assert report.vanished == []
    assert store(db, sid).status == "pending"


async def test_expired_leases_are_reclaimed_even_when_the_cluster_is_unreachable(db: Db) -> None:
    settings = fast_settings(db)
    sid = new_store(db, settings, "shop")
    assert claim(db.factory, worker_id="dead", lease_seconds=30, global_limit=4) is not None
    with transaction(db.factory) as session:
        session.execute(update(Job).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    report = await Sweeper(db.factory, settings, kube=FakeCluster(down=True)).sweep()
    assert report.reclaimed_jobs == [jobs_of(db, sid)[0].id]
    assert report.errors == ["list managed namespaces: connection refused"]
    job = jobs_of(db, sid)[0]
    assert (job.status, job.lease_owner) == ("queued", None)


async def test_managed_namespaces_that_are_not_store_namespaces_are_never_deleted(db: Db) -> None:
    cluster = FakeCluster()
    old = utcnow() - timedelta(days=1)
    cluster.namespaces["storeplane-system"] = Ns("storeplane-system", "", old)  # the platform's own
    cluster.namespaces["team-shop"] = Ns("team-shop", "s-0123456789ab", old)  # a label copied by hand
    report = await Sweeper(db.factory, fast_settings(db, orphan_grace_seconds=0), kube=cluster).sweep()
    assert (report.orphans_deleted, cluster.deleted) == ([], [])
