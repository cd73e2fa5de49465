"""Brute force by concurrency: many simultaneous guesses for one user name, from distinct client
addresses behind a trusted proxy. Each attempt is counted before its password is checked, so no more
passwords are tried than the per-user budget allows, however many arrive at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, csrf_of, running_platform

BUDGET = 5


def test_concurrent_guesses_cannot_try_more_passwords_than_the_user_budget(db: Db, tmp_path) -> None:
    with running_platform(
        db,
        tmp_path,
        trusted_proxies="10.0.0.0/8",
        ratelimit_login_per_ip="1000/minute",
        ratelimit_login_failures_per_user=f"{BUDGET}/minute",
    ) as platform:
        proxy = platform.client_from("10.0.0.2")
        csrf = csrf_of(proxy.get("/login").text)
        cookie = proxy.cookies.get("storeplane_session")
        guesses = [f"guess-{i}-passw0rd" for i in range(39)] + [ADMIN_PASSWORD]

        def attempt(i: int) -> int:
            return proxy.post(
                "/login",
                data={"username": "admin", "password": guesses[i], "csrf_token": csrf},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}", "Cookie": f"storeplane_session={cookie}"},
                follow_redirects=False,
            ).status_code

        with ThreadPoolExecutor(max_workers=len(guesses)) as pool:
            statuses = list(pool.map(attempt, range(len(guesses))))
        checked = [s for s in statuses if s in (303, 401)]  # a password was verified
        assert len(checked) <= BUDGET, sorted(statuses)
        assert set(statuses) <= {303, 401, 429}
        assert statuses.count(429) >= len(guesses) - BUDGET
        entries = [e for e in platform.audit() if e.action == "login"]
        assert len(entries) == len(guesses)
        assert sum(e.outcome == "denied" for e in entries) == statuses.count(429)
