"""Store domain data functions shared by the API, the dashboard, the sweep and the job outcomes.

Each runs inside the caller's transaction. A state change goes through app.domains.states.next_state;
a change that needs the store's release to change (serve a domain, stop serving one, another primary)
queues a `domains` store action in the same transaction, like every other store action.

Who owns a domain is the database's to decide: a partial unique index holds a proven (verified,
active or removing) name for one store only. Two stores proving one name at once: on SQLite the write
lock serialises them and the second sees the first; on PostgreSQL the second's update waits on the
index entry and fails when the first commits. Either way the second is `failed` as taken.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.engine import utcnow
from app.db.events import append_event
from app.db.models import Job, Store, StoreDomain
from app.db.stores import request_action
from app.domains.dns import CheckResult
from app.domains.errors import (
    DomainError,
    DomainExists,
    DomainLimit,
    DomainNotFound,
    DomainNotVerified,
    DomainsNotEnabled,
    DomainTaken,
)
from app.domains.names import normalise, refuse_for_platform
from app.domains.states import CHECKABLE, CLAIMED, SERVABLE, DomainEvent, DomainState, next_state
from app.jobs.queue import ActiveJobExists, active_job
from app.lifecycle import Action, IllegalTransition, StoreStatus
from app.settings import Settings

STEP = "domains"  # the activity-log step of every domain event
E, S = DomainEvent, DomainState


def list_domains(session: Session, store_id: str) -> list[StoreDomain]:
    query = select(StoreDomain).where(StoreDomain.store_id == store_id).order_by(StoreDomain.id)
    return list(session.execute(query).scalars())


def find_domain(session: Session, store: Store, raw: str) -> StoreDomain:
    """This store's domain by any spelling of its name; DomainNotFound otherwise."""
    try:
        name = normalise(raw)
    except DomainError:
        name = None
    row = None
    if name is not None:
        query = select(StoreDomain).where(StoreDomain.store_id == store.id, StoreDomain.name == name)
        row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise DomainNotFound(f"Store {store.name} has no linked domain {raw!r}.")
    return row


def _claimed_elsewhere(session: Session, name: str, store_id: str) -> bool:
    query = select(
        exists().where(
            StoreDomain.name == name,
            StoreDomain.store_id != store_id,
            StoreDomain.state.in_(CLAIMED),  # type: ignore[attr-defined]
        )
    )
    return bool(session.execute(query).scalar())


def _lock_store(session: Session, store: Store) -> Store:
    """The store row, locked (PostgreSQL) so that counting its domains and adding one is one step."""
    locked = session.execute(select(Store).where(Store.id == store.id).with_for_update()).scalar_one()
    return locked


