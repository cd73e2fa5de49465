"""Domain requests shared by the JSON API and the dashboard, so both keep the same rules.

Each raises a DomainError subclass (mapped to problem+json) or the store exceptions of
store_service; the pages show the message inline. DNS is asked outside any database transaction: a
slow nameserver must never hold a connection or SQLite's write lock.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app.api.schemas import DomainPublic
from app.api.store_service import found
from app.db import domains
from app.db.engine import read_transaction, transaction
from app.db.models import Store, User
from app.domains.dns import DnsVerifier
from app.domains.errors import DomainError
from app.domains.states import CHECKABLE
from app.logging import current_request_id
from app.settings import Settings


def listing(session: Session, store: Store, settings: Settings) -> list[DomainPublic]:
    """The store's addresses: its own host first, then the linked domains in the order added."""
    linked = [DomainPublic.of(row, store, settings) for row in domains.list_domains(session, store.id)]
    return [DomainPublic.default(store), *linked]


def read(session: Session, user: User, settings: Settings, store_id: str, name: str) -> DomainPublic:
    store = found(session, user, store_id)
    if name.strip().rstrip(".").lower() == store.host:
        return DomainPublic.default(store)
    return DomainPublic.of(domains.find_domain(session, store, name), store, settings)


def add(session: Session, user: User, settings: Settings, store_id: str, raw: object) -> DomainPublic:
    store = found(session, user, store_id)
    row = domains.add_domain(session, store, raw, settings=settings)
    return DomainPublic.of(row, store, settings)


async def check_now(
    factory: sessionmaker[Session], user: User, settings: Settings, store_id: str, name: str
) -> DomainPublic:
    """Ask DNS now (what the sweep does on its schedule) and record the result."""
    with read_transaction(factory) as session:
        store = found(session, user, store_id)
        row = domains.find_domain(session, store, name)
        if row.state not in CHECKABLE:
            raise DomainError(f"{row.name} is {row.state}: its DNS records were proven already.")
        domain_id, domain, token = row.id, row.name, row.token
    assert domain_id is not None
    result = await DnsVerifier(settings).check(domain, token)
    with transaction(factory) as session:
        store = found(session, user, store_id)
        checked = domains.record_check(
            session, domain_id, result, settings=settings, request_id=current_request_id()
        )
        if checked is None:
            raise DomainError(f"{domain} was removed while it was being checked.")
        return DomainPublic.of(checked, store, settings)


def make_primary(session: Session, user: User, settings: Settings, store_id: str, name: str) -> str:
    """Queue the store action that makes `name` the primary address; returns the host."""
    store = found(session, user, store_id)
    return domains.request_primary(session, store, name, settings=settings, request_id=current_request_id())


def remove(session: Session, user: User, settings: Settings, store_id: str, name: str) -> DomainPublic | None:
    """Unlink; None when the domain is free at once, else the row (removing until the store action)."""
    store = found(session, user, store_id)
    row = domains.remove_domain(session, store, name, settings=settings, request_id=current_request_id())
    return None if row is None else DomainPublic.of(row, store, settings)
