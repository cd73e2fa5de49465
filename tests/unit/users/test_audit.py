"""Audit entries land in the database and in JSON log lines, filterable, and never hold a secret."""

import io
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app import audit
from app.audit import Action, Actor, AuditFilter, Outcome
from app.auth.tokens import issue_token
from app.db.models import AuditEntry
from app.logging import JsonFormatter, bound_request_id
from tests.fixtures_db import Db


@pytest.fixture
def session(db: Db):
    """A session on the migrated database (SQLite, and PostgreSQL under the postgres marker)."""
    with db.factory() as session:
        yield session


@pytest.fixture
def audit_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("storeplane.audit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


ALICE = Actor(user_id=1, username="alice")


def test_an_entry_records_actor_ip_target_action_outcome_request_id_and_time(session, audit_lines):
    with bound_request_id("req-123"):
        entry = audit.record(
            session,
            action=Action.STORE_CREATE,
            outcome=Outcome.SUCCESS,
            actor=ALICE,
            client_ip="198.51.100.4",
            target="store:s-1",
            detail={"engine": "woocommerce"},
        )
    stored = session.get(AuditEntry, entry.id)
    assert (stored.actor, stored.actor_id, stored.client_ip) == ("alice", 1, "198.51.100.4")
    assert (stored.action, stored.target, stored.outcome) == ("store.create", "store:s-1", "success")
    assert stored.request_id == "req-123"
    assert abs(stored.at - datetime.now(UTC)) < timedelta(minutes=1)
    [line] = audit_lines()
    assert line["audit"] is True and line["request_id"] == "req-123"
    assert (
        line["action"] == "store.create" and line["actor"] == "alice" and line["client_ip"] == "198.51.100.4"
    )
    assert line["detail"] == {"engine": "woocommerce"}


def test_secrets_in_details_are_redacted_in_the_database_and_the_log(session, audit_lines):
    token = issue_token()
    audit.record(
        session,
        action=Action.TOKEN_CREATE,
        outcome=Outcome.SUCCESS,
        actor=ALICE,
        client_ip="198.51.100.4",
        target="token:9",
        detail={
            "token": token.plaintext,
            "password": "Sup3r-Secret-Pass",
            "note": token.plaintext,  # token-shaped values are caught whatever the key
            "token_prefix": token.display_prefix,
            "token_id": 9,
        },
    )
    dump = "\n".join(str(row) for row in session.execute(text("SELECT * FROM audit_log")).all())
    logged = json.dumps(audit_lines())
    for haystack in (dump, logged):
        assert token.plaintext not in haystack
        assert "Sup3r-Secret-Pass" not in haystack
        assert token.display_prefix in haystack and "[redacted]" in haystack


def test_entries_are_filtered_and_paged_newest_first(session):
    def add(
        action: Action, actor: Actor, outcome: Outcome = Outcome.SUCCESS, target: str = "t"
    ) -> AuditEntry:
        return audit.record(
            session, action=action, outcome=outcome, actor=actor, client_ip="203.0.113.1", target=target
        )

    bob = Actor(2, "bob")
    first = add(Action.LOGIN, ALICE)
    add(Action.LOGIN, bob, Outcome.FAILURE)
    add(Action.STORE_CREATE, ALICE, target="store:s-1")
    add(Action.STORE_DELETE, ALICE, target="store:s-1")
    add(Action.TOKEN_CREATE, bob)

    def actions(**kw: object) -> list[str]:
        return [entry.action for entry in audit.query(session, AuditFilter(**kw))]

    assert actions() == ["token.create", "store.delete", "store.create", "login", "login"]
    assert actions(actor_id=1) == ["store.delete", "store.create", "login"]
    assert actions(actor="bob") == ["token.create", "login"]
    assert actions(action="store.") == ["store.delete", "store.create"]
    assert actions(action="login", outcome="failure") == ["login"]
    assert actions(target="store:s-1", limit=1) == ["store.delete"]
    assert actions(before_id=first.id + 1) == ["login"]
    assert actions(since=datetime.now(UTC) + timedelta(hours=1)) == []
    assert len(actions(until=datetime.now(UTC) + timedelta(hours=1))) == 5


def test_a_family_filter_does_not_treat_sql_wildcards_as_wildcards(session):
    audit.record(
        session,
        action=Action.STORE_CREATE,
        outcome=Outcome.SUCCESS,
        actor=ALICE,
        client_ip="203.0.113.1",
        target="x",
    )
    assert audit.query(session, AuditFilter(action="st%.")) == []
