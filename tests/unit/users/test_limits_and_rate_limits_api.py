"""Store limits and rate limits through the real app: the status, the limit's name, value and usage,
Retry-After, and no dodging the per-IP limit with a spoofed X-Forwarded-For."""

from __future__ import annotations

from app import metrics
from tests.fixtures_db import Db
from tests.unit.users.platform import running_platform


def _create(client, headers, name):
    return client.post("/api/v1/stores", json={"name": name, "engine": "woocommerce"}, headers=headers)


def test_the_per_user_store_limit_answers_409_naming_limit_value_and_usage(db: Db, tmp_path):
    with running_platform(db, tmp_path, max_provisioning_per_user=100) as platform:
        alice = platform.token_for("alice")
        assert [_create(platform.client, alice, f"s{i}").status_code for i in range(3)] == [202, 202, 202]
        refused = _create(platform.client, alice, "s3")
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        body = refused.json()
        assert (body["limit"], body["value"], body["usage"]) == ("stores_per_user", 3, 3)
        assert body["detail"] == (
            "limit stores_per_user reached: 3 of 3 in use; "
            "delete one of your stores or ask an admin to raise your limit"
        )
        denied = platform.audit()[-1]
        assert (denied.action, denied.outcome, denied.actor) == ("store.create", "denied", "alice")
        assert '"limit": "stores_per_user"' in denied.detail


def test_an_admin_raises_one_users_limit_and_the_change_is_audited(db: Db, tmp_path):
    with running_platform(db, tmp_path, max_provisioning_per_user=100, max_stores_per_user=1) as platform:
        admin, alice = platform.token_for("root", admin=True), platform.token_for("alice")
        assert _create(platform.client, alice, "one").status_code == 202
        assert _create(platform.client, alice, "two").status_code == 409
        alice_id = platform.client.get("/api/v1/users/me", headers=alice).json()["id"]
        raised = platform.client.patch(f"/api/v1/users/{alice_id}", json={"max_stores": 2}, headers=admin)
        assert raised.json()["max_stores"] == 2
        assert _create(platform.client, alice, "two").status_code == 202
        assert _create(platform.client, alice, "three").json()["value"] == 2
        reset = platform.client.patch(
            f"/api/v1/users/{alice_id}", json={"reset_max_stores": True}, headers=admin
        )
        assert reset.json()["max_stores"] is None
        limits = [e for e in platform.audit() if e.action == "user.limits"]
        assert [e.detail for e in limits] == [
            '{"max_stores_from": null, "max_stores_to": 2, "status": 200}',
            '{"max_stores_from": 2, "max_stores_to": null, "status": 200}',
        ]


def test_the_provisioning_limit_answers_429_until_a_store_finishes(db: Db, tmp_path):
    with running_platform(db, tmp_path, max_provisioning_per_user=2) as platform:
        alice = platform.token_for("alice")
        assert [_create(platform.client, alice, f"p{i}").status_code for i in range(2)] == [202, 202]
        refused = _create(platform.client, alice, "p2")
        assert refused.status_code == 429
        assert (refused.json()["limit"], refused.json()["value"], refused.json()["usage"]) == (
            "provisioning_per_user",
            2,
            2,
        )
        assert "wait until one of your stores finishes provisioning" in refused.json()["detail"]


def test_the_global_store_limit_answers_409_for_everyone(db: Db, tmp_path):
    with running_platform(db, tmp_path, max_stores_global=2) as platform:
        alice, bob = platform.token_for("alice"), platform.token_for("bob")
        assert _create(platform.client, alice, "a").status_code == 202
        assert _create(platform.client, bob, "b").status_code == 202
        refused = _create(platform.client, bob, "c")
        assert refused.status_code == 409
        assert (refused.json()["limit"], refused.json()["value"], refused.json()["usage"]) == (
            "stores_global",
            2,
            2,
        )


