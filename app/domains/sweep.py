"""The domain part of the periodic sweep (app/sweep.py), one short transaction per step.

1. Domains left on Deleted stores are freed (an older version deleted the store).
2. Pending domains past their expiry fail.
3. Pending domains whose next check is due are checked (at most STOREPLANE_DOMAIN_CHECKS_PER_SWEEP,
   8 lookups at a time, outside any transaction); each result is recorded with its back-off.
4. Ready, idle stores with a verified domain not yet served, or a removed one still served, get the
   `domains` store action.
Every step is idempotent, so several workers may sweep at once: a check recorded twice only counts
twice toward the back-off.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.db import domains
from app.db.engine import transaction, utcnow
from app.domains.dns import CheckResult, DnsVerifier
from app.domains.states import DomainState
from app.settings import Settings

log = logging.getLogger("storeplane.domains")
LOOKUPS_AT_ONCE = 8


@dataclass
class DomainSweep:
    freed: int = 0
    expired: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)  # store ids whose domains action was queued

    @property
    def changed(self) -> bool:
        return bool(self.freed or self.expired or self.verified or self.served)


async def sweep_domains(
    factory: sessionmaker[Session], settings: Settings, verifier: DnsVerifier | None = None
) -> DomainSweep:
    report = DomainSweep()
    verifier = verifier or DnsVerifier(settings)
    report.freed = await asyncio.to_thread(_in_transaction, factory, domains.free_domains_of_deleted_stores)
    report.expired = await asyncio.to_thread(
        _in_transaction, factory, lambda s: domains.expire_overdue(s, settings=settings, now=utcnow())
    )
    due = await asyncio.to_thread(
        _in_transaction,
        factory,
        lambda s: domains.due_checks(s, now=utcnow(), limit=settings.domain_checks_per_sweep),
    )
    gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def check(domain_id: int, name: str, token: str) -> None:
        async with gate:
            result = await verifier.check(name, token)
        state = await asyncio.to_thread(_record, factory, settings, domain_id, result)
        report.checked.append(name)
        if state == DomainState.VERIFIED:
            report.verified.append(name)

    await asyncio.gather(*(check(*item) for item in due))
    stores = await asyncio.to_thread(_in_transaction, factory, domains.stores_to_serve)
    for store_id in stores:
        queued = await asyncio.to_thread(
            _in_transaction,
            factory,
            lambda s, sid=store_id: domains.request_serving(s, sid, settings=settings),
        )
        if queued:
            report.served.append(store_id)
    return report


def _in_transaction(factory: sessionmaker[Session], fn):  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        return fn(session)


def _record(
    factory: sessionmaker[Session], settings: Settings, domain_id: int, result: CheckResult
) -> str | None:
    with transaction(factory) as session:
        row = domains.record_check(session, domain_id, result, settings=settings)
        return None if row is None else row.state
