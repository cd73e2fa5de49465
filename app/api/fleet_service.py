"""Fleet requests shared by the JSON API (/api/v1/fleet, /api/v1/rollouts) and the Fleet page, so
both keep the same rules. Admins only: the callers check the role (AdminUser, the page's guard)."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app import errors
from app.api.fleet_schemas import RolloutPublic
from app.api.problems import Problem
from app.db.engine import read_transaction, transaction
from app.db.models import Rollout, Store, User
from app.fleet import overview as fleet_overview
from app.fleet import rollouts
from app.fleet.overview import FleetOverview
from app.fleet.rollouts import Plan
from app.fleet.target import FleetTarget, current_target
from app.settings import Settings


def target_now(settings: Settings) -> FleetTarget:
    """The chart and defaults an upgrade deploys now; 503 when the chart cannot be read."""
    try:
        return current_target(settings)
    except errors.StoreplaneError as exc:
        raise Problem(
            503, "store-chart-unavailable", f"The store chart cannot be read now: {exc.message}"
        ) from exc


def overview(factory: sessionmaker[Session], settings: Settings) -> FleetOverview:
    try:
        target, problem = current_target(settings), ""
    except errors.StoreplaneError as exc:  # the counts still help; "behind" cannot be said
        target, problem = None, f"The store chart cannot be read now: {exc.message}"
    with read_transaction(factory) as session:
        return fleet_overview.overview(session, settings, target, target_error=problem)


def start(factory: sessionmaker[Session], user: User, plan: Plan, settings: Settings) -> RolloutPublic:
    target = target_now(settings)
    with transaction(factory) as session:
        admin = session.get(User, user.id)
        assert admin is not None
        rollout, _ = rollouts.start(session, admin, plan, settings, target)
        return _public(session, rollout)


def change(factory: sessionmaker[Session], rollout_id: int, verb: str) -> RolloutPublic:
    """`verb`: pause, resume or abort (RolloutRefused with the reason when it is not possible now)."""
    do = {"pause": rollouts.pause, "resume": rollouts.resume, "abort": rollouts.abort}[verb]
    with transaction(factory) as session:
        rollout = do(session, rollout_id)
        session.flush()
        return _public(session, rollout)


def read(factory: sessionmaker[Session], rollout_id: int) -> RolloutPublic:
    with read_transaction(factory) as session:
        rollout = session.get(Rollout, rollout_id)
        if rollout is None:
            raise Problem(404, "rollout-not-found", f"There is no rollout {rollout_id}.")
        return _public(session, rollout)


def recent(factory: sessionmaker[Session], *, limit: int = 20) -> list[RolloutPublic]:
    """The latest rollouts, newest first, with their counts (not their steps)."""
    with read_transaction(factory) as session:
        return [_public(session, r, with_steps=False) for r in rollouts.list_rollouts(session, limit=limit)]


def set_pin(factory: sessionmaker[Session], store_id: str, *, pinned: bool, reason: str = "") -> Store:
    with transaction(factory) as session:
        store = session.get(Store, store_id)
        if store is None or store.status == "deleted":
            raise Problem(404, "store-not-found", f"There is no store with id {store_id!r}.")
        if pinned:
            fleet_overview.pin(store, reason)
        else:
            fleet_overview.unpin(store)
        session.flush()
        return store


def _public(session: Session, rollout: Rollout, *, with_steps: bool = True) -> RolloutPublic:
    assert rollout.id is not None
    creator = session.get(User, rollout.created_by)
    steps = rollouts.steps_of(session, rollout.id)
    return RolloutPublic.of(rollout, creator.name if creator else "?", steps, with_steps=with_steps)
