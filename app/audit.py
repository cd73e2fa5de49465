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
from typing import Any

import anyio
from fastapi.routing import iter_route_contexts
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import col, select
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
    DOMAIN_ADD = "domain.add"
    DOMAIN_CHECK = "domain.check"
    DOMAIN_PRIMARY = "domain.primary"
    DOMAIN_REMOVE = "domain.remove"
    USER_CREATE = "user.create"
    USER_UPDATE = "user.update"
    USER_DISABLE = "user.disable"
    USER_ENABLE = "user.enable"
    USER_LIMITS = "user.limits"
    USER_ROLE = "user.role"
    PASSWORD_CHANGE = "user.password_change"  # noqa: S105
    STORE_REPAIR = "store.repair"
    STORE_PIN = "store.pin"
    STORE_UNPIN = "store.unpin"
    ROLLOUT_CREATE = "rollout.create"
    ROLLOUT_PAUSE = "rollout.pause"
    ROLLOUT_RESUME = "rollout.resume"
    ROLLOUT_ABORT = "rollout.abort"
    # Written by the rollout controller on the admin's behalf: each step, and halts and the end.
    ROLLOUT_STEP = "rollout.step"
    ROLLOUT_PROGRESS = "rollout.progress"


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


# Every mutating API route, and the reads that reveal a secret, with the action they are audited as.
# tests/unit/users/test_audit_coverage.py fails if a mutating route is missing from here.
AUDITED_ROUTES: dict[tuple[str, str], Action] = {
    ("POST", "/api/v1/stores"): Action.STORE_CREATE,
    ("DELETE", "/api/v1/stores/{store_id}"): Action.STORE_DELETE,
    ("POST", "/api/v1/stores/{store_id}/upgrade"): Action.STORE_UPGRADE,
    ("POST", "/api/v1/stores/{store_id}/rollback"): Action.STORE_ROLLBACK,
    ("POST", "/api/v1/stores/{store_id}/verify"): Action.STORE_VERIFY,
    ("GET", "/api/v1/stores/{store_id}/admin-password"): Action.STORE_PASSWORD_REVEAL,
    ("POST", "/api/v1/stores/{store_id}/repair"): Action.STORE_REPAIR,
    ("PUT", "/api/v1/fleet/pins/{store_id}"): Action.STORE_PIN,
    ("DELETE", "/api/v1/fleet/pins/{store_id}"): Action.STORE_UNPIN,
    ("POST", "/api/v1/rollouts"): Action.ROLLOUT_CREATE,
    ("POST", "/api/v1/rollouts/{rollout_id}/pause"): Action.ROLLOUT_PAUSE,
    ("POST", "/api/v1/rollouts/{rollout_id}/resume"): Action.ROLLOUT_RESUME,
    ("POST", "/api/v1/rollouts/{rollout_id}/abort"): Action.ROLLOUT_ABORT,
    ("POST", "/api/v1/stores/{store_id}/domains"): Action.DOMAIN_ADD,
    ("POST", "/api/v1/stores/{store_id}/domains/{domain}/check"): Action.DOMAIN_CHECK,
    ("POST", "/api/v1/stores/{store_id}/domains/{domain}/primary"): Action.DOMAIN_PRIMARY,
    ("DELETE", "/api/v1/stores/{store_id}/domains/{domain}"): Action.DOMAIN_REMOVE,
    ("POST", "/api/v1/tokens"): Action.TOKEN_CREATE,
    ("DELETE", "/api/v1/tokens/{token_id}"): Action.TOKEN_REVOKE,
    ("POST", "/api/v1/users"): Action.USER_CREATE,
    ("PATCH", "/api/v1/users/{user_id}"): Action.USER_UPDATE,
    ("POST", "/api/v1/users/me/password"): Action.PASSWORD_CHANGE,
    # The dashboard's forms (app.pages).
    ("POST", "/login"): Action.LOGIN,
    ("POST", "/logout"): Action.LOGOUT,
    ("POST", "/account/tokens"): Action.TOKEN_CREATE,
    ("POST", "/account/tokens/{token_id}/revoke"): Action.TOKEN_REVOKE,
    ("POST", "/admin/users"): Action.USER_CREATE,
    ("POST", "/admin/users/{user_id}"): Action.USER_UPDATE,
    ("POST", "/stores"): Action.STORE_CREATE,
    ("POST", "/stores/{store_id}/delete"): Action.STORE_DELETE,
    ("POST", "/stores/{store_id}/upgrade"): Action.STORE_UPGRADE,
    ("POST", "/stores/{store_id}/rollback"): Action.STORE_ROLLBACK,
    ("POST", "/stores/{store_id}/verify"): Action.STORE_VERIFY,
    ("GET", "/stores/{store_id}/admin-password"): Action.STORE_PASSWORD_REVEAL,
    ("POST", "/stores/{store_id}/repair"): Action.STORE_REPAIR,
    ("POST", "/admin/fleet/pins/{store_id}"): Action.STORE_PIN,
    ("POST", "/admin/fleet/pins/{store_id}/remove"): Action.STORE_UNPIN,
    ("POST", "/admin/fleet/rollouts"): Action.ROLLOUT_CREATE,
    ("POST", "/admin/fleet/rollouts/{rollout_id}/pause"): Action.ROLLOUT_PAUSE,
    ("POST", "/admin/fleet/rollouts/{rollout_id}/resume"): Action.ROLLOUT_RESUME,
    ("POST", "/admin/fleet/rollouts/{rollout_id}/abort"): Action.ROLLOUT_ABORT,
    ("POST", "/stores/{store_id}/domains"): Action.DOMAIN_ADD,
    ("POST", "/stores/{store_id}/domains/{domain}/check"): Action.DOMAIN_CHECK,
    ("POST", "/stores/{store_id}/domains/{domain}/primary"): Action.DOMAIN_PRIMARY,
    ("POST", "/stores/{store_id}/domains/{domain}/remove"): Action.DOMAIN_REMOVE,
}
# Path parameters that name the target, and how the target is written.
_TARGET_PARAMS = {"store_id": "store", "token_id": "token", "user_id": "user", "rollout_id": "rollout"}
_LOCATION = re.compile(r"/api/v1/(stores|tokens|users|rollouts)/([^/?]+)$")
_LOCATION_KIND = {"stores": "store", "tokens": "token", "users": "user", "rollouts": "rollout"}


