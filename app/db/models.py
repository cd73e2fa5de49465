"""SQLModel tables: users, API tokens, stores, store domains, jobs, store events, audit log, schema
compatibility, rollouts and their steps.

Timestamps are stored as naive UTC (SQLite has no time zones) and read back as aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from app.db.engine import utcnow


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _ts(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _created() -> Any:
    return Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


# Job states that hold the store: at most one such job per store (partial unique index below).
ACTIVE_JOB_STATES = ("queued", "running")
_ACTIVE_SQL = "status IN ('queued', 'running')"
_LIVE_STORE_SQL = "status != 'deleted'"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # The role: admin or user (two roles, so a flag; the API shows it as `role`).
    is_admin: bool = Field(default=False, nullable=False)
    created_at: datetime = _created()
    # Argon2id (app.auth.passwords); None: the account logs in with API tokens only.
    password_hash: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    # A disabled user's tokens and sessions are refused on their next request.
    disabled: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # Per-user store limit set by an admin; None: STOREPLANE_MAX_STORES_PER_USER.
    max_stores: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # The server-side end of dashboard sessions: a session cookie is valid only while it carries the
    # current value. Logout, a password change and disabling the user move it on (app.auth.accounts).
    session_generation: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, server_default=text("0"))
    )


class ApiToken(SQLModel, table=True):
    """A bearer token. Only its SHA-256 is kept: tokens are 256-bit random, so a slow KDF adds nothing."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False, index=True))
    token_hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    # The first characters, so a person can tell their tokens apart without the secret.
    prefix: str = Field(sa_column=Column(String(16), nullable=False))
    # What the user called it ("CI", "laptop"); never part of the secret.
    name: str = Field(default="", sa_column=Column(String(64), nullable=False, server_default=""))
    created_at: datetime = _created()
    last_used_at: datetime | None = _ts()
    revoked_at: datetime | None = _ts()


class Store(SQLModel, table=True):
    __tablename__ = "stores"
    __table_args__ = (
        # The name is the store's public host (<name>.<baseDomain>), so it is unique across the
        # platform among live stores: two tenants can never share a host. A Deleted tombstone (its
        # namespace and Ingress are gone) frees it; a Deleting store still holds it.
        Index(
            "uq_stores_name_live",
            "name",
            unique=True,
            sqlite_where=text(_LIVE_STORE_SQL),
            postgresql_where=text(_LIVE_STORE_SQL),
        ),
        # The store list's order (newest first, then id; app.db.stores.LIST_ORDER), read backwards:
        # a page is an index range, not a sort of every store.
        Index("ix_stores_list_order", "created_at", "id"),
    )

    id: str = Field(sa_column=Column(String(16), primary_key=True))
    owner_id: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False, index=True))
    name: str = Field(sa_column=Column(String(30), nullable=False))
    engine: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    status_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    namespace: str = Field(sa_column=Column(String(63), nullable=False, unique=True))
    host: str = Field(sa_column=Column(String(253), nullable=False))
    helm_revision: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    # Extra chart values from the last upgrade request (never secrets: those live in the cluster).
    chart_values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(default=None, sa_column=Column(String(255), nullable=True))
    # SHA-256 of the create request body, to tell a replay from a conflicting reuse of the key.
    request_hash: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = _created()
    updated_at: datetime = _created()
    ready_at: datetime | None = _ts()
    deleted_at: datetime | None = _ts()
    # What the store runs (app/fleet/versions.py), read from Helm's record of the revision an action
    # deployed (and by the sweep): the store chart's version, the engine's own version (WooCommerce
    # plugin, Medusa image) and a digest of the values the platform applied. NULL: not known yet.
    chart_version: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    app_version: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    values_digest: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    # Pinned by an admin: rollouts leave the store where it is (app/fleet/rollouts.py).
    pinned: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    pinned_reason: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    # Drift between the live objects and the release (app/fleet/drift.py), written by the sweep:
    # NULL while not checked since the last revision; `drift` holds the readable differences and
    # the extra objects found ({"revision", "differences", "extras"}).
    drifted: bool | None = Field(default=None, sa_column=Column(Boolean, nullable=True))
    drift: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    drift_checked_at: datetime | None = _ts()
    # The host the deployed release serves as primary (every other host redirects to it); None: `host`.
    # Written only from what a store action applied, so it is what visitors actually get.
    primary_host: str | None = Field(default=None, sa_column=Column(String(253), nullable=True))