def test_an_idempotent_replay_is_not_refused_by_a_limit_it_already_counted(db: Db, tmp_path):
    with running_platform(db, tmp_path, max_stores_per_user=1) as platform:
        alice = platform.token_for("alice") | {"Idempotency-Key": "k-1"}
        first = _create(platform.client, alice, "only")
        replay = _create(platform.client, alice, "only")
        assert (first.status_code, replay.status_code) == (202, 202)
        assert first.json()["id"] == replay.json()["id"]


def _rejections(scope: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("storeplane_rate_limit_rejections_total", {"scope": scope}) or 0.0
    )


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_ip_limit(db: Db, tmp_path):
    with running_platform(db, tmp_path, ratelimit_mutations_per_ip="3/minute") as platform:
        headers = platform.token_for("alice")
        attacker = platform.client_from("198.51.100.66")
        before = _rejections("ip")
        statuses = [
            attacker.post(
                "/api/v1/tokens",
                json={"name": f"t{i}"},
                headers=headers | {"X-Forwarded-For": f"192.0.2.{i}"},
            ).status_code
            for i in range(5)
        ]
        assert statuses == [201, 201, 201, 429, 429]
        refused = attacker.post("/api/v1/tokens", json={"name": "x"}, headers=headers)
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["scope"] == "ip" and refused.json()["limit"] == "3 per 1 minute"
        assert _rejections("ip") == before + 3
        # Bad credentials spend the address's budget too: it is checked before authentication.
        assert attacker.post("/api/v1/tokens", json={"name": "x"}).status_code == 429
        assert platform.audit()[-1].outcome == "denied"


def test_the_same_header_from_a_trusted_proxy_is_honoured(db: Db, tmp_path):
    with running_platform(
        db, tmp_path, ratelimit_mutations_per_ip="2/minute", trusted_proxies="10.0.0.0/8"
    ) as platform:
        headers = platform.token_for("alice")
        ingress = platform.client_from("10.1.2.3")

        def post(client_ip: str) -> int:
            return ingress.post(
                "/api/v1/tokens", json={"name": "t"}, headers=headers | {"X-Forwarded-For": client_ip}
            ).status_code

        assert [post("192.0.2.1") for _ in range(3)] == [201, 201, 429]
        assert post("192.0.2.2") == 201  # another client behind the same ingress has its own budget
        # The audit log names the real client, not the proxy.
        assert {e.client_ip for e in platform.audit()} == {"192.0.2.1", "192.0.2.2"}


def test_the_user_limit_follows_the_user_across_addresses(db: Db, tmp_path):
    with running_platform(db, tmp_path, ratelimit_mutations_per_user="2/minute") as platform:
        headers = platform.token_for("alice")
        statuses = [
            platform.client_from(f"198.51.100.{i}").post(
                "/api/v1/tokens", json={"name": "t"}, headers=headers
            )
            for i in range(3)
        ]
        assert [r.status_code for r in statuses] == [201, 201, 429]
        assert statuses[-1].json()["scope"] == "user"
        # Reading is not limited.
        assert platform.client.get("/api/v1/tokens", headers=headers).status_code == 200


def test_concurrent_creates_cannot_squeeze_past_the_limits(db: Db, tmp_path):
    """Counting and inserting happen in one serialised transaction, so a burst cannot overshoot."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import func, select

    from app.db.engine import transaction
    from app.db.models import Store

    with running_platform(db, tmp_path, max_stores_per_user=3, max_provisioning_per_user=100) as platform:
        alice, bob = platform.token_for("alice"), platform.token_for("bob")
        with ThreadPoolExecutor(max_workers=12) as pool:
            answers = list(pool.map(lambda i: _create(platform.client, alice, f"burst{i}"), range(12)))
        assert sorted(r.status_code for r in answers) == [202] * 3 + [409] * 9
        assert {r.json()["limit"] for r in answers if r.status_code == 409} == {"stores_per_user"}
        # Other users are not affected by alice's limit, and the global count is exact.
        assert _create(platform.client, bob, "bobs").status_code == 202
        with transaction(db.factory) as session:
            assert session.execute(select(func.count()).select_from(Store)).scalar_one() == 4
