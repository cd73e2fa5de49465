"""Property-based requests generated from our own OpenAPI document (schemathesis): whatever a client
sends to the store routes, the answer is never a server error and matches what the document says."""

from __future__ import annotations

import atexit
import re
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import schemathesis
import schemathesis.specs.openapi.checks as checks
from hypothesis import HealthCheck, settings

from app.api import cursors
from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.migrate import upgrade_to_head
from app.db.users import get_or_create_user, issue_token
from app.main import create_app
from app.settings import Settings

# Built at import because schemathesis parametrizes from the app's schema at collection time
# (its lazy fixture loader does not work with our pytest); removed when the process exits.
_DIR = Path(tempfile.mkdtemp(prefix="storeplane-fuzz-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
_SETTINGS = Settings(
    data_dir=_DIR,
    database_url=f"sqlite:///{_DIR / 'fuzz.db'}",
    max_stores_per_user=100000,
    max_stores_global=100000,
    max_provisioning_per_user=100000,
    ratelimit_mutations_per_user="1000000/minute",
    ratelimit_mutations_per_ip="1000000/minute",
    metrics_port=0,
)


def _token() -> str:
    upgrade_to_head(_SETTINGS.effective_database_url)
    engine = make_engine(_SETTINGS.effective_database_url)
    with transaction(make_sessionmaker(engine)) as session:
        token = issue_token(session, get_or_create_user(session, "fuzzer"))
    engine.dispose()
    return token


async def _cluster_is_up() -> None:
    return None


TOKEN = _token()
_A_CURSOR = cursors.encode("stores", cursors.Direction.AFTER, (datetime.now(UTC), "s-000000000000"))
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
app = create_app(_SETTINGS, run_workers=False, cluster_ping=_cluster_is_up)
# The routes of this module's API; /admin-password belongs to the accounts work and its own tests.
schema = (
    schemathesis.openapi.from_asgi("/openapi.json", app)
    .include(path_regex="^/api/v1/stores")
    .exclude(path_regex="admin-password")
)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_store_routes_never_fail_with_a_server_error(case: schemathesis.Case) -> None:
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _VALID_KEY.fullmatch(key):
        # A reused key with another body is a correct 422; give each valid case its own key.
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    if isinstance(case.query, dict) and isinstance(case.query.get("cursor"), str):
        # A cursor is opaque (any string is schema-valid; only the API's own are accepted, and a
        # made-up one is a correct 422): send a real one, as a client following next_cursor would.
        case.query["cursor"] = _A_CURSOR
    # Our token replaces whatever auth the case made up, so a case "negating" auth is sent with valid
    # auth; the negative-data check would then flag our correct 200 as a violation.
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[checks.negative_data_rejection]
    )