# Domain states in which the domain belongs to its store (app/domains/states.py CLAIMED).
_CLAIMED_DOMAIN_SQL = "state IN ('verified', 'active', 'removing')"


class StoreDomain(SQLModel, table=True):
    """A domain linked to a store (app/domains): its proof token, state and the last check's result."""

    __tablename__ = "store_domains"
    __table_args__ = (
        Index("uq_store_domains_store_name", "store_id", "name", unique=True),
        # A proven domain belongs to one store on the whole platform. Pending claims do not hold it, so
        # nobody can block a domain they cannot prove; the first store to prove it wins.
        Index(
            "uq_store_domains_claimed_name",
            "name",
            unique=True,
            sqlite_where=text(_CLAIMED_DOMAIN_SQL),
            postgresql_where=text(_CLAIMED_DOMAIN_SQL),
        ),
        Index("ix_store_domains_due", "state", "next_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(sa_column=Column(String(16), ForeignKey("stores.id"), nullable=False, index=True))
    # Lower-case ASCII; an IDN as punycode (app/domains/names.py): one spelling per domain.
    name: str = Field(sa_column=Column(String(253), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    # Published by the owner in TXT _storeplane.<name>; public by design, never a secret.
    token: str = Field(sa_column=Column(String(64), nullable=False))
    # What the last check found, or why the domain failed or is not served.
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A rollback stopped serving it: the sweep leaves it verified instead of serving it again.
    held: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    checks: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    created_at: datetime = _created()
    checked_at: datetime | None = _ts()
    next_check_at: datetime | None = _ts()
    expires_at: datetime | None = _ts()
    verified_at: datetime | None = _ts()
    activated_at: datetime | None = _ts()


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        # The database, not the workers, guarantees one active job per store.
        Index(
            "uq_jobs_one_active_per_store",
            "store_id",
            unique=True,
            sqlite_where=text(_ACTIVE_SQL),
            postgresql_where=text(_ACTIVE_SQL),
        ),
        Index("ix_jobs_claim", "status", "run_after"),
    )

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(sa_column=Column(String(16), ForeignKey("stores.id"), nullable=False, index=True))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    # queued → running → succeeded | failed | cancelled (running → queued on retry or lost lease)
    status: str = Field(sa_column=Column(String(16), nullable=False))
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    attempts: int = Field(default=0, nullable=False)
    max_attempts: int = Field(nullable=False)
    run_after: datetime = _created()
    # Set at the first pick-up (per kind: provisioning deadline, action deadline); past this
    # instant the job fails whatever its retries left. Time spent queued does not count.
    deadline_at: datetime | None = _ts()
    lease_owner: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    lease_expires_at: datetime | None = _ts(index=True)
    cancel_requested: bool = Field(default=False, nullable=False)
    # Set while a running job only waits on the cluster (pods, a Job, a namespace going away) and
    # so holds no worker slot: what it waits for, in words. NULL while it works (holds a slot).
    waiting_for: str | None = Field(default=None, sa_column=Column(String(200), nullable=True))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The HTTP request that caused the job, so the job's log lines can be traced back to it.
    request_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    created_at: datetime = _created()
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()


class StoreEvent(SQLModel, table=True):
    """The store's activity log: what happened, when, and how long it took."""

    __tablename__ = "store_events"

    id: int | None = Field(default=None, primary_key=True)
    store_id: str = Field(sa_column=Column(String(16), ForeignKey("stores.id"), nullable=False, index=True))
    job_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("jobs.id"), nullable=True))
    at: datetime = _created()
    step: str = Field(sa_column=Column(String(64), nullable=False))
    message: str = Field(sa_column=Column(Text, nullable=False))
    duration_ms: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))


