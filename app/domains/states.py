"""The states of one linked domain, what moves it between them, and the one table of legal moves.

    add ──► pending ──check passes──► verified ──served by a store action──► active
              │  ▲ check fails            ▲  │                                 │
              │  └─(reason, back-off)     │  └────── a rollback drops it ◄─────┘
              ├──expired / taken──► failed ──check passes──┘
    remove: pending, failed ──► (gone at once); verified, active ──► removing ──applied──► (gone)

Every state change in app/db/domains.py goes through `next_state`, so an illegal move cannot be
written by accident.
"""

from __future__ import annotations

from enum import StrEnum


class DomainState(StrEnum):
    PENDING = "pending"  # waiting for its DNS records; `reason` says what the last check saw
    VERIFIED = "verified"  # DNS proves it is the owner's and routes here; not served yet
    ACTIVE = "active"  # the store's deployed release serves it (Ingress, certificate, redirect)
    FAILED = "failed"  # not proven in time, or proven by another store first; `reason` says which
    REMOVING = "removing"  # the owner removed it; it stays held until the release stops serving it


class DomainEvent(StrEnum):
    CHECK_PASSED = "check-passed"  # TXT token and CNAME/A target both found
    CHECK_FAILED = "check-failed"
    EXPIRED = "expired"  # pending past STOREPLANE_DOMAIN_PENDING_EXPIRY_SECONDS
    TAKEN = "taken"  # another store proved it first
    SERVED = "served"  # a store action applied a release that serves it
    DROPPED = "dropped"  # the deployed release does not serve it (a rollback to before it)
    REMOVE = "remove"
    REMOVED = "removed"  # a store action applied a release without it: the row goes


S, E = DomainState, DomainEvent
GONE = None  # the row is deleted: the domain is free for any store

_MOVES: dict[tuple[DomainState, DomainEvent], DomainState | None] = {
    (S.PENDING, E.CHECK_PASSED): S.VERIFIED,
    (S.PENDING, E.CHECK_FAILED): S.PENDING,
    (S.PENDING, E.EXPIRED): S.FAILED,
    (S.PENDING, E.TAKEN): S.FAILED,
    (S.FAILED, E.CHECK_PASSED): S.VERIFIED,  # the owner fixed DNS after the expiry: "check now"
    (S.FAILED, E.CHECK_FAILED): S.FAILED,
    (S.FAILED, E.TAKEN): S.FAILED,
    (S.VERIFIED, E.SERVED): S.ACTIVE,
    (S.ACTIVE, E.SERVED): S.ACTIVE,
    (S.VERIFIED, E.DROPPED): S.VERIFIED,
    (S.ACTIVE, E.DROPPED): S.VERIFIED,
    (S.PENDING, E.REMOVE): GONE,
    (S.FAILED, E.REMOVE): GONE,
    (S.VERIFIED, E.REMOVE): S.REMOVING,
    (S.ACTIVE, E.REMOVE): S.REMOVING,
    (S.REMOVING, E.REMOVE): S.REMOVING,
    (S.REMOVING, E.REMOVED): GONE,
}

# States in which a domain belongs to its store: at most one store per name (a partial unique index).
# Pending and failed claims do not hold the name, so nobody can squat a domain they cannot prove.
CLAIMED = frozenset({S.VERIFIED, S.ACTIVE, S.REMOVING})
# States a store action serves (in the chart values).
SERVABLE = frozenset({S.VERIFIED, S.ACTIVE})
# States the DNS checks look at.
CHECKABLE = frozenset({S.PENDING, S.FAILED})


class IllegalDomainMove(Exception):
    def __init__(self, state: DomainState, event: DomainEvent) -> None:
        super().__init__(f"a domain that is {state} cannot take the event {event}")


def next_state(current: DomainState | str, event: DomainEvent) -> DomainState | None:
    """The state after `event`; None means the row is deleted. Raises IllegalDomainMove."""
    current = DomainState(current)
    if (current, event) not in _MOVES:
        raise IllegalDomainMove(current, event)
    return _MOVES[(current, event)]
