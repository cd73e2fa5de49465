"""Limits under concurrency on both databases: identical retries with one Idempotency-Key are replays,
not new stores, even when the store limit is reached; the 50-token cap holds under a burst, and
every created token is the caller's own."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.auth.accounts import MAX_TOKENS_PER_USER
from app.db.engine import transaction
from app.db.models import ApiToken, Store
from tests.fixtures_db import Db
from tests.unit.users.platform import running_platform


def test_parallel_retries_with_one_key_all_get_the_store_at_the_store_limit(db: Db, tmp_path) -> None:
    with running_platform(db, tmp_path, max_stores_per_user=1, max_provisioning_per_user=1) as platform:
        client = TestClient(platform.app, raise_server_exceptions=False)
        alice = platform.token_for("alice") | {"Idempotency-Key": "retry-1"}

        def create(_: int):
            return client.post(
                "/api/v1/stores", json={"name": "only", "engine": "woocommerce"}, headers=alice
            )

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(pool.map(create, range(20)))
        assert [r.status_code for r in answers] == [202] * 20, [
            r.text for r in answers if r.status_code != 202
        ]
        assert len({r.json()["id"] for r in answers}) == 1
        with transaction(db.factory) as session:
            assert session.execute(select(func.count()).select_from(Store)).scalar_one() == 1


def test_the_token_cap_holds_under_a_burst_and_each_caller_gets_its_own_token(db: Db, tmp_path) -> None:
    with running_platform(
        db, tmp_path, ratelimit_mutations_per_user="100000/minute", ratelimit_mutations_per_ip="100000/minute"
    ) as platform:
        client = TestClient(platform.app, raise_server_exceptions=False)
        alice = platform.token_for("alice")  # one live token already
        for i in range(MAX_TOKENS_PER_USER - 6):
            assert client.post("/api/v1/tokens", json={"name": f"pre{i}"}, headers=alice).status_code == 201

        def create(i: int):
            return client.post("/api/v1/tokens", json={"name": f"burst{i}"}, headers=alice)

        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(create, range(80)))
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [201] * 5 + [409] * 75, statuses
        for i, answer in enumerate(answers):
            if answer.status_code == 201:
                assert answer.json()["name"] == f"burst{i}"
        with transaction(db.factory) as session:
            live = session.execute(
                select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))  # type: ignore[union-attr]
            ).scalar_one()
        assert live == MAX_TOKENS_PER_USER
