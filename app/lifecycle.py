"""Store states, the actions that move a store between them, and the one table of legal transitions.

Every status change in the code base goes through `transition()`, so an illegal move is impossible
to write by accident: it raises `IllegalTransition`, which the API turns into 409.
"""

from __future__ import annotations

from enum import StrEnum


class StoreStatus(StrEnum):
    PENDING = "pending"  # accepted; its provision job waits for a worker
    PROVISIONING = "provisioning"  # a worker is installing the release
    READY = "ready"  # the release is deployed and every workload is ready
    FAILED = "failed"  # the last action failed; status_reason says why; upgrade or delete may follow
    UPGRADING = "upgrading"  # an upgrade, rollback or repair is queued or running
    DELETING = "deleting"  # uninstall + namespace deletion queued or running
    DELETED = "deleted"  # tombstone: every resource is gone and the name is free again


class Action(StrEnum):
    PROVISION = "provision"
    UPGRADE = "upgrade"
    ROLLBACK = "rollback"
    VERIFY = "verify"
    DELETE = "delete"
    REPAIR = "repair"  # apply the deployed revision again over drift (app/reconcile/repair.py)
    # Serve the store's verified domains, stop serving removed ones, or change the primary host: an
    # upgrade with the domain values (app/db/domains.py decides them when the job starts).
    DOMAINS = "domains"


S = StoreStatus

LEGAL: frozenset[tuple[StoreStatus, StoreStatus]] = frozenset(
    {
        (S.PENDING, S.PROVISIONING),
        (S.PENDING, S.FAILED),  # deadline passed before a worker got to it
        (S.PROVISIONING, S.READY),
        (S.PROVISIONING, S.FAILED),
        (S.READY, S.UPGRADING),
        (S.FAILED, S.UPGRADING),  # an upgrade is also how a failed store is repaired
        (S.UPGRADING, S.READY),
        (S.UPGRADING, S.FAILED),
        (S.READY, S.FAILED),  # verification failed, or the namespace vanished
        (S.DELETING, S.DELETED),
        (S.DELETING, S.FAILED),  # deletion gave up; DELETE may be requested again
    }
    # Anything that still exists may be deleted, even mid-action: the running job is cancelled.
    | {(s, S.DELETING) for s in S if s not in (S.DELETING, S.DELETED)}
)

# What a request needs from the store, and the status it puts the store in at once.
_REQUEST: dict[Action, tuple[frozenset[StoreStatus], StoreStatus | None]] = {
    Action.UPGRADE: (frozenset({S.READY, S.FAILED}), S.UPGRADING),
    Action.ROLLBACK: (frozenset({S.READY, S.FAILED}), S.UPGRADING),
    Action.DOMAINS: (frozenset({S.READY, S.FAILED}), S.UPGRADING),
    Action.VERIFY: (frozenset({S.READY}), None),  # verify leaves the status alone unless it fails
    # Repair changes the release like a rollback (a new revision), so it shares Upgrading; only a
    # Ready store is checked for drift, and a Failed one is repaired by an upgrade.
    Action.REPAIR: (frozenset({S.READY}), S.UPGRADING),
    Action.DELETE: (frozenset(s for s in S if s != S.DELETED), S.DELETING),
}

# The status while an action's job runs, after it succeeds, after it fails for good.
RUNNING: dict[Action, StoreStatus | None] = {Action.PROVISION: S.PROVISIONING}
SUCCEEDED: dict[Action, StoreStatus] = {
    Action.PROVISION: S.READY,
    Action.UPGRADE: S.READY,
    Action.ROLLBACK: S.READY,
    Action.DOMAINS: S.READY,
    Action.VERIFY: S.READY,
    Action.DELETE: S.DELETED,
    Action.REPAIR: S.READY,
}
FAILED: dict[Action, StoreStatus] = {a: S.FAILED for a in Action}

# Statuses in which a store still holds cluster resources (or is about to).
LIVE = frozenset(S) - {S.DELETED}


class IllegalTransition(Exception):
    """The store is not in a state that allows this."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def can_move(current: StoreStatus, target: StoreStatus) -> bool:
    return current == target or (current, target) in LEGAL


def transition(current: StoreStatus | str, target: StoreStatus) -> StoreStatus:
    """Return `target` if the move is legal (staying put is always legal), else raise."""
    current = StoreStatus(current)
    if not can_move(current, target):
        raise IllegalTransition(f"A store that is {current} cannot become {target}.")
    return target


def on_request(action: Action, current: StoreStatus | str) -> StoreStatus:
    """The status a store takes when `action` is requested; raises if the action is not allowed now."""
    current = StoreStatus(current)
    allowed, becomes = _REQUEST[action]
    if current not in allowed:
        choices = ", ".join(sorted(allowed))
        raise IllegalTransition(
            f"Cannot {action} a store that is {current}; {action} is allowed when the store is {choices}."
        )
    return transition(current, becomes) if becomes else current
