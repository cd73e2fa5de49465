"""Bursts of authenticated reads on a real server (uvicorn) over SQLite and PostgreSQL: every request
is answered or refused with 429/503 and Retry-After, never 500; on SQLite a read never waits for the
write lock; the pools are sized from settings; reads are rate limited per user."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.db.engine import transaction
from app.db.models import User
from app.db.users import get_or_create_user, issue_token
from app.main import create_app
from tests.fixtures_db import Db
from tests.served import served
from tests.unit.core.helpers import fast_settings, new_store


async def _cluster_is_up() -> None:
    return None


def _token(db: Db, name: str) -> dict[str, str]:
    with transaction(db.factory) as session:
        return {"Authorization": f"Bearer {issue_token(session, get_or_create_user(session, name))}"}


@contextmanager
def _platform(db: Db, **overrides: object) -> Iterator[str]:
    settings = fast_settings(db, **overrides)
    with served(create_app(settings, run_workers=False, cluster_ping=_cluster_is_up)) as base:
        yield base


async def _burst(base: str, headers: dict[str, str], path: str, n: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120, limits=limits) as client:
        return list(await asyncio.gather(*(client.get(path) for _ in range(n))))


def _check_refusals(responses: list[httpx.Response]) -> Counter[int]:
    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {200, 429, 503}, codes
    for refused in (r for r in responses if r.status_code in (429, 503)):
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["content-type"] == "application/problem+json"
    return codes


def test_eighty_concurrent_reads_are_answered_or_refused_never_500(db: Db) -> None:
    settings = fast_settings(db)
    for i in range(3):
        new_store(db, settings, f"shop{i}")
    headers = _token(db, "alice")
    with _platform(db) as base:
        for _ in range(2):  # the second burst finds the pool and threads as the first left them
            responses = asyncio.run(_burst(base, headers, "/api/v1/stores", 80))
            codes = _check_refusals(responses)
            assert codes[200] >= 1
            assert all(len(r.json()["items"]) == 3 for r in responses if r.status_code == 200)


def test_a_burst_larger_than_the_pool_queues_or_gets_503_with_retry_after(db: Db) -> None:
    headers = _token(db, "alice")
    with _platform(db, db_pool_size=1, db_max_overflow=0, db_pool_timeout=1) as base:
        responses = asyncio.run(_burst(base, headers, "/api/v1/stores", 40))
    codes = _check_refusals(responses)
    assert codes[200] >= 1
    busy = [r.json() for r in responses if r.status_code == 503]
    assert all(b["type"] == "urn:storeplane:problem:busy" for b in busy)


@pytest.fixture
def sqlite_db(tmp_path) -> Iterator[Db]:
    """SQLite only: PostgreSQL readers never wait for writers (MVCC)."""
    from app.db.engine import make_engine, make_sessionmaker
    from app.db.migrate import upgrade_to_head

    url = f"sqlite:///{tmp_path / 'storeplane.db'}"
    upgrade_to_head(url)
    engine = make_engine(url)
    try:
        yield Db(url=url, engine=engine, factory=make_sessionmaker(engine))
    finally:
        engine.dispose()


def test_on_sqlite_a_read_is_answered_while_a_writer_holds_the_lock(sqlite_db: Db) -> None:
    db = sqlite_db
    headers = _token(db, "alice")
    new_store(db, fast_settings(db), "shop")
    # engine.begin() issues BEGIN IMMEDIATE: the write lock, held while the reads are made.
    with (
        _platform(db) as base,
        db.engine.begin(),
        httpx.Client(base_url=base, headers=headers, timeout=60) as client,
    ):
        stores = client.get("/api/v1/stores")
        page = client.get("/api/v1/users/me")
    assert (stores.status_code, page.status_code) == (200, 200), stores.text
    assert [s["name"] for s in stores.json()["items"]] == ["shop"]


def test_a_read_transaction_cannot_write(db: Db) -> None:
    from app.db.engine import read_transaction

    with (
        pytest.raises(DBAPIError, match=r"read-only|readonly|attempt to write"),
        read_transaction(db.factory) as session,
    ):
        session.add(User(name="sneaky"))
        session.flush()
    with read_transaction(db.factory) as session:
        assert session.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


def test_the_pool_is_sized_from_settings(db: Db) -> None:
    from app.db.engine import make_engine

    settings = fast_settings(db, db_pool_size=3, db_max_overflow=2, db_pool_timeout=4)
    engine = make_engine(settings.effective_database_url, settings)
    try:
        assert (engine.pool.size(), engine.pool._max_overflow, engine.pool._timeout) == (3, 2, 4)  # type: ignore[attr-defined]
    finally:
        engine.dispose()


def test_reads_are_rate_limited_per_user_with_retry_after(db: Db) -> None:
    alice, bob = _token(db, "alice"), _token(db, "bob")
    with _platform(db, ratelimit_reads_per_user="5/minute") as base, httpx.Client(base_url=base) as client:
        statuses = [client.get("/api/v1/stores", headers=alice).status_code for _ in range(6)]
        refused = client.get("/api/v1/tokens", headers=alice)
        other = client.get("/api/v1/stores", headers=bob)
    assert statuses == [200] * 5 + [429]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert (refused.json()["scope"], refused.json()["limit"]) == ("user_read", "5 per 1 minute")
    assert other.status_code == 200


def test_a_client_sending_its_body_slowly_holds_no_turn(db: Db) -> None:
    """The body is read before admission: slow uploads cannot take every database turn."""
    import socket
    import time
    from urllib.parse import urlsplit

    headers = _token(db, "alice")
    with _platform(db, db_pool_size=1, db_max_overflow=0, db_pool_timeout=1) as base:
        where = urlsplit(base)
        with socket.create_connection((where.hostname, where.port)) as slow:
            slow.sendall(
                b"POST /api/v1/stores HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                + f"Authorization: {headers['Authorization']}\r\n".encode()
                + b'Content-Length: 100\r\n\r\n{"name": '
            )
            time.sleep(0.5)  # the server has the headers and waits for the rest of the body
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                assert client.get("/api/v1/stores").status_code == 200
