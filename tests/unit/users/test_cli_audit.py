"""A token created at the console (`python -m app tokens create`) is audited like one made over HTTP."""

from __future__ import annotations

import json

from sqlalchemy import select

from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.models import ApiToken, AuditEntry
from tests.unit.core.test_cli import run_app


def test_a_console_token_leaves_an_audit_entry_without_the_token(database_url: str) -> None:
    assert run_app(database_url, "migrate").returncode == 0
    done = run_app(database_url, "tokens", "create", "--user", "ops")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    engine = make_engine(database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            [entry] = session.execute(select(AuditEntry)).scalars().all()
            token_id = session.execute(select(ApiToken.id)).scalar_one()
    finally:
        engine.dispose()
    assert (entry.action, entry.outcome, entry.actor, entry.client_ip) == (
        "token.create",
        "success",
        None,
        "cli",
    )
    assert entry.target == f"token:{token_id}"
    assert json.loads(entry.detail)["via"] == "cli"
    assert token not in entry.detail and token not in done.stderr
