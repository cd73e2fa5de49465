"""Store requests shared by the JSON API and the dashboard pages, so both enforce the same rules.

Each function raises the exceptions the API maps to problems (`Problem`, `NameTaken`,
`LimitExceeded`, `ActiveJobExists`, `IllegalTransition`, …); the pages show their message inline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import errors, metrics
from app.api import cursors
from app.api.history import revision_values, store_history
from app.api.problems import Problem
from app.api.schemas import STORE_CURSOR, StoreListQuery
from app.db import domains
from app.db.engine import read_transaction, transaction
from app.db.events import list_events
from app.db.models import ACTIVE_JOB_STATES, Job, Store, StoreDomain, StoreEvent, User
from app.db.stores import (
    StoreFilter,
    StoreSlice,
    create_store,
    list_page,
    position_of,
    request_action,
    visible_store,
)
from app.engines import Engine, EngineNotAvailable, buildable, require_buildable
from app.fleet.rollouts import refuse_if_in_rollout
from app.helm.chart import built_engines
from app.lifecycle import Action, IllegalTransition, StoreStatus
from app.logging import current_request_id
from app.settings import Settings


def found(session: Session, user: User, store_id: str) -> Store:
    """The store if `user` may see it; others' stores are a 404, so ids cannot be probed."""
    store = visible_store(session, user, store_id)
    if store is None:
        raise Problem(404, "store-not-found", f"You have no store with id {store_id!r}.")
    return store


def read_visible(factory: sessionmaker[Session], user: User, store_id: str) -> Store:
    with read_transaction(factory) as session:
        return found(session, user, store_id)


@dataclass(frozen=True)
class StoreListing:
    """One page of a store list and the cursors around it."""

    page: StoreSlice
    next_cursor: str | None
    prev_cursor: str | None


def list_visible(
    session: Session, user: User, query: StoreListQuery, *, count_start: bool = False
) -> StoreListing:
    """A page of the stores `user` may see that match `query`. The cursor only says where the page
    starts: who sees what is decided here, from `user`, on every page."""
    if query.owner is not None and not user.is_admin and query.owner != user.name:
        raise Problem(
            403,
            "owner-filter-forbidden",
            "Only an administrator can list another user's stores; leave out owner to list yours.",
        )
    after = before = None
    cursor = query.decoded_cursor()
    if cursor is not None:
        created_at, store_id = cursor.keys
        assert isinstance(created_at, datetime) and isinstance(store_id, str)  # STORE_CURSOR_KEYS
        if cursor.direction == cursors.Direction.AFTER:
            after = (created_at, store_id)
        else:
            before = (created_at, store_id)
    wanted = StoreFilter(
        statuses=tuple(query.status),
        engines=tuple(query.engine),
        owner=query.owner,
        name_prefix=query.name_prefix,
        include_deleted=query.include_deleted,
    )
    page = list_page(
        session, user, wanted, limit=query.limit, after=after, before=before, count_start=count_start
    )
    following = preceding = None
    if page.more_after and page.stores:
        following = cursors.encode(STORE_CURSOR, cursors.Direction.AFTER, position_of(page.stores[-1]))
    if page.more_before and page.stores:
        preceding = cursors.encode(STORE_CURSOR, cursors.Direction.BEFORE, position_of(page.stores[0]))
    return StoreListing(page, following, preceding)


def chart_engines(settings: Settings) -> tuple[str, tuple[str, ...]]:
    """(chart label, engines it builds) of the deployed store chart; 503 when it cannot be read."""
    try:
        found = built_engines(settings)
    except errors.StoreplaneError as exc:
        raise Problem(
            503, "store-chart-unavailable", f"The store chart cannot be read now: {exc.message}"
        ) from exc
    return found.chart, found.engines


def offered_engines(settings: Settings) -> list[Engine]:
    """The engines a user may choose: registered and built by the deployed chart."""
    return buildable(chart_engines(settings)[1])


def check_engine(engine: str, settings: Settings) -> Engine:
    """A registered engine the deployed chart does not build is refused here (422), before anything
    is written, rather than accepted and then failed when Helm renders the chart."""
    chart, built = chart_engines(settings)
    try:
        return require_buildable(engine, chart=chart, built=built)
    except EngineNotAvailable as exc:
        raise Problem(422, "engine-not-available", str(exc), engine=engine, available=exc.built) from exc


