"""Generated passwords and tokens are shown once and kept nowhere: not in the audit log, not in the
log output, not in the database (every table and the raw SQLite file are searched for the values)."""

from __future__ import annotations

import re

from tests.fixtures_db import Db
from tests.unit.users.platform import ADMIN_PASSWORD, csrf_of, login, running_platform


def test_no_generated_password_or_token_is_stored_or_logged(db: Db, tmp_path):
    with running_platform(db, tmp_path) as platform:
        admin = platform.token_for("root", admin=True)
        secrets: list[str] = [ADMIN_PASSWORD, admin["Authorization"].removeprefix("Bearer ")]

        # Through the API: a user with a generated password, tokens created and revoked.
        carol = platform.client.post("/api/v1/users", json={"name": "carol"}, headers=admin).json()
        secrets.append(carol["password"])
        token = platform.client.post("/api/v1/tokens", json={"name": "ci"}, headers=admin).json()
        secrets.append(token["token"])
        platform.client.delete(f"/api/v1/tokens/{token['id']}", headers=admin)

        # Through the dashboard: log in, create a token and a user; both shown once in the page.
        assert login(platform.client, "admin", ADMIN_PASSWORD).status_code == 303
        csrf = csrf_of(platform.client.get("/account/tokens").text)
        page = platform.client.post("/account/tokens", data={"name": "laptop", "csrf_token": csrf}).text
        secrets.append(re.search(r'id="new-token">([^<]+)<', page).group(1))
        page = platform.client.post("/admin/users", data={"name": "dave", "csrf_token": csrf}).text
        secrets.append(re.search(r'id="new-password">([^<]+)<', page).group(1))
        # The new password works, and logging in with it is audited too.
        assert login(platform.client_from("203.0.113.60"), "dave", secrets[-1]).status_code == 303
        # A request carrying a secret in a place it should never be (a query string).
        platform.client.get(f"/api/v1/users/me?token={secrets[3]}", headers=admin)

        audit = platform.client.get("/api/v1/audit", params={"limit": 1000}, headers=admin).text
        stored = platform.database_text()
        logged = platform.log.getvalue()
        assert len(set(secrets)) == 6
        for secret in secrets:
            assert secret not in audit, "a secret is in the audit log"
            assert secret not in stored, "a secret is in the database"
            assert secret not in logged, "a secret is in the log output"
        actions = [e.action for e in platform.audit()]
        assert actions.count("token.create") == 2 and actions.count("user.create") == 2
        assert actions.count("login") == 2
