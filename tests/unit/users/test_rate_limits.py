"""Rate limits through a real ASGI app and slowapi's in-memory storage: 429, Retry-After, and no
dodging the per-IP limit with a spoofed X-Forwarded-For."""

import httpx
import pytest
from fastapi import FastAPI, Form, Request

from app import metrics
from app.auth.settings import UsersSettings
from app.auth.wiring import rate_limited_handler
from app.ratelimit import RateLimited, RateLimiter


def _app(**limits: object) -> tuple[FastAPI, RateLimiter]:
    limiter = RateLimiter(UsersSettings(trusted_proxies=["10.0.0.0/8"], **limits))
    app = FastAPI()
    app.add_exception_handler(RateLimited, rate_limited_handler)

    @app.post("/things")
    async def create(request: Request) -> dict:
        limiter.check_mutation(request, request.headers.get("x-user"))
        return {"ok": True}

    @app.post("/login")
    async def login(request: Request, username: str = Form(), password: str = Form()) -> dict:
        attempt = limiter.check_login_attempt(request, username)
        attempt.finish(failed=password != "right-password")
        return {"ok": password == "right-password"}

    return app, limiter


def _client(app: FastAPI, peer: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(peer, 5555)), base_url="http://t")


def _rejections(scope: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value("storeplane_rate_limit_rejections_total", {"scope": scope}) or 0.0
    )


async def test_the_ip_limit_answers_429_with_retry_after_and_counts_the_rejection():
    app, _ = _app(ratelimit_mutations_per_ip="3/minute")
    before = _rejections("ip")
    async with _client(app, "203.0.113.1") as client:
        codes = [(await client.post("/things")).status_code for _ in range(3)]
        refused = await client.post("/things")
    assert codes == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = refused.json()
    assert body["scope"] == "ip" and body["limit"] == "3 per 1 minute"
    assert refused.headers["content-type"] == "application/problem+json"
    assert _rejections("ip") == before + 1


async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_does_not_dodge_the_ip_limit():
    app, _ = _app(ratelimit_mutations_per_ip="2/minute")
    async with _client(app, "203.0.113.2") as client:
        statuses = [
            (await client.post("/things", headers={"x-forwarded-for": f"198.51.100.{i}"})).status_code
            for i in range(4)
        ]
    assert statuses == [200, 200, 429, 429]


async def test_the_same_header_from_a_trusted_proxy_is_honoured_per_real_client():
    app, _ = _app(ratelimit_mutations_per_ip="2/minute")
    async with _client(app, "10.0.0.7") as proxy:
        first = [
            (await proxy.post("/things", headers={"x-forwarded-for": "198.51.100.1"})).status_code
            for _ in range(3)
        ]
        other = (await proxy.post("/things", headers={"x-forwarded-for": "198.51.100.2"})).status_code
    # The first client is limited; a second client behind the same proxy has its own budget.
    assert first == [200, 200, 429]
    assert other == 200


async def test_the_user_limit_follows_the_user_across_addresses():
    app, _ = _app(ratelimit_mutations_per_user="2/minute", ratelimit_mutations_per_ip="100/minute")
    statuses = []
    for i in range(3):
        async with _client(app, f"203.0.113.{10 + i}") as client:
            response = await client.post("/things", headers={"x-user": "7"})
            statuses.append(response.status_code)
    assert statuses == [200, 200, 429]
    assert response.json()["scope"] == "user"


async def test_repeated_bad_logins_for_one_user_are_limited_even_from_many_addresses():
    app, _ = _app(ratelimit_login_failures_per_user="3/minute", ratelimit_login_per_ip="100/minute")
    statuses = []
    for i in range(5):
        async with _client(app, f"203.0.113.{20 + i}") as client:
            response = await client.post("/login", data={"username": "Alice", "password": f"guess-{i}"})
            statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    assert response.json()["scope"] == "login_user"
    # The limit holds for the right password too: a guesser cannot test a candidate while limited.
    async with _client(app, "203.0.113.99") as client:
        locked = await client.post("/login", data={"username": "alice", "password": "right-password"})
    assert locked.status_code == 429


async def test_successful_logins_do_not_spend_the_user_failure_budget():
    app, _ = _app(ratelimit_login_failures_per_user="2/minute", ratelimit_login_per_ip="100/minute")
    async with _client(app, "203.0.113.30") as client:
        for _ in range(5):
            response = await client.post("/login", data={"username": "bob", "password": "right-password"})
            assert response.json() == {"ok": True}


async def test_login_attempts_per_ip_are_limited_more_strictly_than_other_mutations():
    app, _ = _app(ratelimit_login_per_ip="2/minute", ratelimit_login_failures_per_user="100/minute")
    async with _client(app, "203.0.113.40") as client:
        statuses = [
            (await client.post("/login", data={"username": f"user{i}", "password": "x"})).status_code
            for i in range(3)
        ]
    assert statuses == [200, 200, 429]


def test_a_malformed_rate_is_refused_with_the_expected_shape_named():
    with pytest.raises(ValueError, match="is not a rate limit like '30/minute;300/hour'"):
        UsersSettings(ratelimit_mutations_per_ip="often")


def test_a_malformed_trusted_proxy_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"'10\.0\.0\.0/33' is not an IP address or CIDR"):
        UsersSettings(trusted_proxies="10.0.0.0/33")
