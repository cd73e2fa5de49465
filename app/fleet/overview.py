"""The fleet in numbers: stores by engine, chart version and status, those behind the platform's
current store chart (and why), the drifted and the pinned ones. Read from the database and the
chart's files only (GET /api/v1/fleet and the Fleet page)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Store
from app.fleet.target import FleetTarget, behind
from app.lifecycle import StoreStatus
from app.settings import Settings

UNKNOWN = "unknown"


@dataclass(frozen=True)
class Behind:
    store: Store
    reason: str


@dataclass
class FleetOverview:
    target: FleetTarget | None
    target_error: str  # why the current chart could not be read ('' when it could)
    total: int = 0
    # (engine, chart version or "unknown", status) → stores
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    behind: list[Behind] = field(default_factory=list)
    behind_total: int = 0
    drifted: list[Store] = field(default_factory=list)
    pinned: list[Store] = field(default_factory=list)

    def by(self, index: int) -> dict[str, int]:
        """Totals by one part of the key: 0 engine, 1 chart version, 2 status."""
        totals: Counter[str] = Counter()
        for key, count in self.counts.items():
            totals[key[index]] += count
        return dict(sorted(totals.items()))

    @property
    def rows(self) -> list[tuple[str, str, str, int]]:
        return sorted((*key, count) for key, count in self.counts.items())


def overview(
    session: Session,
    settings: Settings,
    target: FleetTarget | None,
    *,
    target_error: str = "",
    limit: int = 200,
) -> FleetOverview:
    """Every live store counted; at most `limit` listed in each list (the totals are exact)."""
    query = select(Store).where(Store.status != StoreStatus.DELETED).order_by(Store.created_at, Store.id)  # type: ignore[arg-type]
    found = FleetOverview(target=target, target_error=target_error)
    for store in session.execute(query).scalars():
        found.total += 1
        found.counts[(store.engine, store.chart_version or UNKNOWN, str(store.status))] += 1
        if store.drifted and len(found.drifted) < limit:
            found.drifted.append(store)
        if store.pinned and len(found.pinned) < limit:
            found.pinned.append(store)
        if target is not None and store.status != StoreStatus.DELETING:
            reason = behind(store, settings, target)
            if reason is not None:
                found.behind_total += 1
                if len(found.behind) < limit:
                    found.behind.append(Behind(store, reason))
    return found


def pin(store: Store, reason: str) -> Store:
    """Keep the store out of rollouts (a running rollout skips it when its turn comes)."""
    store.pinned, store.pinned_reason = True, reason.strip()[:200] or None
    return store


def unpin(store: Store) -> Store:
    store.pinned, store.pinned_reason = False, None
    return store
