"""A store's name is its public host (<name>.<baseDomain>), so it is unique across the platform among
live stores, on SQLite and PostgreSQL, under concurrency too; a deleted store frees it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.engine import transaction
from app.db.models import Store
from app.db.users import get_or_create_user, issue_token
from app.main import create_app
from tests.fixtures_db import Db
from tests.unit.core.helpers import fast_settings


async def _cluster_is_up() -> None:
    return None


def _token(db: Db, name: str) -> dict[str, str]:
    with transaction(db.factory) as session:
        return {"Authorization": f"Bearer {issue_token(session, get_or_create_user(session, name))}"}


@pytest.fixture
def client(db: Db) -> Iterator[TestClient]:
    app = create_app(fast_settings(db), run_workers=False, cluster_ping=_cluster_is_up)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _create(client: TestClient, headers: dict[str, str], name: str = "shop", engine: str = "woocommerce"):
    return client.post("/api/v1/stores", json={"name": name, "engine": engine}, headers=headers)


def test_a_name_another_user_holds_is_409_without_saying_whose(client: TestClient, db: Db) -> None:
    alice, bob = _token(db, "alice"), _token(db, "bob")
    assert _create(client, alice).status_code == 202
    taken = _create(client, bob, engine="medusa")
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    assert taken.json()["type"] == "urn:storeplane:problem:name-taken"
    assert taken.json()["detail"] == (
        "The name 'shop' is taken: shop.localhost already belongs to another store. Choose another name."
    )
    assert "alice" not in taken.text
    own = _create(client, alice)
    assert own.status_code == 409
    assert own.json()["detail"] == (
        "You already have a store named 'shop'; choose another name or delete that store."
    )
    with transaction(db.factory) as session:
        assert [s.name for s in session.execute(select(Store)).scalars()] == ["shop"]


def test_the_name_stays_taken_while_its_store_is_deleting_and_is_free_once_deleted(
    client: TestClient, db: Db
) -> None:
    alice, bob = _token(db, "alice"), _token(db, "bob")
    sid = _create(client, alice).json()["id"]
    assert client.delete(f"/api/v1/stores/{sid}", headers=alice).status_code == 202
    assert _create(client, bob).status_code == 409  # the old Ingress may still serve the host
    with transaction(db.factory) as session:  # what the worker does once everything is gone
        session.get_one(Store, sid).status = "deleted"
    assert _create(client, bob).status_code == 202


def test_many_users_racing_for_one_name_get_one_store_and_clear_refusals(client: TestClient, db: Db) -> None:
    users = [_token(db, f"user{i}") for i in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(lambda headers: _create(client, headers, "race"), users))
    assert sorted(r.status_code for r in answers) == [202] + [409] * 11, [r.text for r in answers]
    assert {r.json()["type"] for r in answers if r.status_code == 409} == {
        "urn:storeplane:problem:name-taken"
    }
    with transaction(db.factory) as session:
        assert len(list(session.execute(select(Store).where(Store.name == "race")).scalars())) == 1


def test_the_database_refuses_a_second_live_store_with_the_same_name(db: Db) -> None:
    """The index, not only the check in create_store, keeps hosts unique (other writers, races)."""
    from sqlalchemy.exc import IntegrityError

    from app.db.engine import utcnow

    with transaction(db.factory) as session:
        alice, bob = get_or_create_user(session, "alice"), get_or_create_user(session, "bob")
    now = utcnow()

    def row(store_id: str, owner_id: int | None, status: str) -> Store:
        assert owner_id is not None
        return Store(
            id=store_id, owner_id=owner_id, name="dup", engine="woocommerce", status=status,
            namespace=f"store-{store_id}", host="dup.localhost", created_at=now, updated_at=now,
        )  # fmt: skip

    with transaction(db.factory) as session:
        session.add(row("s-000000000001", alice.id, "deleted"))
        session.add(row("s-000000000002", alice.id, "ready"))
    with pytest.raises(IntegrityError), transaction(db.factory) as session:
        session.add(row("s-000000000003", bob.id, "pending"))