class AuditEntry(SQLModel, table=True):
    """Who did what to what, from where, with what outcome, in which request, when (app.audit).

    Never holds a secret: app.audit.record scrubs the detail before it gets here.
    """

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, index=True))
    actor_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True, index=True))
    client_ip: str = Field(sa_column=Column(String(64), nullable=False))
    action: str = Field(sa_column=Column(String(40), nullable=False, index=True))
    target: str = Field(sa_column=Column(String(200), nullable=False, index=True))
    outcome: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    request_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True, index=True))
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False, server_default="{}"))


class SchemaCompatibility(SQLModel, table=True):
    """Which images may run on a schema revision: written by `python -m app migrate` in the
    migrations' own transaction, read by an older image after a rollback (app/db/migrate.py)."""

    __tablename__ = "schema_compatibility"

    revision: str = Field(sa_column=Column(String(32), primary_key=True))
    # The oldest schema head (image) whose code runs on `revision` unchanged.
    oldest_compatible_revision: str = Field(sa_column=Column(String(32), nullable=False))
    recorded_at: datetime = _created()


# Rollouts that still hold the fleet: at most one at a time (partial unique index below), so two
# rollouts can never want the same store. A halted or paused rollout waits for resume or abort.
OPEN_ROLLOUT_STATES = ("running", "paused", "halted")
_OPEN_ROLLOUT_SQL = "status IN ('running', 'paused', 'halted')"


class Rollout(SQLModel, table=True):
    """A rollout of the platform's current store chart and defaults to a selection of stores, in a
    canary and waves (app/fleet/rollouts.py); its steps are ordinary upgrade jobs."""

    __tablename__ = "rollouts"
    __table_args__ = (
        Index(
            "uq_rollouts_one_open",
            "exclusive",
            unique=True,
            sqlite_where=text(_OPEN_ROLLOUT_SQL),
            postgresql_where=text(_OPEN_ROLLOUT_SQL),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_by: int = Field(sa_column=Column(Integer, ForeignKey("users.id"), nullable=False))
    # running → paused ⇄ running; running → halted (failures past the threshold, or the chart
    # changed) → running (resume) ; any open → aborted; running → completed.
    status: str = Field(sa_column=Column(String(16), nullable=False, index=True))
    status_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # What was asked for: {"all": true}, {"engine": "medusa"} or {"stores": [ids]}.
    selection: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The chart and defaults this rollout moves stores to (app/fleet/target.py, FleetTarget.as_dict).
    target: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    canary: int = Field(sa_column=Column(Integer, nullable=False))
    wave_size: int = Field(sa_column=Column(Integer, nullable=False))
    parallelism: int = Field(sa_column=Column(Integer, nullable=False))
    # Failed stores the rollout tolerates; one more halts it (a failed canary always does).
    max_failures: int = Field(sa_column=Column(Integer, nullable=False))
    helm_test: bool = Field(sa_column=Column(Boolean, nullable=False))
    # Always true: the column the one-open-rollout index is on.
    exclusive: bool = Field(default=True, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = _created()
    updated_at: datetime = _created()
    finished_at: datetime | None = _ts()


class RolloutStep(SQLModel, table=True):
    """One store in a rollout: its wave (0 is the canary), its state and the job acting for it."""

    __tablename__ = "rollout_steps"
    __table_args__ = (
        Index("uq_rollout_steps_store", "rollout_id", "store_id", unique=True),
        Index("ix_rollout_steps_store_state", "store_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rollout_id: int = Field(sa_column=Column(Integer, ForeignKey("rollouts.id"), nullable=False, index=True))
    store_id: str = Field(sa_column=Column(String(16), ForeignKey("stores.id"), nullable=False))
    wave: int = Field(sa_column=Column(Integer, nullable=False))
    position: int = Field(sa_column=Column(Integer, nullable=False))
    # pending → upgrading → [testing →] succeeded | failed (testing → rolling-back → failed);
    # pending → skipped (aborted, pinned, deleted, already current).
    state: str = Field(sa_column=Column(String(16), nullable=False))
    job_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("jobs.id"), nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default=text("0")))
    from_revision: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    from_version: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    to_revision: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
