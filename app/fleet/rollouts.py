"""Rollouts: move a selection of stores to the platform's current store chart and defaults in a
canary and waves (the controller, app/fleet/controller.py, does the moving; each store's step is an
ordinary upgrade job). Here: starting one, pausing, resuming, aborting, and the reads of its progress.

Rules kept here:
- One open rollout (running, paused or halted) at a time, enforced by a partial unique index: two
  rollouts can never want the same store.
- Pinned stores stay out; stores already on the target are left out (nothing to do), and so are
  stores being created or deleted.
- A store whose step is in flight refuses other actions, with the reason (`StoreInRollout`); a
  delete still goes through, like everywhere else, and the step ends skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.engine import utcnow
from app.db.models import OPEN_ROLLOUT_STATES, Rollout, RolloutStep, Store, User
from app.fleet.target import FleetTarget, behind
from app.lifecycle import StoreStatus
from app.settings import Settings


class RolloutStatus:
    RUNNING = "running"
    PAUSED = "paused"
    HALTED = "halted"
    ABORTED = "aborted"
    COMPLETED = "completed"


class StepState:
    PENDING = "pending"
    UPGRADING = "upgrading"
    TESTING = "testing"  # helm test after the upgrade (the rollout's option)
    ROLLING_BACK = "rolling-back"  # the test failed: back to the revision before the step
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


IN_FLIGHT = (StepState.UPGRADING, StepState.TESTING, StepState.ROLLING_BACK)
FINAL = (StepState.SUCCEEDED, StepState.FAILED, StepState.SKIPPED)
# Stores a rollout can act on: an upgrade is allowed from Ready and Failed (it is also how a
# Failed store is repaired); one Upgrading now is waited for.
ELIGIBLE = (StoreStatus.READY, StoreStatus.FAILED, StoreStatus.UPGRADING)


class RolloutRefused(Exception):
    """A rollout request that cannot be done; `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, slug: str, message: str) -> None:
        super().__init__(message)
        self.status, self.slug, self.message = status, slug, message


class StoreInRollout(Exception):
    """The store's rollout step is in flight: other actions wait until it has finished."""

    def __init__(self, store: Store, step: RolloutStep) -> None:
        wave = "the canary" if step.wave == 0 else f"wave {step.wave}"
        super().__init__(
            f"Store {store.name} is being upgraded by rollout {step.rollout_id} ({wave}, {step.state}); "
            "try again when its step has finished, or pause or abort the rollout on the Fleet page. "
            "Deleting the store is still possible."
        )
        self.rollout_id = step.rollout_id


@dataclass(frozen=True)
class Plan:
    """What an admin asks for: which stores, and how fast."""

    selection: dict[str, Any]  # {"all": True} | {"engine": name} | {"stores": [id or name, …]}
    canary: int = 1
    wave_size: int = 5
    parallelism: int = 2
    max_failures: int = 0
    helm_test: bool = False


@dataclass
class Selected:
    """The stores a plan selects, split by what the rollout does with them."""

    to_upgrade: list[Store] = field(default_factory=list)
    pinned: list[Store] = field(default_factory=list)
    current: list[Store] = field(default_factory=list)
    not_eligible: list[Store] = field(default_factory=list)


def open_rollout(session: Session) -> Rollout | None:
    query = select(Rollout).where(Rollout.status.in_(OPEN_ROLLOUT_STATES))  # type: ignore[attr-defined]
    return session.execute(query).scalars().first()


def select_stores(session: Session, plan: Plan, settings: Settings, target: FleetTarget) -> Selected:
    """Resolve the selection (ids or names for a list; unknown ones are refused with their names)."""
    live = select(Store).where(Store.status != StoreStatus.DELETED).order_by(Store.created_at, Store.id)  # type: ignore[arg-type]
    chosen = plan.selection
    if chosen.get("stores") is not None:
        stores = _by_reference(session, list(chosen["stores"]))
    elif chosen.get("engine"):
        stores = list(session.execute(live.where(Store.engine == chosen["engine"])).scalars())
    else:
        stores = list(session.execute(live).scalars())
    picked = Selected()
    for store in stores:
        if store.pinned:
            picked.pinned.append(store)
        elif store.status not in ELIGIBLE:
            picked.not_eligible.append(store)
        elif store.status == StoreStatus.READY and behind(store, settings, target) is None:
            picked.current.append(store)
        else:
            picked.to_upgrade.append(store)
    return picked


def _by_reference(session: Session, references: list[str]) -> list[Store]:
    found: list[Store] = []
    unknown = []
    for ref in dict.fromkeys(references):
        store = session.get(Store, ref)
        if store is None or store.status == StoreStatus.DELETED:
            store = session.execute(
                select(Store).where(Store.name == ref, Store.status != StoreStatus.DELETED)
            ).scalar_one_or_none()
        if store is None:
            unknown.append(ref)
        elif store not in found:
            found.append(store)
    if unknown:
        raise RolloutRefused(
            422, "unknown-stores", f"No live store has the id or name {', '.join(map(repr, unknown))}."
        )
    found.sort(key=lambda s: (s.created_at, s.id))
    return found


def start(
    session: Session, user: User, plan: Plan, settings: Settings, target: FleetTarget
) -> tuple[Rollout, Selected]:
    """Record a running rollout and its steps (the controller starts them). Raises RolloutRefused."""
    assert user.id is not None
    if plan.parallelism > plan.wave_size:
        raise RolloutRefused(
            422,
            "invalid-rollout",
            f"'parallelism' ({plan.parallelism}) cannot exceed 'wave_size' ({plan.wave_size}): "
            "a wave never has more stores in flight than it has stores.",
        )
    engine = plan.selection.get("engine")
    if engine and engine not in target.engines:
        built = ", ".join(target.engines) or "none"
        raise RolloutRefused(
            422,
            "invalid-rollout",
            f"The deployed chart ({target.label}) does not build {engine!r} (it builds {built}).",
        )
    _refuse_if_open(session)
    picked = select_stores(session, plan, settings, target)
    if not picked.to_upgrade:
        raise RolloutRefused(422, "nothing-to-roll-out", _nothing_to_do(picked, target))
    now = utcnow()
    rollout = Rollout(
        created_by=user.id,
        status=RolloutStatus.RUNNING,
        selection=plan.selection,
        target=target.as_dict(),
        canary=plan.canary,
        wave_size=plan.wave_size,
        parallelism=plan.parallelism,
        max_failures=plan.max_failures,
        helm_test=plan.helm_test,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(rollout)
            session.flush()
    except IntegrityError as exc:  # another admin's rollout won the race
        _refuse_if_open(session)
        raise RolloutRefused(
            409, "rollout-open", "Another rollout is open; resume or abort it first."
        ) from exc
    assert rollout.id is not None
    for position, (wave, store) in enumerate(waves(picked.to_upgrade, plan.canary, plan.wave_size)):
        session.add(
            RolloutStep(
                rollout_id=rollout.id,
                store_id=store.id,
                wave=wave,
                position=position,
                state=StepState.PENDING,
            )
        )
    session.flush()
    return rollout, picked


def waves(stores: list[Store], canary: int, wave_size: int) -> Iterable[tuple[int, Store]]:
    """(wave, store) in order: the first `canary` stores are wave 0, then waves of `wave_size`."""
    for index, store in enumerate(stores):
        if index < canary:
            yield 0, store
        else:
            yield 1 + (index - canary) // wave_size, store


def _refuse_if_open(session: Session) -> None:
    existing = open_rollout(session)
    if existing is not None:
        raise RolloutRefused(
            409,
            "rollout-open",
            f"Rollout {existing.id} is still {existing.status}; "
            "resume it or abort it before starting another.",
        )


def _nothing_to_do(picked: Selected, target: FleetTarget) -> str:
    parts = []
    if picked.current:
        parts.append(f"{len(picked.current)} already run {target.label} with the current defaults")
    if picked.pinned:
        parts.append(f"{len(picked.pinned)} pinned")
    if picked.not_eligible:
        parts.append(f"{len(picked.not_eligible)} being created or deleted")
    detail = "; ".join(parts) if parts else "the selection holds no store"
    return f"Nothing to roll out: of the selected stores, {detail}."


def _get(session: Session, rollout_id: int) -> Rollout:
    rollout = session.get(Rollout, rollout_id, with_for_update=True)
    if rollout is None:
        raise RolloutRefused(404, "rollout-not-found", f"There is no rollout {rollout_id}.")
    return rollout


def pause(session: Session, rollout_id: int) -> Rollout:
    """No new step starts; the steps in flight finish."""
    rollout = _get(session, rollout_id)
    _require(rollout, "pause", (RolloutStatus.RUNNING,))
    rollout.status, rollout.status_reason, rollout.updated_at = RolloutStatus.PAUSED, None, utcnow()
    return rollout


def resume(session: Session, rollout_id: int) -> Rollout:
    """Run again. A halted rollout tries its failed stores again (after the cause was fixed)."""
    rollout = _get(session, rollout_id)
    _require(rollout, "resume", (RolloutStatus.PAUSED, RolloutStatus.HALTED))
    if rollout.status == RolloutStatus.HALTED:
        failed = session.execute(
            select(RolloutStep).where(
                RolloutStep.rollout_id == rollout.id, RolloutStep.state == StepState.FAILED
            )
        ).scalars()
        for step in failed:
            step.state, step.finished_at = StepState.PENDING, None
    rollout.status, rollout.status_reason, rollout.updated_at = RolloutStatus.RUNNING, None, utcnow()
    return rollout


def abort(session: Session, rollout_id: int) -> Rollout:
    """Stop for good: steps not started are skipped; steps in flight finish (an upgrade that fails
    still rolls its store back), and the rollout is finished once they have."""
    rollout = _get(session, rollout_id)
    _require(rollout, "abort", OPEN_ROLLOUT_STATES)
    now = utcnow()
    pending = session.execute(
        select(RolloutStep).where(
            RolloutStep.rollout_id == rollout.id, RolloutStep.state == StepState.PENDING
        )
    ).scalars()
    for step in pending:
        step.state, step.error, step.finished_at = StepState.SKIPPED, "the rollout was aborted", now
    rollout.status, rollout.status_reason, rollout.updated_at = (
        RolloutStatus.ABORTED,
        "aborted by an admin",
        now,
    )
    return rollout


def _require(rollout: Rollout, verb: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if rollout.status not in allowed:
        raise RolloutRefused(
            409,
            "illegal-rollout-transition",
            f"Cannot {verb} rollout {rollout.id}: it is {rollout.status}; "
            f"{verb} is possible when it is {' or '.join(allowed)}.",
        )


def step_in_flight(session: Session, store_id: str) -> RolloutStep | None:
    """The rollout step acting on this store right now, if any."""
    query = select(RolloutStep).where(
        RolloutStep.store_id == store_id,
        RolloutStep.state.in_(IN_FLIGHT),  # type: ignore[attr-defined]
    )
    return session.execute(query).scalars().first()


def refuse_if_in_rollout(session: Session, store: Store) -> None:
    """User-requested actions are refused (not queued) while a rollout acts on the store: a queued
    action behind a rollout that may stay paused for days would be a surprise; a refusal says why."""
    step = step_in_flight(session, store.id)
    if step is not None:
        raise StoreInRollout(store, step)


def active_ids(session: Session) -> list[int]:
    """Rollouts the controller looks after: open ones, and aborted ones with steps still in flight."""
    query = select(Rollout.id).where(
        or_(
            Rollout.status.in_(OPEN_ROLLOUT_STATES),  # type: ignore[attr-defined]
            (Rollout.status == RolloutStatus.ABORTED) & Rollout.finished_at.is_(None),  # type: ignore[union-attr]
        )
    )
    return list(session.execute(query.order_by(Rollout.id)).scalars())


def list_rollouts(session: Session, *, limit: int = 20) -> list[Rollout]:
    query = select(Rollout).order_by(Rollout.id.desc()).limit(limit)  # type: ignore[union-attr]
    return list(session.execute(query).scalars())


def steps_of(session: Session, rollout_id: int) -> list[tuple[RolloutStep, Store]]:
    query = (
        select(RolloutStep, Store)
        .join(Store, Store.id == RolloutStep.store_id)
        .where(RolloutStep.rollout_id == rollout_id)
        .order_by(RolloutStep.position)
    )
    return [(step, store) for step, store in session.execute(query).all()]
