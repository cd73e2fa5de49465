"""Store data functions shared by the JSON API and the dashboard: each change and its job, together.

Every mutating function runs inside the caller's transaction and enqueues the job in it, so a
request either changes the store *and* schedules the work, or does neither.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.engine import utcnow
from app.db.events import append_event
from app.db.models import Store, User
from app.jobs.queue import JobStatus, active_job, enqueue
from app.lifecycle import Action, StoreStatus, on_request
from app.limits import enforce_store_limits, serialise_store_creation
from app.settings import Settings


class NameTaken(Exception):
    """The name is held by a live store. Whose is said only to its owner: the host is public, the
    owner is not."""

    def __init__(self, name: str, host: str, *, yours: bool) -> None:
        if yours:
            message = f"You already have a store named {name!r}; choose another name or delete that store."
        else:
            message = (
                f"The name {name!r} is taken: {host} already belongs to another store. Choose another name."
            )
        super().__init__(message)


class NameReserved(Exception):
    """An operator reserved this name (STOREPLANE_RESERVED_NAMES), e.g. the dashboard's own host."""

    def __init__(self, name: str) -> None:
        super().__init__(f"The store name {name!r} is reserved on this platform; choose another one.")


class IdempotencyMismatch(Exception):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used with a different request body; "
            "send the same body to get the same store, or use a new key for a new store."
        )


def request_fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def new_store_id(owner_id: int, idempotency_key: str | None) -> str:
    """Short and DNS-safe; deterministic per (owner, key) so that a replayed create finds its store."""
    if idempotency_key is None:
        return "s-" + secrets.token_hex(6)
    return "s-" + hashlib.sha256(f"{owner_id}\x00{idempotency_key}".encode()).hexdigest()[:12]


def namespace_for(store_id: str) -> str:
    return f"store-{store_id}"


def create_store(
    session: Session,
    *,
    owner: User,
    name: str,
    engine: str,
    settings: Settings,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> tuple[Store, bool]:
    """Create a Pending store and its provision job. Returns (store, created).

    A replay (same key, same body) returns the existing store with created=False.
    """
    assert owner.id is not None
    if name in settings.reserved_names:
        raise NameReserved(name)
    # Creations take turns (PostgreSQL: one advisory lock; SQLite: the write lock every transaction
    # takes), and the turn is taken before anything is read: a replay then always finds the store
    # its twin committed, instead of counting that store against the limit (a 409 for a retry).
    serialise_store_creation(session)
    fingerprint = request_fingerprint({"name": name, "engine": engine})
    store_id = new_store_id(owner.id, idempotency_key)
    host = f"{name}.{settings.base_domain}"
    existing = session.get(Store, store_id)
    if existing is None:
        # The name is the public host: it is taken whoever holds it (the index enforces the same).
        holder = session.execute(
            select(Store).where(Store.name == name, Store.status != "deleted")
        ).scalar_one_or_none()
        if holder is not None and holder.id != store_id:
            raise NameTaken(name, host, yours=holder.owner_id == owner.id)
        # holder.id == store_id: a parallel request with the same key committed between our two reads.
        existing = holder
    if existing is not None:
        if idempotency_key is None:  # a random id collided: astronomically rare, but never reuse a store
            raise RuntimeError("store id collision; retry the request")
        if existing.owner_id != owner.id or existing.request_hash != fingerprint:
            raise IdempotencyMismatch()
        return existing, False
    enforce_store_limits(session, owner, settings)  # counted in this transaction: no race past a limit
    now = utcnow()
    store = Store(
        id=store_id,
        owner_id=owner.id,
        name=name,
        engine=engine,
        status=StoreStatus.PENDING,
        namespace=namespace_for(store_id),
        host=host,
        idempotency_key=idempotency_key,
        request_hash=fingerprint,
        created_at=now,
        updated_at=now,
    )
    session.add(store)
    session.flush()
    enqueue(
        session,
        store_id=store_id,
        kind=Action.PROVISION,
        max_attempts=settings.job_max_attempts,
        deadline_at=now + timedelta(seconds=settings.provision_deadline),
        request_id=request_id,
    )
    append_event(session, store_id=store_id, step="create", message=f"{engine} store {name!r} requested")
    return store, True


def request_action(
    session: Session,
    store: Store,
    action: Action,
    *,
    settings: Settings,
    args: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> Store:
    """Move the store for `action` and queue its job (raises IllegalTransition / ActiveJobExists)."""
    becomes = on_request(action, store.status)
    if action == Action.DELETE:
        if store.status == StoreStatus.DELETING:
            return store  # deleting is already under way: asking again changes nothing
        _make_way_for_delete(session, store)
    now = utcnow()
    if action != Action.DELETE or active_job(session, store.id) is None:
        enqueue(
            session,
            store_id=store.id,
            kind=action,
            max_attempts=settings.job_max_attempts,
            args=args,
            request_id=request_id,
        )
    if becomes != store.status:
        store.status, store.status_reason = becomes, None
    store.updated_at = now
    detail = f" to revision {args['revision']}" if args and "revision" in args else ""
    change = f": {args['change']}" if args and "change" in args else ""  # a domains action says what
    append_event(session, store_id=store.id, step=action, message=f"{action}{detail} requested{change}")
    return store


def _make_way_for_delete(session: Session, store: Store) -> None:
    """A queued job is dropped; a running one is asked to stop (the worker then queues the delete)."""
    job = active_job(session, store.id)
    if job is None:
        return
    if job.status == JobStatus.QUEUED:
        job.status, job.finished_at = JobStatus.CANCELLED, utcnow()
        session.flush()
        append_event(session, store_id=store.id, job_id=job.id, step=job.kind, message="cancelled by delete")
    else:
        job.cancel_requested = True
        append_event(
            session,
            store_id=store.id,
            job_id=job.id,
            step=job.kind,
            message="stopping it to delete the store",
        )


def visible_store(session: Session, user: User, store_id: str) -> Store | None:
    """The store if `user` may see it (owner or admin); None otherwise, so others' stores look absent."""
    store = session.get(Store, store_id)
    if store is None or (store.owner_id != user.id and not user.is_admin):
        return None
    return store


def list_stores(session: Session, user: User, *, include_deleted: bool = False) -> list[Store]:
    query = select(Store).order_by(Store.created_at.desc(), Store.id)  # type: ignore[attr-defined]
    if not user.is_admin:
        query = query.where(Store.owner_id == user.id)
    if not include_deleted:
        query = query.where(Store.status != StoreStatus.DELETED)
    return list(session.execute(query).scalars())
