"""The audit log: who did what to what, from where, with what outcome, in which request, when.

Each entry goes to the `audit_log` table and out as a JSON log line (logger `storeplane.audit`).
It never holds a secret: details are scalars whose keys are checked against secret-ish names, and
values shaped like API tokens are redacted too. A failed login records the attempted user name only
if such a user exists: people type passwords into the user-name field, and that must not be kept.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from sqlmodel import col, select

from app.auth.tokens import looks_like_token
from app.db.models import AuditEntry
from app.logging import current_request_id

audit_log = logging.getLogger("storeplane.audit")

REDACTED = "[redacted]"
_SECRET_KEY = re.compile(r"pass|secret|token|authoriz|cookie|credential|private|api_?key", re.IGNORECASE)
# Keys that merely refer to a secret (its id, name or display prefix) are fine to keep.
_REFERENCE_KEY = re.compile(r"(_id|_name|_prefix|_count)$")


class Action(enum.StrEnum):
    LOGIN = "login"
    LOGOUT = "logout"
    TOKEN_CREATE = "token.create"  # noqa: S105 - an action name, not a secret
    TOKEN_REVOKE = "token.revoke"  # noqa: S105
    STORE_CREATE = "store.create"
    STORE_UPGRADE = "store.upgrade"
    STORE_ROLLBACK = "store.rollback"
    STORE_VERIFY = "store.verify"
    STORE_DELETE = "store.delete"
    STORE_PASSWORD_REVEAL = "store.password_reveal"  # noqa: S105
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_LIMITS = "user.limits"


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # tried and failed: wrong password, invalid input, not found
    DENIED = "denied"  # refused by policy: rate limit, store limit, permission, CSRF


@dataclass(frozen=True)
class Actor:
    """Who acted; None user means anonymous (e.g. a failed login)."""

    user_id: int | None
    username: str | None


ANONYMOUS = Actor(None, None)


def safe_detail(detail: Mapping[str, object] | None) -> dict[str, object]:
    """Scalars only; values under secret-ish keys, and token-shaped values, are redacted."""
    clean: dict[str, object] = {}
    for key, value in (detail or {}).items():
        if not isinstance(value, str | int | float | bool | type(None)):
            value = str(value)
        secret_key = _SECRET_KEY.search(key) and not _REFERENCE_KEY.search(key)
        if secret_key or (isinstance(value, str) and looks_like_token(value)):
            value = REDACTED
        clean[key] = value
    return clean


def record(
    session: Session,
    *,
    action: Action,
    outcome: Outcome,
    actor: Actor,
    client_ip: str,
    target: str,
    detail: Mapping[str, object] | None = None,
    commit: bool = True,
) -> AuditEntry:
    """Add an audit entry and log it. commit=False lets the caller commit it with its own change."""
    entry = AuditEntry(
        at=datetime.now(UTC),
        actor=actor.username,
        actor_id=actor.user_id,
        client_ip=client_ip,
        action=str(action),
        target=target[:200],
        outcome=str(outcome),
        request_id=current_request_id(),
        detail=json.dumps(safe_detail(detail), sort_keys=True),
    )
    session.add(entry)
    if commit:
        session.commit()
        session.refresh(entry)
    audit_log.info(
        "%s %s %s",
        entry.action,
        entry.target,
        entry.outcome,
        extra={
            "audit": True,
            "action": entry.action,
            "outcome": entry.outcome,
            "actor": entry.actor,
            "actor_id": entry.actor_id,
            "client_ip": entry.client_ip,
            "target": entry.target,
            "detail": json.loads(entry.detail),
        },
    )
    return entry


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None  # restricts to one user's own entries (non-admins)
    actor: str | None = None
    action: str | None = None  # exact ("store.create") or a family ("store.")
    target: str | None = None
    outcome: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before_id: int | None = None  # keyset pagination: entries older than this id
    limit: int = 100


def query(session: Session, f: AuditFilter) -> list[AuditEntry]:
    """Newest first, filtered; `before_id` pages back through history."""
    stmt = select(AuditEntry)
    if f.actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == f.actor_id)
    if f.actor is not None:
        stmt = stmt.where(AuditEntry.actor == f.actor)
    if f.action is not None:
        if f.action.endswith("."):
            stmt = stmt.where(col(AuditEntry.action).startswith(f.action, autoescape=True))
        else:
            stmt = stmt.where(AuditEntry.action == f.action)
    if f.target is not None:
        stmt = stmt.where(AuditEntry.target == f.target)
    if f.outcome is not None:
        stmt = stmt.where(AuditEntry.outcome == f.outcome)
    if f.request_id is not None:
        stmt = stmt.where(AuditEntry.request_id == f.request_id)
    if f.since is not None:
        stmt = stmt.where(col(AuditEntry.at) >= f.since)
    if f.until is not None:
        stmt = stmt.where(col(AuditEntry.at) < f.until)
    if f.before_id is not None:
        stmt = stmt.where(col(AuditEntry.id) < f.before_id)
    stmt = stmt.order_by(col(AuditEntry.id).desc()).limit(max(1, min(f.limit, 1000)))
    return list(session.execute(stmt).scalars())
