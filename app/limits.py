"""Store limits: per user (default 3, overridable per user by an admin), global, and concurrent
provisioning per user. Deciding is pure; counting is the caller's job, in the same transaction as
the insert, so two concurrent creates cannot both squeeze under the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app import metrics
from app.db.models import Store, User
from app.lifecycle import StoreStatus
from app.settings import Settings

# The limit names used in errors, metrics and the API; stable, clients may match on them.
STORES_PER_USER = "stores_per_user"
STORES_GLOBAL = "stores_global"
PROVISIONING_PER_USER = "provisioning_per_user"


class LimitExceeded(Exception):
    """A store limit is reached."""

    def __init__(self, limit: str, value: int, usage: int, status_code: int, hint: str) -> None:
        self.limit = limit
        self.value = value
        self.usage = usage
        self.status_code = status_code
        super().__init__(f"limit {limit} reached: {usage} of {value} in use; {hint}")


@dataclass(frozen=True)
class StoreLimits:
    per_user: int
    global_max: int
    provisioning_per_user: int

    @classmethod
    def for_user(
        cls, *, default_per_user: int, user_override: int | None, global_max: int, provisioning_per_user: int
    ) -> StoreLimits:
        per_user = default_per_user if user_override is None else user_override
        return cls(per_user=per_user, global_max=global_max, provisioning_per_user=provisioning_per_user)


@dataclass(frozen=True)
class StoreUsage:
    """Live (not deleted) stores of the user, of everyone, and the user's stores provisioning now."""

    user_stores: int
    all_stores: int
    user_provisioning: int


def check_can_create(limits: StoreLimits, usage: StoreUsage) -> None:
    """Raise LimitExceeded naming the first limit a new store would break.

    Store counts are 409 (the state must change: delete a store or get the limit raised); the
    provisioning limit is 429 (it clears by itself when a provisioning run ends).
    """
    if usage.user_stores >= limits.per_user:
        _refuse(
            STORES_PER_USER,
            limits.per_user,
            usage.user_stores,
            409,
            "delete one of your stores or ask an admin to raise your limit",
        )
    if usage.all_stores >= limits.global_max:
        _refuse(
            STORES_GLOBAL,
            limits.global_max,
            usage.all_stores,
            409,
            "the platform is full; ask an operator to raise the global limit",
        )
    if usage.user_provisioning >= limits.provisioning_per_user:
        _refuse(
            PROVISIONING_PER_USER,
            limits.provisioning_per_user,
            usage.user_provisioning,
            429,
            "wait until one of your stores finishes provisioning",
        )


def _refuse(limit: str, value: int, usage: int, status: int, hint: str) -> None:
    metrics.LIMIT_REJECTIONS.labels(limit=limit).inc()
    raise LimitExceeded(limit, value, usage, status, hint)


# Stores that count as "provisioning": queued for a worker or being installed.
_PROVISIONING = (StoreStatus.PENDING, StoreStatus.PROVISIONING)
# Any constant works; it names the one lock all store creations share on PostgreSQL.
_CREATE_LOCK_KEY = 0x53504C4E


def count_usage(session: Session, owner_id: int) -> StoreUsage:
    live = Store.status != StoreStatus.DELETED
    user_stores, user_provisioning = session.execute(
        select(
            func.count(),
            func.count().filter(Store.status.in_(_PROVISIONING)),  # type: ignore[attr-defined]
        ).where(Store.owner_id == owner_id, live)
    ).one()
    all_stores = session.execute(select(func.count()).select_from(Store).where(live)).scalar_one()
    return StoreUsage(user_stores=user_stores, all_stores=all_stores, user_provisioning=user_provisioning)


def serialise_store_creation(session: Session) -> None:
    """Make this transaction's store creation wait for any other in flight (until commit/rollback).

    SQLite's BEGIN IMMEDIATE already serialises writers; on PostgreSQL a transaction-scoped advisory
    lock does (taken again in the same transaction, it is granted at once).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CREATE_LOCK_KEY})


def enforce_store_limits(session: Session, owner: User, settings: Settings) -> None:
    """Raise LimitExceeded if `owner` may not create another store now.

    Call it in the transaction that inserts the store. Counting and inserting must not interleave
    with another creation, for the global limit as much as the per-user one: the transaction takes
    its turn first (`serialise_store_creation`; create_store already did, before its replay check).
    """
    assert owner.id is not None
    serialise_store_creation(session)
    limits = StoreLimits.for_user(
        default_per_user=settings.max_stores_per_user,
        user_override=owner.max_stores,
        global_max=settings.max_stores_global,
        provisioning_per_user=settings.max_provisioning_per_user,
    )
    check_can_create(limits, count_usage(session, owner.id))
