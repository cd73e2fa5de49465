"""/api/v1/fleet, /api/v1/rollouts, pins and repair over HTTP, and the Fleet page (workers off, so
stores and rollouts stay where the test puts them; one controller tick is run by hand)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from app.db.engine import transaction
from app.db.models import Job, Store
from app.fleet.controller import advance
from app.fleet.target import current_target
from tests.fixtures_db import Db
from tests.lifted_limits import LIMITS_LIFTED
from tests.unit.users.platform import ADMIN_PASSWORD, Platform, csrf_of, login, running_platform


@pytest.fixture
def platform(db: Db, tmp_path) -> Iterator[Platform]:
    with running_platform(db, tmp_path, **LIMITS_LIFTED) as p:
        yield p


def stores(p: Platform, owner: dict[str, str], *names: str, chart: str | None = "0.1.0") -> list[str]:
    """Ready stores on chart `chart` (what a worker would have left)."""
    ids = []
    for name in names:
        r = p.client.post("/api/v1/stores", json={"name": name, "engine": "woocommerce"}, headers=owner)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    with transaction(p.db.factory) as session:
        session.execute(update(Job).where(Job.store_id.in_(ids)).values(status="succeeded"))  # type: ignore[attr-defined]
        session.execute(
            update(Store)
            .where(Store.id.in_(ids))  # type: ignore[attr-defined]
            .values(status="ready", helm_revision=1, chart_version=chart, values_digest="0" * 12)
        )
    return ids


def test_the_fleet_counts_stores_and_lists_those_behind_with_the_reason(platform: Platform):
    p, alice, root = platform, platform.token_for("alice"), platform.token_for("root", admin=True)
    old = stores(p, alice, "old-a", "old-b")
    [fresh] = stores(p, alice, "fresh", chart=None)
    assert p.client.get("/api/v1/fleet", headers=alice).status_code == 403
    fleet = p.client.get("/api/v1/fleet", headers=root).json()
    assert fleet["current"]["chart_version"] == current_target(p.settings).chart_version
    assert (fleet["stores"], fleet["behind_total"]) == (3, 3)
    assert fleet["by_chart_version"] == {"0.1.0": 2, "unknown": 1}
    assert fleet["counts"] == [
        {"engine": "woocommerce", "chart_version": "0.1.0", "status": "ready", "stores": 2},
        {"engine": "woocommerce", "chart_version": "unknown", "status": "ready", "stores": 1},
    ]
    reasons = {b["id"]: b["reason"] for b in fleet["behind"]}
    assert reasons[old[0]] == "runs store 0.1.0; the platform deploys store 0.2.0"
    assert reasons[fresh].startswith("what it runs is not known yet")


def test_rollouts_over_the_api_validate_refuse_a_second_one_and_move_between_states(platform: Platform):
    p, alice, root = platform, platform.token_for("alice"), platform.token_for("root", admin=True)
    ids = stores(p, alice, "r-a", "r-b", "r-c")
    bad = p.client.post(
        "/api/v1/rollouts", json={"selection": {"all": True, "engine": "medusa"}}, headers=root
    )
    assert bad.status_code == 422
    assert bad.json()["detail"] == "'selection': choose exactly one of 'all' (true), 'engine' or 'stores'."
    assert (
        p.client.post("/api/v1/rollouts", json={"selection": {"all": True}}, headers=alice).status_code == 403
    )
    r = p.client.post(
        "/api/v1/rollouts",
        json={"selection": {"stores": ["r-a", ids[1], "r-c"]}, "canary": 1, "wave_size": 2, "parallelism": 2},
        headers=root,
    )
    assert r.status_code == 201, r.text
    rollout = r.json()
    assert r.headers["location"] == f"/api/v1/rollouts/{rollout['id']}"
    assert [(w["label"], [s["store_name"] for s in w["steps"]]) for w in rollout["waves"]] == [
        ("canary", ["r-a"]),
        ("wave 1", ["r-b", "r-c"]),
    ]
    again = p.client.post("/api/v1/rollouts", json={"selection": {"all": True}}, headers=root)
    assert (again.status_code, again.json()["type"]) == (409, "urn:storeplane:problem:rollout-open")

    rid = rollout["id"]
    assert p.client.post(f"/api/v1/rollouts/{rid}/pause", headers=root).json()["status"] == "paused"
    twice = p.client.post(f"/api/v1/rollouts/{rid}/pause", headers=root)
    assert twice.status_code == 409
    assert twice.json()["detail"] == (
        f"Cannot pause rollout {rid}: it is paused; pause is possible when it is running."
    )
    assert p.client.post(f"/api/v1/rollouts/{rid}/resume", headers=root).json()["status"] == "running"

    # One controller tick starts the canary: its store refuses the owner's actions, with the reason.
    advance(p.db.factory, p.settings, rid, current_target(p.settings))
    busy = p.client.post(f"/api/v1/stores/{ids[0]}/verify", headers=alice)
    assert busy.status_code == 409
    assert busy.json()["type"] == "urn:storeplane:problem:store-in-rollout"
    assert busy.json()["detail"].startswith(
        f"Store r-a is being upgraded by rollout {rid} (the canary, upgrading)"
    )

    aborted = p.client.post(f"/api/v1/rollouts/{rid}/abort", headers=root).json()
    assert aborted["status"] == "aborted"
    assert {state: n for state, n in aborted["counts"].items() if n} == {"upgrading": 1, "skipped": 2}
    listed = p.client.get("/api/v1/rollouts", headers=root).json()
    assert [x["id"] for x in listed] == [rid] and listed[0]["waves"] is None
    actions = [e.action for e in p.audit()]
    for action in ("rollout.create", "rollout.pause", "rollout.resume", "rollout.abort", "rollout.step"):
        assert action in actions


def test_a_pinned_store_stays_out_and_a_selection_with_nothing_to_do_is_refused(platform: Platform):
    p, alice, root = platform, platform.token_for("alice"), platform.token_for("root", admin=True)
    [sid] = stores(p, alice, "pinned")
    pinned = p.client.put(f"/api/v1/fleet/pins/{sid}", json={"reason": "custom theme"}, headers=root)
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    r = p.client.post("/api/v1/rollouts", json={"selection": {"all": True}}, headers=root)
    assert r.status_code == 422
    assert r.json()["detail"] == "Nothing to roll out: of the selected stores, 1 pinned."
    assert p.client.delete(f"/api/v1/fleet/pins/{sid}", headers=root).json()["pinned"] is False
    assert p.client.put(f"/api/v1/fleet/pins/{sid}", headers=alice).status_code == 403


def test_repair_is_a_store_action_on_a_ready_store(platform: Platform):
    p, alice = platform, platform.token_for("alice")
    [sid] = stores(p, alice, "mendable")
    r = p.client.post(f"/api/v1/stores/{sid}/repair", headers=alice)
    assert (r.status_code, r.json()["status"]) == (202, "upgrading")
    with transaction(p.db.factory) as session:
        job = session.execute(select(Job).where(Job.store_id == sid, Job.kind == "repair")).scalar_one()
        assert job.args == {"revision": 1}
    again = p.client.post(f"/api/v1/stores/{sid}/repair", headers=alice)
    assert again.status_code == 409
    assert [e.action for e in p.audit()].count("store.repair") == 2


def test_the_fleet_page_shows_versions_and_starts_a_rollout(platform: Platform):
    p, alice = platform, platform.token_for("alice")
    stores(p, alice, "page-a", "page-b")
    client = p.client_from("203.0.113.21")
    assert login(client, "admin", ADMIN_PASSWORD).status_code == 303
    page = client.get("/admin/fleet")
    assert page.status_code == 200
    assert 'id="current-chart"' in page.text and "store 0.2.0" in page.text
    assert '<span id="behind-total">2</span>' in page.text
    htmx = {"HX-Request": "true", "X-CSRF-Token": csrf_of(page.text)}
    refused = client.post("/admin/fleet/rollouts", data={"scope": "stores", "stores": "nope"}, headers=htmx)
    assert "No live store has the id or name &#39;nope&#39;." in refused.text
    started = client.post(
        "/admin/fleet/rollouts",
        data={"scope": "all", "canary": "1", "wave_size": "1", "parallelism": "1", "max_failures": "0"},
        headers=htmx,
    )
    assert 'data-status="running"' in started.text and 'hx-trigger="every 2s"' in started.text
    assert started.text.count('class="step"') == 2
    user = p.client_from("203.0.113.22")
    p.token_for("bob", password="Orchard-Lantern-7-passw0rd")
    assert login(user, "bob", "Orchard-Lantern-7-passw0rd").status_code == 303
    assert user.get("/admin/fleet").status_code == 403