def outcome_for(status: int) -> Outcome:
    if status < 400:
        return Outcome.SUCCESS
    if status in (401, 403, 429):
        return Outcome.DENIED
    return Outcome.FAILURE


def _target(scope: Scope, headers: list[tuple[bytes, bytes]]) -> str:
    params = scope.get("path_params") or {}
    for name, kind in _TARGET_PARAMS.items():
        if name in params:
            return f"{kind}:{params[name]}"
    for key, value in headers:
        if key.lower() == b"location" and (match := _LOCATION.search(value.decode("latin-1"))):
            return f"{_LOCATION_KIND[match.group(1)]}:{match.group(2)}"
    return scope["path"]


class AuditMiddleware:
    """Audits every request that matched a route in AUDITED_ROUTES, once its status is known.

    The entry is written before the response starts, so a client that reads the audit log after a
    response always finds the entry. Routes refine what is recorded through request.state:
    `audit_action`, `audit_outcome`, `audit_target`, `audit_detail`; `user` is set by authentication.
    Routes that audit themselves (the login form) are simply not listed.
    """

    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], Action] | None = None) -> None:
        self.app = app
        self.routes = AUDITED_ROUTES if routes is None else routes
        # (route object id, method) -> action, built on the first request when every route exists.
        self._by_route: dict[tuple[int, str], Action] | None = None

    def _action_of(self, scope: Scope) -> Action | None:
        # The matched route object is in the scope, but its own path lacks the prefixes of the
        # routers it was included through; FastAPI's route contexts know the full path.
        if self._by_route is None:
            self._by_route = {
                (id(context.original_route), method): self.routes[(method, context.path)]
                for context in iter_route_contexts(scope["app"].routes)
                for method in (context.methods or ())
                if context.path is not None and (method, context.path) in self.routes
            }
        route = scope.get("route")
        return None if route is None else self._by_route.get((id(route), scope["method"]))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_audited(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                await self._record(scope, message["status"], list(message.get("headers", [])))
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except Exception:
            if not started:  # an unhandled error: the 500 still gets its audit entry
                await self._record(scope, 500, [])
            raise

    async def _record(self, scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        state: dict[str, Any] = scope.get("state") or {}
        action = state.get("audit_action") or self._action_of(scope)
        if action is None:
            return
        user = state.get("user")
        request = Request(scope)
        app_state = scope["app"].state
        fields = {
            "action": action,
            "outcome": state.get("audit_outcome") or outcome_for(status),
            "actor": Actor(user.id, user.name) if user is not None else ANONYMOUS,
            "client_ip": app_state.rate_limiter.client_ip(request),
            "target": state.get("audit_target") or _target(scope, headers),
            "detail": {"status": status, **(state.get("audit_detail") or {})},
        }
        await anyio.to_thread.run_sync(_store, app_state.session_factory, fields)


def _store(factory: sessionmaker[Session], fields: dict[str, Any]) -> None:
    try:
        with factory() as session:
            record(session, **fields)
    except SQLAlchemyError:
        # The action itself already happened; losing its audit row must be loud, not fatal.
        audit_log.exception(
            "audit entry could not be stored",
            extra={
                "audit": True,
                "stored": False,
                "action": str(fields["action"]),
                "target": fields["target"],
            },
        )
