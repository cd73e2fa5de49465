"""Property-based fuzzing of the whole OpenAPI schema (schemathesis + hypothesis): whatever the
inputs, authenticated as an admin or not at all, no operation answers with a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from app import metrics
from app.auth import accounts
from app.db.engine import transaction
from app.main import create_app
from tests.fixtures_db import Db
from tests.unit.users.platform import settings_for


async def _cluster_is_up() -> None:
    return None


def _app(db: Db, tmp_path):
    return create_app(
        settings_for(
            db,
            tmp_path,
            ratelimit_mutations_per_user="100000/minute",
            ratelimit_mutations_per_ip="100000/minute",
            max_stores_per_user=100000,
            max_stores_global=100000,
            max_provisioning_per_user=100000,
        ),
        run_workers=False,
        cluster_ping=_cluster_is_up,
    )


def test_no_operation_answers_with_a_server_error(db: Db, tmp_path):
    with transaction(db.factory) as session:
        root = accounts.create_user(session, name="root", password=None, is_admin=True)
        _, token = accounts.create_token(session, root, "fuzz")
    admin = {"Authorization": f"Bearer {token}"}
    # schemathesis runs the app's lifespan itself (once) and sends requests in-process.
    schema = schemathesis.openapi.from_asgi("/openapi.json", _app(db, tmp_path))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15  # stores, tokens, users, audit, health: the whole API is fuzzed
    seen: set[int] = set()

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def fuzz(case) -> None:
            seen.add(case.call_and_validate(headers=dict(admin), checks=[not_a_server_error]).status_code)
            seen.add(case.call_and_validate(checks=[not_a_server_error]).status_code)  # and anonymously

        fuzz()
    metrics.set_state_source(None)  # schemathesis keeps the app's lifespan open; detach its database
    # The fuzzing reached the handlers (successes) and the validation and authentication (refusals).
    assert {200, 201, 401, 404, 422} <= seen, sorted(seen)