def create(
    factory: sessionmaker[Session],
    user: User,
    *,
    name: str,
    engine: str,
    settings: Settings,
    idempotency_key: str | None = None,
) -> tuple[Store, bool]:
    """Create the store and its provision job (validated input); (store, created) like create_store."""
    check_engine(engine, settings)
    for attempt in range(3):
        try:
            with transaction(factory) as session:
                owner = session.get(User, user.id)
                assert owner is not None
                store, created = create_store(
                    session,
                    owner=owner,
                    name=name,
                    engine=engine,
                    settings=settings,
                    idempotency_key=idempotency_key,
                    request_id=current_request_id(),
                )
            break
        except IntegrityError:
            # Two requests raced for the same key or name (PostgreSQL); the next pass sees the winner.
            if attempt == 2:
                raise
    if created:
        metrics.STORES_CREATED.labels(engine=engine).inc()
    return store, created


def act(
    session: Session,
    user: User,
    settings: Settings,
    store_id: str,
    action: Action,
    args: dict[str, Any] | None = None,
) -> Store:
    """Request `action` on a visible store: its status moves and its job is queued, in `session`.
    While a rollout's step acts on the store, anything but a delete is refused (StoreInRollout)."""
    store = found(session, user, store_id)
    if action != Action.DELETE:
        refuse_if_in_rollout(session, store)
    if action == Action.REPAIR:
        if store.helm_revision is None:
            raise IllegalTransition(f"Store {store.name} has no deployed revision to apply again.")
        args = {"revision": store.helm_revision}
    if action == Action.ROLLBACK and args and "domains" in args:
        domains.check_revision_domains(session, store, args["domains"], int(args["revision"]))
    request_action(session, store, action, settings=settings, args=args, request_id=current_request_id())
    session.flush()
    return store


def busy_ids(session: Session, store_ids: list[str]) -> set[str]:
    """Which of these stores have a job queued or running."""
    if not store_ids:
        return set()
    query = select(Job.store_id).where(
        Job.store_id.in_(store_ids),  # type: ignore[attr-defined]
        Job.status.in_(ACTIVE_JOB_STATES),  # type: ignore[attr-defined]
    )
    return set(session.execute(query).scalars())


def owner_names(session: Session, stores: list[Store]) -> dict[int, str]:
    """Owner id → user name of these stores (shown to admins)."""
    ids = {s.owner_id for s in stores}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all())  # type: ignore[union-attr,arg-type]


def visible_among(session: Session, user: User, store_ids: list[str]) -> list[Store]:
    """Those of these stores `user` may see (Deleted ones included: a page drops their rows)."""
    query = select(Store).where(Store.id.in_(store_ids))  # type: ignore[attr-defined]
    if not user.is_admin:
        query = query.where(Store.owner_id == user.id)
    return list(session.execute(query).scalars())


def activity_marks(session: Session, store_id: str) -> tuple[int | None, list[tuple[Any, ...]]]:
    """The newest activity entry's id and the domains' (name, state, checks, reason): what changes a
    store page by itself, besides the store row (the sweep verifies domains in the background)."""
    last = session.execute(
        select(func.max(StoreEvent.id)).where(StoreEvent.store_id == store_id)
    ).scalar_one()
    domains = session.execute(
        select(StoreDomain.name, StoreDomain.state, StoreDomain.checks, StoreDomain.reason)
        .where(StoreDomain.store_id == store_id)
        .order_by(StoreDomain.name)
    ).all()
    return last, [tuple(row) for row in domains]


def live_counts_by_owner(session: Session) -> dict[int, int]:
    """Owner id → how many stores they have that are not Deleted."""
    query = (
        select(Store.owner_id, func.count())
        .where(Store.status != StoreStatus.DELETED)
        .group_by(Store.owner_id)
    )
    return dict(session.execute(query).all())  # type: ignore[arg-type]


def events(session: Session, user: User, store_id: str, *, limit: int = 200) -> list[StoreEvent]:
    """The visible store's activity log, oldest first."""
    return list_events(session, found(session, user, store_id).id, limit=limit)


async def rollback_args(store: Store, settings: Settings, revision: int) -> dict[str, Any]:
    """The rollback job's args: the revision (checked against the live history) and the domains it
    serves, so the store's domains follow the rollback when it succeeds (app/db/domains.py)."""
    await check_revision(store, settings, revision)
    served = domains.revision_served(store, await revision_values(store, settings, revision))
    return {"revision": revision, "domains": served}


async def check_revision(store: Store, settings: Settings, revision: int) -> None:
    """A rollback target must be in the release's history (read live from the cluster)."""
    revisions = [r.revision for r in await store_history(store, settings)]
    if revision not in revisions:
        known = ", ".join(map(str, revisions)) or "none"
        raise Problem(
            422,
            "unknown-revision",
            f"Revision {revision} does not exist; this store has revisions {known}.",
        )
