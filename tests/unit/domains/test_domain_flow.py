"""Linked domains end to end through the API, the worker (store actions faked at their boundary) and
the sweep, with a DNS server on 127.0.0.1 — on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.db.engine import transaction, utcnow
from app.db.models import AuditEntry, Job, Store, StoreDomain, StoreEvent
from app.db.stores import request_action
from app.db.users import get_or_create_user, issue_token
from app.domains.dns import DnsVerifier
from app.jobs.worker import Worker
from app.lifecycle import Action
from app.main import create_app
from app.settings import Settings
from app.sweep import Sweeper
from tests.dns_server import Zone
from tests.fixtures_db import Db
from tests.unit.core.fakes import FakeActions, same_snapshot
from tests.unit.core.helpers import fast_settings, run_worker_until
from tests.unit.core.test_sweep import FakeCluster
from tests.unit.domains.conftest import INGRESS_HOST

DOMAIN = "shop.example.org"


@dataclass
class Platform:
    client: TestClient
    settings: Settings
    db: Db
    zone: Zone
    actions: FakeActions
    alice: dict[str, str]
    bob: dict[str, str]

    def worker(self) -> Worker:
        return Worker(self.db.factory, self.settings, actions=self.actions, make_target=same_snapshot)

    def sweeper(self) -> Sweeper:
        return Sweeper(
            self.db.factory, self.settings, kube=FakeCluster(), verifier=DnsVerifier(self.settings)
        )

    def store(self, store_id: str) -> Store:
        with transaction(self.db.factory) as session:
            return session.get_one(Store, store_id)

    def domain(self, name: str = DOMAIN, store_id: str | None = None) -> StoreDomain | None:
        with transaction(self.db.factory) as session:
            query = select(StoreDomain).where(StoreDomain.name == name)
            if store_id:
                query = query.where(StoreDomain.store_id == store_id)
            return session.execute(query).scalar_one_or_none()

    def jobs(self, store_id: str) -> list[Job]:
        with transaction(self.db.factory) as session:
            return list(
                session.execute(select(Job).where(Job.store_id == store_id).order_by(Job.id)).scalars()
            )

    def idle(self, store_id: str) -> bool:
        return all(j.status not in ("queued", "running") for j in self.jobs(store_id))

    def publish(self, name: str, token: str) -> None:
        self.zone.add(f"_storeplane.{name}", "TXT", token)
        self.zone.set(name, "CNAME", INGRESS_HOST)

    async def ready_store(self, name: str = "shop", who: str = "alice") -> str:
        headers = self.alice if who == "alice" else self.bob
        sid = self.client.post(
            "/api/v1/stores", json={"name": name, "engine": "woocommerce"}, headers=headers
        ).json()["id"]
        await run_worker_until(self.worker(), lambda: self.store(sid).status == "ready")
        return sid


def _token(db: Db, name: str) -> dict[str, str]:
    with transaction(db.factory) as session:
        return {"Authorization": f"Bearer {issue_token(session, get_or_create_user(session, name))}"}


@pytest.fixture
def platform(db: Db, dns: tuple[Zone, str]) -> Iterator[Platform]:
    zone, address = dns
    settings = fast_settings(
        db,
        public_ingress_host=INGRESS_HOST,
        dns_resolvers=address,
        dns_timeout_seconds=1.0,
        base_domain="stores.example.net",
        domain_check_base_seconds=30,
        domain_check_max_seconds=600,
    )

    async def cluster_is_up() -> None:
        return None

    app = create_app(settings, run_workers=False, cluster_ping=cluster_is_up)
    with TestClient(app) as client:
        yield Platform(client, settings, db, zone, FakeActions(), _token(db, "alice"), _token(db, "bob"))


def _url(sid: str, *rest: str) -> str:
    return "/".join([f"/api/v1/stores/{sid}/domains", *rest])


async def test_pending_then_verified_by_dns_then_active_once_the_store_action_served_it(
    platform: Platform,
) -> None:
    sid = await platform.ready_store()
    added = platform.client.post(_url(sid), json={"domain": "Shop.Example.ORG."}, headers=platform.alice)
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["domain"], body["state"], body["primary"], body["kind"]) == (
        DOMAIN,
        "pending",
        False,
        "linked",
    )
    assert added.headers["location"] == _url(sid, DOMAIN)
    token = body["records"][0]["value"]
    assert [(r["type"], r["name"], r["value"]) for r in body["records"]] == [
        ("TXT", f"_storeplane.{DOMAIN}", token),
        ("CNAME", DOMAIN, INGRESS_HOST),
    ]
    assert token.startswith("storeplane-verify-") and len(token) == len("storeplane-verify-") + 32

    platform.publish(DOMAIN, token)
    checked = platform.client.post(_url(sid, DOMAIN, "check"), headers=platform.alice)
    assert checked.status_code == 200, checked.text
    assert (checked.json()["state"], checked.json()["records"]) == ("verified", [])
    # Verifying queued the store action that serves it, in the same transaction.
    job = platform.jobs(sid)[-1]
    assert (job.kind, job.status, job.args["change"]) == ("domains", "queued", f"serve {DOMAIN}")
    assert platform.store(sid).status == "upgrading"

    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    served = platform.actions.calls[-1]
    assert served == ("shop", "upgrade")
    assert platform.domain().state == "active"
    assert platform.store(sid).status == "ready"
    listed = platform.client.get(_url(sid), headers=platform.alice).json()
    assert [(d["domain"], d["kind"], d["state"], d["primary"]) for d in listed] == [
        ("shop.stores.example.net", "default", "active", True),
        (DOMAIN, "linked", "active", False),
    ]
    with transaction(platform.db.factory) as session:
        log = [
            e.message for e in session.execute(select(StoreEvent).where(StoreEvent.store_id == sid)).scalars()
        ]
        audited = [(a.action, a.outcome) for a in session.execute(select(AuditEntry)).scalars()]
    assert f"{DOMAIN} added: waiting for its DNS records" in log
    assert f"{DOMAIN} verified by DNS" in log and f"{DOMAIN} is served" in log
    assert ("domain.add", "success") in audited and ("domain.check", "success") in audited


async def test_the_action_serves_exactly_the_proven_domains_and_the_requested_primary(
    platform: Platform,
) -> None:
    sid = await platform.ready_store()
    for name in ("www.example.org", "shop.example.org", "late.example.org"):
        token = platform.client.post(_url(sid), json={"domain": name}, headers=platform.alice).json()[
            "records"
        ][0]["value"]
        if name != "late.example.org":
            platform.publish(name, token)
            platform.client.post(_url(sid, name, "check"), headers=platform.alice)
    targets: list = []
    original = platform.actions.upgrade

    async def capture(t, **kw):  # type: ignore[no-untyped-def]
        targets.append(t)
        return await original(t, **kw)

    platform.actions.upgrade = capture  # type: ignore[method-assign]
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    assert targets[-1].extra_hosts == ("shop.example.org", "www.example.org")  # the pending one is not
    assert targets[-1].primary_host == ""

    made = platform.client.post(_url(sid, "www.example.org", "primary"), headers=platform.alice)
    assert made.status_code == 202 and made.json()["primary"] is False  # not before it is applied
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    assert targets[-1].primary_host == "www.example.org"
    assert platform.store(sid).primary_host == "www.example.org"
    store = platform.client.get(f"/api/v1/stores/{sid}", headers=platform.alice).json()
    assert store["urls"]["storefront"] == "http://www.example.org/"
    listed = {
        d["domain"]: d["primary"] for d in platform.client.get(_url(sid), headers=platform.alice).json()
    }
    assert listed == {
        "shop.stores.example.net": False,
        "shop.example.org": False,
        "www.example.org": True,
        "late.example.org": False,
    }

    # A rollback to a revision that served another primary: the store follows what it deployed.
    with transaction(platform.db.factory) as session:
        store_row = session.get_one(Store, sid)
        served = {"hosts": ["shop.example.org", "www.example.org"], "primary": ""}
        request_action(
            session,
            store_row,
            Action.ROLLBACK,
            settings=platform.settings,
            args={"revision": 2, "domains": served},
        )
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    assert platform.store(sid).primary_host is None
    assert platform.client.get(f"/api/v1/stores/{sid}", headers=platform.alice).json()["urls"][
        "storefront"
    ] == ("http://shop.stores.example.net/")


async def test_a_rollback_to_before_a_domain_leaves_it_verified_and_the_sweep_does_not_undo_it(
    platform: Platform,
) -> None:
    sid = await platform.ready_store()
    token = platform.client.post(_url(sid), json={"domain": DOMAIN}, headers=platform.alice).json()[
        "records"
    ][0]["value"]
    platform.publish(DOMAIN, token)
    platform.client.post(_url(sid, DOMAIN, "check"), headers=platform.alice)
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    assert platform.domain().state == "active"
    with transaction(platform.db.factory) as session:
        request_action(
            session, session.get_one(Store, sid), Action.ROLLBACK, settings=platform.settings,
            args={"revision": 1, "domains": {"hosts": [], "primary": ""}},
        )  # fmt: skip
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    row = platform.domain()
    assert (row.state, row.held) == ("verified", True)
    assert row.reason.startswith("not served since the rollback to revision 1")
    report = await platform.sweeper().sweep()
    assert report.domains.served == [] and platform.idle(sid)
    # The next upgrade serves every verified domain again.
    with transaction(platform.db.factory) as session:
        request_action(session, session.get_one(Store, sid), Action.UPGRADE, settings=platform.settings)
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    assert (platform.domain().state, platform.domain().held) == ("active", False)


async def test_a_wrong_token_stays_pending_with_the_reason_and_is_checked_again_later(
    platform: Platform,
) -> None:
    sid = await platform.ready_store()
    platform.client.post(_url(sid), json={"domain": DOMAIN}, headers=platform.alice)
    platform.publish(DOMAIN, "storeplane-verify-someone-elses-token")
    checked = platform.client.post(_url(sid, DOMAIN, "check"), headers=platform.alice).json()
    assert checked["state"] == "pending"
    assert checked["reason"] == (
        f"The TXT record at _storeplane.{DOMAIN} holds 'storeplane-verify-someone-elses-token', "
        "not this domain's token."
    )
    assert checked["records"]  # still shown: what to create
    first = platform.domain()
    assert first.checks == 1 and first.next_check_at is not None
    assert 29 <= (first.next_check_at - first.checked_at).total_seconds() <= 31  # base back-off

    # The sweep checks it again only once it is due, and backs off further after each failure.
    assert (await platform.sweeper().sweep()).domains.checked == []
    with transaction(platform.db.factory) as session:
        session.execute(update(StoreDomain).values(next_check_at=utcnow() - timedelta(seconds=1)))
    report = await platform.sweeper().sweep()
    assert report.domains.checked == [DOMAIN] and report.domains.verified == []
    second = platform.domain()
    assert (second.state, second.checks) == ("pending", 2)
    assert 59 <= (second.next_check_at - second.checked_at).total_seconds() <= 61  # doubled
    assert platform.jobs(sid)[-1].kind == "provision"  # nothing was queued for the store


async def test_the_sweep_verifies_a_due_domain_and_queues_the_store_action(platform: Platform) -> None:
    sid = await platform.ready_store()
    token = platform.client.post(_url(sid), json={"domain": DOMAIN}, headers=platform.alice).json()[
        "records"
    ][0]["value"]
    platform.publish(DOMAIN, token)
    with transaction(platform.db.factory) as session:
        session.execute(update(StoreDomain).values(next_check_at=utcnow()))
    report = await platform.sweeper().sweep()
    assert report.domains.verified == [DOMAIN]
    assert [(j.kind, j.status) for j in platform.jobs(sid)][-1] == ("domains", "queued")


async def test_a_domain_not_proven_in_time_fails_with_the_last_reason(platform: Platform) -> None:
    sid = await platform.ready_store()
    platform.client.post(_url(sid), json={"domain": DOMAIN}, headers=platform.alice)
    with transaction(platform.db.factory) as session:
        session.execute(
            update(StoreDomain).values(expires_at=utcnow() - timedelta(seconds=1), next_check_at=utcnow())
        )
    report = await platform.sweeper().sweep()
    assert report.domains.expired == [DOMAIN]
    row = platform.domain()
    assert row.state == "failed" and row.next_check_at is None
    assert row.reason.startswith("Not proven within 72 hours. Last check: Waiting for the DNS records below.")
    # Fixing DNS afterwards and pressing "Check now" still verifies it.
    platform.publish(DOMAIN, row.token)
    assert (
        platform.client.post(_url(sid, DOMAIN, "check"), headers=platform.alice).json()["state"] == "verified"
    )


async def test_two_users_racing_for_one_domain_exactly_one_wins(platform: Platform) -> None:
    alice_store = await platform.ready_store("alpha", "alice")
    bob_store = await platform.ready_store("beta", "bob")
    tokens = {}
    for sid, who in ((alice_store, platform.alice), (bob_store, platform.bob)):
        added = platform.client.post(_url(sid), json={"domain": DOMAIN}, headers=who)
        assert added.status_code == 201  # a pending claim holds nothing: both may try
        tokens[sid] = added.json()["records"][0]["value"]
    platform.publish(DOMAIN, tokens[alice_store])
    platform.publish(DOMAIN, tokens[bob_store])  # the domain's DNS holds both tokens
    barrier, answers = threading.Barrier(2), {}

    def check(sid: str, who: dict[str, str]) -> None:
        barrier.wait()
        answers[sid] = platform.client.post(_url(sid, DOMAIN, "check"), headers=who).json()

    threads = [
        threading.Thread(target=check, args=a)
        for a in ((alice_store, platform.alice), (bob_store, platform.bob))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    states = sorted(a["state"] for a in answers.values())
    assert states == ["failed", "verified"]
    loser = next(a for a in answers.values() if a["state"] == "failed")
    assert loser["reason"].startswith(f"{DOMAIN} was proven by another store on this platform first")
    with transaction(platform.db.factory) as session:
        rows = session.execute(select(StoreDomain.state).where(StoreDomain.name == DOMAIN)).scalars().all()
    assert sorted(rows) == ["failed", "verified"]
    # Once proven, adding it to a third store is refused at once, without saying whose it is.
    gamma = await platform.ready_store("gamma", "alice")
    taken = platform.client.post(_url(gamma), json={"domain": DOMAIN}, headers=platform.alice)
    assert taken.status_code == 409 and taken.json()["type"] == "urn:storeplane:problem:domain-taken"


async def test_removing_a_served_domain_holds_it_until_the_store_stops_serving_it(platform: Platform) -> None:
    sid, other = await platform.ready_store(), await platform.ready_store("other", "bob")
    token = platform.client.post(_url(sid), json={"domain": DOMAIN}, headers=platform.alice).json()[
        "records"
    ][0]["value"]
    platform.publish(DOMAIN, token)
    platform.client.post(_url(sid, DOMAIN, "check"), headers=platform.alice)
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    removed = platform.client.delete(_url(sid, DOMAIN), headers=platform.alice)
    assert removed.status_code == 202 and removed.json()["state"] == "removing"
    # Held while this store's Ingress still serves it: no other store can link it yet.
    held = platform.client.post(_url(other), json={"domain": DOMAIN}, headers=platform.bob)
    assert (held.status_code, held.json()["type"]) == (409, "urn:storeplane:problem:domain-taken")
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    assert platform.domain(store_id=sid) is None  # freed once the store stopped serving it
    added = platform.client.post(_url(other), json={"domain": DOMAIN}, headers=platform.bob).json()
    platform.publish(DOMAIN, added["records"][0]["value"])
    assert (
        platform.client.post(_url(other, DOMAIN, "check"), headers=platform.bob).json()["state"] == "verified"
    )


async def test_removing_a_pending_domain_frees_it_at_once_and_deleting_a_store_frees_all(
    platform: Platform,
) -> None:
    sid = await platform.ready_store()
    platform.client.post(_url(sid), json={"domain": "pending.example.org"}, headers=platform.alice)
    assert platform.client.delete(_url(sid, "pending.example.org"), headers=platform.alice).status_code == 204
    assert platform.domain("pending.example.org") is None
    token = platform.client.post(_url(sid), json={"domain": DOMAIN}, headers=platform.alice).json()[
        "records"
    ][0]["value"]
    platform.publish(DOMAIN, token)
    platform.client.post(_url(sid, DOMAIN, "check"), headers=platform.alice)
    await run_worker_until(platform.worker(), lambda: platform.idle(sid))
    assert platform.client.delete(f"/api/v1/stores/{sid}", headers=platform.alice).status_code == 202
    await run_worker_until(platform.worker(), lambda: platform.store(sid).status == "deleted")
    assert platform.domain() is None


async def test_store_limit_refusals_and_unknown_domains_are_clear_4xx(platform: Platform) -> None:
    sid = await platform.ready_store()
    limited = platform.settings.max_domains_per_store
    for i in range(limited):
        assert (
            platform.client.post(
                _url(sid), json={"domain": f"d{i}.example.org"}, headers=platform.alice
            ).status_code
            == 201
        )
    over = platform.client.post(_url(sid), json={"domain": "one-more.example.org"}, headers=platform.alice)
    assert over.status_code == 409 and over.json()["detail"] == (
        f"A store may have at most {limited} linked domains; remove one before adding one-more.example.org."
    )
    again = platform.client.post(_url(sid), json={"domain": "D0.example.org"}, headers=platform.alice)
    assert (again.status_code, again.json()["type"]) == (409, "urn:storeplane:problem:domain-exists")
    bad = platform.client.post(_url(sid), json={"domain": "*.example.org"}, headers=platform.alice)
    assert (bad.status_code, bad.json()["type"]) == (422, "urn:storeplane:problem:domain-refused")
    own = platform.client.post(_url(sid), json={"domain": "x.stores.example.net"}, headers=platform.alice)
    assert own.status_code == 422 and "under the platform's own domain" in own.json()["detail"]
    typed = platform.client.post(_url(sid), json={"domain": 7}, headers=platform.alice)
    assert typed.status_code == 422
    missing = platform.client.post(_url(sid, "nope.example.org", "check"), headers=platform.alice)
    assert missing.status_code == 404
    pending = platform.client.post(_url(sid, "d0.example.org", "primary"), headers=platform.alice)
    assert (
        pending.status_code == 409
        and "only a verified domain can become the primary" in pending.json()["detail"]
    )
    # Another user's store is absent, as everywhere in the API.
    assert platform.client.get(_url(sid), headers=platform.bob).status_code == 404
    assert (
        platform.client.post(_url(sid), json={"domain": "b.example.org"}, headers=platform.bob).status_code
        == 404
    )


async def test_without_a_public_ingress_address_domains_are_not_offered(db: Db) -> None:
    async def up() -> None:
        return None

    with TestClient(create_app(fast_settings(db), run_workers=False, cluster_ping=up)) as client:
        headers = _token(db, "alice")
        sid = client.post(
            "/api/v1/stores", json={"name": "shop", "engine": "woocommerce"}, headers=headers
        ).json()["id"]
        refused = client.post(_url(sid), json={"domain": DOMAIN}, headers=headers)
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:storeplane:problem:domains-not-enabled"
    assert "STOREPLANE_PUBLIC_INGRESS_HOST" in refused.json()["detail"]