def add_domain(session: Session, store: Store, raw: object, *, settings: Settings) -> StoreDomain:
    """Link `raw` to the store as pending, with a fresh token; raises a DomainError subclass."""
    if not settings.domains_enabled:
        raise DomainsNotEnabled(
            "Custom domains are not enabled on this platform: the operator has not set its public "
            "ingress address (STOREPLANE_PUBLIC_INGRESS_HOST or STOREPLANE_PUBLIC_INGRESS_IPS)."
        )
    name = normalise(raw)
    refuse_for_platform(name, base_domain=settings.base_domain, ingress_host=settings.public_ingress_host)
    store = _lock_store(session, store)
    if store.status in (StoreStatus.DELETING, StoreStatus.DELETED):
        raise DomainError(f"Store {store.name} is {store.status}; domains cannot be linked to it.")
    existing = list_domains(session, store.id)
    if any(row.name == name for row in existing):
        raise DomainExists(f"{name} is already linked to this store.")
    if len(existing) >= settings.max_domains_per_store:
        raise DomainLimit(
            f"A store may have at most {settings.max_domains_per_store} linked domains; "
            f"remove one before adding {name}."
        )
    if _claimed_elsewhere(session, name, store.id):
        raise DomainTaken(
            f"{name} is already connected to another store on this platform. If it is yours, remove it "
            "there first."
        )
    now = utcnow()
    row = StoreDomain(
        store_id=store.id,
        name=name,
        state=S.PENDING,
        token=new_token(),
        reason="Waiting for the DNS records below.",
        created_at=now,
        # The first automatic check leaves the owner time to create the records; "Check now" is at once.
        next_check_at=now + timedelta(seconds=settings.domain_check_base_seconds),
        expires_at=now + timedelta(seconds=settings.domain_pending_expiry_seconds),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # the same name added to this store by a parallel request
        raise DomainExists(f"{name} is already linked to this store.") from exc
    append_event(session, store_id=store.id, step=STEP, message=f"{name} added: waiting for its DNS records")
    return row


def _span(seconds: float) -> str:
    """72 hours, 30 minutes, 45 seconds: how a person says a setting's duration."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:g} seconds"


def new_token() -> str:
    """The value of TXT _storeplane.<domain>: 128 random bits, unguessable, unique per domain."""
    return "storeplane-verify-" + secrets.token_hex(16)


def check_delay(checks: int, settings: Settings) -> float:
    """Seconds until a pending domain that failed `checks` checks is looked at again."""
    base, cap = settings.domain_check_base_seconds, settings.domain_check_max_seconds
    return min(cap, base * 2 ** max(checks - 1, 0))


def record_check(
    session: Session,
    domain_id: int,
    result: CheckResult,
    *,
    settings: Settings,
    request_id: str | None = None,
) -> StoreDomain | None:
    """Apply one DNS check's result to the domain (unless it was removed or moved on meanwhile)."""
    row = session.get(StoreDomain, domain_id, with_for_update=True)
    if row is None or row.state not in CHECKABLE:
        return row
    now = utcnow()
    row.checks += 1
    row.checked_at = now
    if result.passed:
        if not _claimed_elsewhere(session, row.name, row.store_id) and _become_verified(session, row, now):
            append_event(session, store_id=row.store_id, step=STEP, message=f"{row.name} verified by DNS")
            request_serving(session, row.store_id, settings=settings, request_id=request_id)
        else:
            _taken(session, row)
        return row
    if row.state == S.PENDING and row.expires_at is not None and row.expires_at <= now:
        _expire(session, row, settings, result.reason)
        return row
    row.state = next_state(row.state, E.CHECK_FAILED)
    row.reason = result.reason
    # The sweep re-checks pending domains only; a failed one waits for its owner's "Check now".
    row.next_check_at = (
        now + timedelta(seconds=check_delay(row.checks, settings)) if row.state == S.PENDING else None
    )
    return row


def _become_verified(session: Session, row: StoreDomain, now: datetime) -> bool:
    """Verified, unless another store's proof of the same name committed first (PostgreSQL)."""
    domain_id = row.id
    try:
        with session.begin_nested():
            row.state = next_state(row.state, E.CHECK_PASSED)
            row.reason, row.verified_at, row.next_check_at, row.held = None, now, None, False
            session.flush()
    except IntegrityError:
        session.expire(row)
        reloaded = session.get(StoreDomain, domain_id)
        assert reloaded is not None and reloaded is row
        return False
    return True


def _taken(session: Session, row: StoreDomain) -> None:
    row.state = next_state(row.state, E.TAKEN)
    row.next_check_at = None
    row.reason = (
        f"{row.name} was proven by another store on this platform first; remove it here, or there if that "
        "store is yours too."
    )
    append_event(
        session, store_id=row.store_id, step=STEP, message=f"{row.name} failed: another store holds it"
    )


def _expire(session: Session, row: StoreDomain, settings: Settings, last: str) -> None:
    row.state = next_state(row.state, E.EXPIRED)
    row.next_check_at = None
    row.reason = (
        f"Not proven within {_span(settings.domain_pending_expiry_seconds)}. Last check: {last} "
        "Fix the records and press 'Check now', or remove the domain."
    )
    append_event(session, store_id=row.store_id, step=STEP, message=f"{row.name} failed: not proven in time")


def expire_overdue(session: Session, *, settings: Settings, now: datetime) -> list[str]:
    """Pending domains past their expiry become failed; returns their names."""
    query = (
        select(StoreDomain)
        .where(StoreDomain.state == S.PENDING, StoreDomain.expires_at <= now)  # type: ignore[operator]
        .with_for_update(skip_locked=True)
    )
    expired = []
    for row in session.execute(query).scalars():
        _expire(session, row, settings, row.reason or "no check ran.")
        expired.append(row.name)
    return expired


def due_checks(session: Session, *, now: datetime, limit: int) -> list[tuple[int, str, str]]:
    """(id, name, token) of pending domains whose next check is due, the longest-waiting first."""
    query = (
        select(StoreDomain.id, StoreDomain.name, StoreDomain.token)
        .where(StoreDomain.state == S.PENDING, StoreDomain.next_check_at <= now)  # type: ignore[operator]
        .order_by(StoreDomain.next_check_at, StoreDomain.id)
        .limit(limit)
    )
    return [(row.id, row.name, row.token) for row in session.execute(query)]


def request_serving(
    session: Session, store_id: str, *, settings: Settings, request_id: str | None = None, change: str = ""
) -> bool:
    """Queue the `domains` store action when the store is Ready and idle; otherwise leave it to the
    sweep (or to the action already queued, which reads the domains when it starts). True if queued."""
    store = session.get(Store, store_id)
    if store is None or store.status != StoreStatus.READY or active_job(session, store_id) is not None:
        return False
    try:
        request_action(
            session,
            store,
            Action.DOMAINS,
            settings=settings,
            args={"change": change or _pending_change(session, store)},
            request_id=request_id,
        )
    except (ActiveJobExists, IllegalTransition):
        return False  # another request got there first: that action serves the domains
    return True


def _pending_change(session: Session, store: Store) -> str:
    rows = list_domains(session, store.id)
    parts = [f"serve {r.name}" for r in rows if r.state == S.VERIFIED]
    parts += [f"stop serving {r.name}" for r in rows if r.state == S.REMOVING]
    return ", ".join(parts) or "apply the store's domains"


def request_primary(
    session: Session, store: Store, raw: str, *, settings: Settings, request_id: str | None = None
) -> str:
    """Queue the store action that serves `raw` (a verified domain, or the store's own host) as the
    primary address; returns the host. The primary changes when that action has applied it."""
    try:
        name = normalise(raw)
    except DomainError:
        name = ""
    if name == store.host:
        target = ""
    else:
        row = find_domain(session, store, raw)
        if row.state not in SERVABLE:
            raise DomainNotVerified(
                f"{row.name} is {row.state}; only a verified domain can become the primary address."
            )
        target = row.name
    if target == (store.primary_host or ""):
        raise DomainError(f"{target or store.host} is already the primary address of store {store.name}.")
    host = target or store.host
    request_action(
        session,
        store,
        Action.DOMAINS,
        settings=settings,
        args={"primary": target, "change": f"make {host} the primary address"},
        request_id=request_id,
    )
    return host


def remove_domain(
    session: Session, store: Store, raw: str, *, settings: Settings, request_id: str | None = None
) -> StoreDomain | None:
    """Unlink a domain. One the release may serve stays `removing` (held, so no other store can take
    it while this store's Ingress still answers for it) until a store action has applied the release
    without it; any other is deleted at once. Returns the row, or None when it is gone already."""
    row = find_domain(session, store, raw)
    may_be_served = row.state == S.ACTIVE or (
        row.state in (S.VERIFIED, S.REMOVING) and active_job(session, store.id) is not None
    )
    if row.state in CHECKABLE or not may_be_served:
        session.delete(row)
        append_event(session, store_id=store.id, step=STEP, message=f"{row.name} removed: it is free again")
        session.flush()
        return None
    row.state = next_state(row.state, E.REMOVE)
    row.reason = "Removed: the store stops serving it, then it is free for any store."
    row.next_check_at = None
    append_event(session, store_id=store.id, step=STEP, message=f"{row.name} removal requested")
    request_serving(
        session, store.id, settings=settings, request_id=request_id, change=f"stop serving {row.name}"
    )
    return row


def applied_set(session: Session, store: Store, args: dict[str, Any]) -> dict[str, Any]:
    """The domains a starting store action serves: every verified or active one, and the primary the
    request asked for (else the current one) if it is still among them."""
    hosts = sorted(r.name for r in list_domains(session, store.id) if r.state in SERVABLE)
    primary = args.get("primary", store.primary_host or "")
    return {"hosts": hosts, "primary": primary if primary in hosts else ""}


def adopt_applied(session: Session, store: Store, applied: dict[str, Any], *, now: datetime) -> None:
    """A store action deployed `applied`: served domains are active, removed ones are freed."""
    _adopt(session, store, set(applied.get("hosts", [])), applied.get("primary") or "", now=now, why="")


def adopt_revision(
    session: Session, store: Store, served: dict[str, Any], revision: int, *, now: datetime
) -> None:
    """A rollback deployed `revision` again, which serves `served`: the rows follow it. Domains it does
    not serve go back to verified and are held, so the sweep does not undo the rollback."""
    why = f"not served since the rollback to revision {revision}; the next upgrade or domain change serves it"
    _adopt(session, store, set(served.get("hosts", [])), served.get("primary") or "", now=now, why=why)


def _adopt(session: Session, store: Store, hosts: set[str], primary: str, *, now: datetime, why: str) -> None:
    for row in list_domains(session, store.id):
        if row.name in hosts and row.state in SERVABLE:
            if row.state != S.ACTIVE:
                append_event(session, store_id=store.id, step=STEP, message=f"{row.name} is served")
            row.state = next_state(row.state, E.SERVED)
            row.activated_at = row.activated_at or now
            row.reason, row.held = None, False
        elif row.name not in hosts and row.state == S.REMOVING:
            session.delete(row)
            append_event(
                session, store_id=store.id, step=STEP, message=f"{row.name} removed: it is free again"
            )
        elif row.name not in hosts and row.state == S.ACTIVE:
            row.state = next_state(row.state, E.DROPPED)
            row.reason, row.held = why or "not served by the deployed release", bool(why)
            append_event(session, store_id=store.id, step=STEP, message=f"{row.name} is no longer served")
    store.primary_host = primary if primary in hosts else None


def revision_served(store: Store, values: dict[str, Any] | None) -> dict[str, Any]:
    """The domains a release's values serve: `ingress.extraHosts` and `primaryHost` (none if the
    revision predates custom domains)."""
    values = values or {}
    ingress = values.get("ingress") if isinstance(values.get("ingress"), dict) else {}
    hosts = sorted({str(h) for h in (ingress.get("extraHosts") or []) if str(h) != store.host})
    primary = str(values.get("primaryHost") or "")
    return {"hosts": hosts, "primary": primary if primary in hosts else ""}


def check_revision_domains(session: Session, store: Store, served: dict[str, Any], revision: int) -> None:
    """A rollback must not serve a domain the store no longer holds: another store may own it now."""
    rows = {r.name: r for r in list_domains(session, store.id)}
    for name in served["hosts"]:
        row = rows.get(name)
        if row is None or row.state not in SERVABLE:
            now = "is being removed" if row is not None else "is no longer linked to it"
            raise DomainError(
                f"Revision {revision} serves {name}, which {now}; link and verify it again first, or roll "
                "back to another revision."
            )


def stores_to_serve(session: Session) -> list[str]:
    """Ready, idle stores with a verified domain not served yet (and not held back by a rollback) or a
    removed one still served: each needs a `domains` store action."""
    busy = select(Job.store_id).where(Job.status.in_(("queued", "running")))  # type: ignore[attr-defined]
    wanted = (
        select(StoreDomain.store_id)
        .join(Store, Store.id == StoreDomain.store_id)
        .where(
            Store.status == StoreStatus.READY,
            StoreDomain.store_id.not_in(busy),  # type: ignore[attr-defined]
            ((StoreDomain.state == S.VERIFIED) & (StoreDomain.held == False))  # noqa: E712 - SQL
            | (StoreDomain.state == S.REMOVING),
        )
        .distinct()
    )
    return list(session.execute(wanted).scalars())


def free_domains(session: Session, store_id: str) -> int:
    """Delete every domain of a store that is gone; returns how many."""
    result = session.execute(delete(StoreDomain).where(StoreDomain.store_id == store_id))
    return result.rowcount or 0


def free_domains_of_deleted_stores(session: Session) -> int:
    """Domains left on Deleted stores (by an older version, which did not know them) are freed."""
    deleted = select(Store.id).where(Store.status == StoreStatus.DELETED)
    result = session.execute(delete(StoreDomain).where(StoreDomain.store_id.in_(deleted)))  # type: ignore[attr-defined]
    return result.rowcount or 0
