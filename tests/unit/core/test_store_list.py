"""GET /api/v1/stores a page at a time (SQLite and PostgreSQL): cursors that never skip or repeat a
store while others are created and deleted, filters with their total, visibility re-applied on every
page whatever the cursor says, and a sentence for every bad parameter."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.api import cursors
from app.db.engine import transaction
from app.db.models import Store
from app.db.users import get_or_create_user, issue_token
from app.main import create_app
from tests.fixtures_db import Db
from tests.unit.core.helpers import fast_settings

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


async def _cluster_is_up() -> None:
    return None


class Lister:
    def __init__(self, client: TestClient, db: Db) -> None:
        self.client, self.db = client, db
        self.headers: dict[str, dict[str, str]] = {}

    def as_(self, name: str, *, admin: bool = False) -> dict[str, str]:
        if name not in self.headers:
            with transaction(self.db.factory) as session:
                token = issue_token(session, get_or_create_user(session, name, is_admin=admin))
            self.headers[name] = {"Authorization": f"Bearer {token}"}
        return self.headers[name]

    def get(self, who: str, **params: Any):
        return self.client.get("/api/v1/stores", params=params, headers=self.as_(who, admin=who == "root"))

    def page(self, who: str, **params: Any) -> dict[str, Any]:
        r = self.get(who, **params)
        assert r.status_code == 200, r.text
        return r.json()

    def walk(self, who: str, **params: Any) -> list[str]:
        """Every id, following next_cursor from the first page."""
        ids: list[str] = []
        body = self.page(who, **params)
        while True:
            ids += [s["id"] for s in body["items"]]
            if body["next_cursor"] is None:
                return ids
            body = self.page(who, **params, cursor=body["next_cursor"])

    def seed(
        self, owner: str, count: int, *, start: int = 0, at: datetime | None = None, **fields: Any
    ) -> list[str]:
        """`count` stores of `owner` written straight into the table, one second apart and newest
        first from `at` (or all at `at` when fields say same_time=True)."""
        same_time = fields.pop("same_time", False)
        self.as_(owner, admin=owner == "root")
        ids = []
        with transaction(self.db.factory) as session:
            user = get_or_create_user(session, owner)
            for i in range(start, start + count):
                sid = f"s-{owner[:2]}{i:010d}"
                created = (at or T0) - (timedelta(0) if same_time else timedelta(seconds=i))
                session.add(
                    Store(
                        id=sid,
                        owner_id=user.id,
                        name=f"{fields.get('prefix', owner)}-{i}",
                        engine=fields.get("engine", "woocommerce"),
                        status=fields.get("status", "ready"),
                        namespace=f"store-{sid}",
                        host=f"{owner}-{i}.localhost",
                        created_at=created,
                        updated_at=created,
                    )
                )
                ids.append(sid)
        return ids


@pytest.fixture
def lister(db: Db) -> Iterator[Lister]:
    app = create_app(fast_settings(db), run_workers=False, cluster_ping=_cluster_is_up)
    with TestClient(app) as client:
        yield Lister(client, db)


def test_a_page_has_its_stores_the_total_and_cursors_with_a_default_and_a_maximum_size(lister: Lister):
    ids = lister.seed("alice", 205)
    first = lister.page("alice")
    assert (len(first["items"]), first["total"], first["limit"], first["prev_cursor"]) == (50, 205, 50, None)
    assert [s["id"] for s in first["items"]] == ids[:50]  # newest first
    assert first["items"][0] | {"urls": "-"} == {
        "id": ids[0],
        "name": "alice-0",
        "engine": "woocommerce",
        "status": "ready",
        "status_reason": None,
        "namespace": f"store-{ids[0]}",
        "urls": "-",
        "created_at": "2026-12-01T12:00:00Z",
        "ready_at": None,
        "helm_revision": None,
        "chart_version": None,
        "app_version": None,
        "pinned": False,
        "drift": {
            "state": "unchecked",
            "revision": None,
            "differences": [],
            "extras": [],
            "checked_at": None,
        },
    }
    biggest = lister.page("alice", limit=200)
    assert len(biggest["items"]) == 200 and biggest["next_cursor"] is not None
    last = lister.page("alice", limit=200, cursor=biggest["next_cursor"])
    assert [s["id"] for s in last["items"]] == ids[200:] and last["next_cursor"] is None
    assert lister.walk("alice", limit=7) == ids


def test_paging_never_skips_or_repeats_a_store_while_stores_are_created_and_deleted(lister: Lister):
    ids = lister.seed("alice", 30)
    seen: list[str] = []
    body = lister.page("alice", limit=4)
    created = 0
    while True:
        seen += [s["id"] for s in body["items"]]
        if body["next_cursor"] is None:
            break
        # Between two pages: a newer store arrives, and a store not seen yet plus one already seen go.
        created += 1
        lister.seed("alice", 1, start=100 + created, at=T0 + timedelta(minutes=created))
        with transaction(lister.db.factory) as session:
            unseen = [i for i in ids if i not in seen]
            gone = [unseen[-1], seen[0]] if len(unseen) > 1 else [seen[0]]
            session.execute(update(Store).where(Store.id.in_(gone)).values(status="deleted"))  # type: ignore[attr-defined]
            ids = [i for i in ids if i not in gone]
        body = lister.page("alice", limit=4, cursor=body["next_cursor"])
    assert len(seen) == len(set(seen)), "a store was listed twice"
    survivors = set(ids) - set(seen)
    assert not survivors, f"stores present on every page were skipped: {sorted(survivors)}"


def test_prev_cursor_goes_back_one_page_and_back_to_the_start_is_a_full_first_page(lister: Lister):
    ids = lister.seed("alice", 10)
    one = lister.page("alice", limit=4)
    two = lister.page("alice", limit=4, cursor=one["next_cursor"])
    three = lister.page("alice", limit=4, cursor=two["next_cursor"])
    assert [s["id"] for s in three["items"]] == ids[8:] and three["next_cursor"] is None
    back = lister.page("alice", limit=4, cursor=three["prev_cursor"])
    assert [s["id"] for s in back["items"]] == ids[4:8]
    assert back["prev_cursor"] is not None and back["next_cursor"] is not None
    # Two of the first page are deleted: going back still shows a whole first page, without a way back.
    with transaction(lister.db.factory) as session:
        session.execute(update(Store).where(Store.id.in_(ids[1:3])).values(status="deleted"))  # type: ignore[attr-defined]
    start = lister.page("alice", limit=4, cursor=back["prev_cursor"])
    assert [s["id"] for s in start["items"]] == [ids[0], ids[3], ids[4], ids[5]]
    assert start["prev_cursor"] is None


def test_stores_created_in_the_same_microsecond_page_by_id(lister: Lister):
    ids = lister.seed("alice", 9, same_time=True)
    assert lister.walk("alice", limit=2) == sorted(ids, reverse=True)


def test_filters_narrow_the_list_and_its_total(lister: Lister):
    lister.seed("alice", 3, prefix="shop")
    lister.seed("alice", 2, start=3, prefix="cafe", engine="medusa")
    lister.seed("alice", 2, start=5, prefix="shop", status="failed")
    lister.seed("alice", 1, start=7, prefix="shop", status="deleted")
    lister.seed("bob", 2, start=10, prefix="shop")

    def names(**params: Any) -> tuple[list[str], int]:
        body = lister.page("alice", **params)
        return sorted(s["name"] for s in body["items"]), body["total"]

    assert names(engine="medusa") == (["cafe-3", "cafe-4"], 2)
    assert names(status="failed") == (["shop-5", "shop-6"], 2)
    assert names(status=["failed", "ready"], name_prefix="cafe") == (["cafe-3", "cafe-4"], 2)
    assert names(name_prefix="shop")[1] == 5  # bob's shops are not alice's to see
    assert names()[1] == 7  # the Deleted tombstone is left out ...
    assert names(include_deleted="true")[1] == 8  # ... unless asked for
    assert names(status="deleted") == (["shop-7"], 1)
    admin = lister.page("root", name_prefix="shop", owner="bob")
    assert (sorted(s["name"] for s in admin["items"]), admin["total"]) == (["shop-10", "shop-11"], 2)
    assert lister.page("root", owner="nobody")["total"] == 0
    assert lister.page("root")["total"] == 9


def test_only_an_administrator_lists_another_users_stores(lister: Lister):
    lister.seed("alice", 1)
    lister.seed("bob", 1)
    r = lister.get("alice", owner="bob")
    assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == (
        "Only an administrator can list another user's stores; leave out owner to list yours."
    )
    assert lister.page("alice", owner="alice")["total"] == 1


def test_a_forged_cursor_moves_only_within_what_the_caller_may_see(lister: Lister):
    alice = lister.seed("alice", 3)
    bob = lister.seed("bob", 3, at=T0 + timedelta(hours=1))
    with transaction(lister.db.factory) as session:
        bobs = session.get(Store, bob[0])
        assert bobs is not None
        position = (bobs.created_at + timedelta(seconds=1), bobs.id)
    for direction in cursors.Direction:
        forged = cursors.encode("stores", direction, position)
        body = lister.page("alice", cursor=forged)
        assert {s["id"] for s in body["items"]} <= set(alice)
        assert body["total"] == 3
    everything_after = cursors.encode("stores", cursors.Direction.AFTER, (T0 + timedelta(days=1), "s-"))
    assert [s["id"] for s in lister.page("alice", cursor=everything_after)["items"]] == alice


def _raw_cursor(body: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # validation: one database is enough
@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"limit": 0}, "'limit': input should be greater than or equal to 1."),
        ({"limit": 201}, "'limit': input should be less than or equal to 200."),
        (
            {"limit": "many"},
            "'limit': input should be a valid integer, unable to parse string as an integer.",
        ),
        (
            {"status": "sleeping"},
            "'status.0': input should be 'pending', 'provisioning', 'ready', 'failed', "
            "'upgrading', 'deleting' or 'deleted'.",
        ),
        ({"engine": "magento"}, "'engine': unknown engine 'magento'; choose one of: woocommerce, medusa."),
        (
            {"name_prefix": "Shop_"},
            "'name_prefix': a name prefix is 1 to 30 lowercase letters, digits or '-', as store names are.",
        ),
        ({"stauts": "ready"}, "'stauts' is not a field this endpoint accepts."),
        (
            {"cursor": "not-a-cursor"},
            "'cursor': the cursor is not valid (not a cursor this API writes); use a "
            "next_cursor or prev_cursor from a response of this list, or leave cursor out to start from the "
            "first page.",
        ),
        ({"cursor": _raw_cursor([1, "audit", "after", [5]])}, "(it belongs to another list, not stores)"),
        (
            {"cursor": _raw_cursor([2, "stores", "after", [0, "s-1"]])},
            "(written by another version of the API)",
        ),
        ({"cursor": _raw_cursor([1, "stores", "sideways", [0, "s-1"]])}, "(unknown direction)"),
        ({"cursor": _raw_cursor([1, "stores", "after", [0]])}, "(wrong number of keys)"),
        ({"cursor": _raw_cursor([1, "stores", "after", ["yesterday", "s-1"]])}, "(key 1 is not a time)"),
        ({"cursor": _raw_cursor([1, "stores", "after", [10**20, "s-1"]])}, "(key 1 is not a time)"),
        ({"cursor": _raw_cursor([1, "stores", "after", [0, 7]])}, "(key 2 is not an id)"),
        ({"cursor": "x" * 201}, "'cursor': string should have at most 200 characters."),
    ],
)
def test_a_bad_limit_filter_or_cursor_is_422_with_a_sentence(lister: Lister, params: dict, sentence: str):
    r = lister.get("alice", **params)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert sentence in r.json()["detail"]
