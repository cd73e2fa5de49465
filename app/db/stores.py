"""Store data functions shared by the JSON API and the dashboard: each change and its job, together.

Every mutating function runs inside the caller's transaction and enqueues the job in it, so a
request either changes the store *and* schedules the work, or does neither.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, literal, select, tuple_
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.engine import utcnow
from app.db.events import append_event
from app.db.models import Store, User, UTCDateTime
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


# The list's order: newest first, ties (same microsecond) by id, so the order is total and a keyset
# position names exactly one place in it. Both descending, so one plain index (ix_stores_list_order,
# created_at + id) serves it read backwards, and a position is a single row-value comparison.
LIST_ORDER = (col(Store.created_at).desc(), col(Store.id).desc())
Position = tuple[datetime, str]  # (created_at, id) of a store in LIST_ORDER


@dataclass(frozen=True)
class StoreFilter:
    """What a list asks for; visibility (owner or admin) is applied on top, never taken from here."""

    statuses: tuple[str, ...] = ()  # any of these; 'deleted' among them lists tombstones too
    engines: tuple[str, ...] = ()
    owner: str | None = None  # a user name
    name_prefix: str | None = None
    include_deleted: bool = False  # without statuses: also the Deleted tombstones


@dataclass(frozen=True)
class StoreSlice:
    stores: list[Store]  # in LIST_ORDER
    total: int  # stores matching the filter, on every page
    more_after: bool  # stores follow the last one
    more_before: bool  # stores precede the first one
    start: int | None = None  # how many precede the first one (only when asked: one more count)


def _matching(user: User, f: StoreFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not user.is_admin:
        where.append(Store.owner_id == user.id)
    if f.statuses:
        where.append(col(Store.status).in_(f.statuses))
    elif not f.include_deleted:
        where.append(Store.status != StoreStatus.DELETED)
    if f.engines:
        where.append(col(Store.engine).in_(f.engines))
    if f.owner is not None:
        where.append(Store.owner_id == select(User.id).where(User.name == f.owner).scalar_subquery())
    if f.name_prefix:
        where.append(col(Store.name).startswith(f.name_prefix, autoescape=True))
    return where


def _row_key() -> ColumnElement[Any]:
    return tuple_(col(Store.created_at), col(Store.id))


def _as_key(p: Position) -> ColumnElement[Any]:
    return tuple_(literal(p[0], UTCDateTime()), literal(p[1]))


def _after(p: Position) -> ColumnElement[bool]:
    """Stores that come after `p` in LIST_ORDER: older, or as old with a smaller id."""
    return _row_key() < _as_key(p)


def _before(p: Position) -> ColumnElement[bool]:
    return _row_key() > _as_key(p)


def position_of(store: Store) -> Position:
    return store.created_at, store.id


def list_page(
    session: Session,
    user: User,
    f: StoreFilter,
    *,
    limit: int,
    after: Position | None = None,
    before: Position | None = None,
    count_start: bool = False,
) -> StoreSlice:
    """One page of the stores `user` may see that match `f`, in LIST_ORDER (keyset pagination).

    `after`: the page following that position; `before`: the page preceding it — unless nothing
    precedes it, then the first page (a page back to the start is always a full first page). A store
    created while someone pages is newer than every position already handed out, so it never shifts
    a later page; a deleted one just stops being listed. Nothing is skipped or repeated.
    """
    where = _matching(user, f)
    total = session.execute(select(func.count()).select_from(Store).where(*where)).scalar_one()
    if before is not None:
        newest_last = (col(Store.created_at).asc(), col(Store.id).asc())
        query = select(Store).where(*where, _before(before)).order_by(*newest_last).limit(limit + 1)
        rows = list(session.execute(query).scalars())
        if len(rows) > limit:  # a full page, and more before it
            stores = rows[:limit][::-1]
            start = _count_before(session, where, position_of(stores[0])) if count_start else None
            return StoreSlice(stores, total, more_after=True, more_before=True, start=start)
        after = None  # at most a page precedes the position: that is the first page
    query = select(Store).where(*where)
    if after is not None:
        query = query.where(_after(after))
    rows = list(session.execute(query.order_by(*LIST_ORDER).limit(limit + 1)).scalars())
    stores = rows[:limit]
    more_before = False
    if after is not None and stores:  # (an empty page past the end has no "before": start again)
        first = select(Store.id).where(*where, _before(position_of(stores[0]))).limit(1)
        more_before = session.execute(first).first() is not None
    start = None
    if count_start:
        start = _count_before(session, where, position_of(stores[0])) if stores and more_before else 0
    return StoreSlice(stores, total, more_after=len(rows) > limit, more_before=more_before, start=start)


def _count_before(session: Session, where: list[ColumnElement[bool]], first: Position) -> int:
    query = select(func.count()).select_from(Store).where(*where, _before(first))
    return session.execute(query).scalar_one()
