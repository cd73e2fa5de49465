"""/api/v1/stores: create, list, read, delete, upgrade, roll back, verify, repair, history, events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.api import store_service
from app.api.deps import CurrentUser, FactoryDep, SessionDep, SettingsDep
from app.api.history import store_history
from app.api.problems import problem_responses
from app.api.schemas import (
    EventPublic,
    RevisionPublic,
    RollbackRequest,
    StoreCreate,
    StoreListQuery,
    StorePage,
    StorePublic,
    UpgradeRequest,
)
from app.db.engine import transaction
from app.db.models import User
from app.lifecycle import Action

router = APIRouter(
    prefix="/stores", tags=["stores"], responses=problem_responses(400, 401, 404, 409, 422, 429)
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Same key and body → the same store; same key, another body → 422.",
    ),
]


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=StorePublic)
def create(
    body: StoreCreate,
    user: CurrentUser,
    factory: FactoryDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> StorePublic:
    """Accept a new store; a worker provisions it. Poll GET /stores/{id} until it is ready."""
    store, _ = store_service.create(
        factory, user, name=body.name, engine=body.engine, settings=settings, idempotency_key=idempotency_key
    )
    public = StorePublic.of(store, settings)
    response.headers["Location"] = f"/api/v1/stores/{public.id}"
    return public


@router.get("", response_model=StorePage, responses=problem_responses(403))
def list_(
    query: Annotated[StoreListQuery, Query()], user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> StorePage:
    """Your stores (an administrator's: everyone's), newest first, a page at a time.

    Follow `next_cursor` until it is null; `total` counts every page. The order is stable (created_at,
    then id), so stores created or deleted meanwhile never make a page skip or repeat a store.
    """
    listing = store_service.list_visible(session, user, query)
    return StorePage(
        items=[StorePublic.of(s, settings) for s in listing.page.stores],
        total=listing.page.total,
        limit=query.limit,
        next_cursor=listing.next_cursor,
        prev_cursor=listing.prev_cursor,
    )


@router.get("/{store_id}", response_model=StorePublic)
def read(store_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> StorePublic:
    return StorePublic.of(store_service.found(session, user, store_id), settings)


def _act(
    session: Session,
    user: User,
    settings: SettingsDep,
    store_id: str,
    action: Action,
    args: dict | None = None,
) -> StorePublic:
    return StorePublic.of(store_service.act(session, user, settings, store_id, action, args), settings)


@router.delete("/{store_id}", status_code=status.HTTP_202_ACCEPTED, response_model=StorePublic)
def delete(store_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> StorePublic:
    """Uninstall the store and delete its namespace; the store ends Deleted once everything is gone."""
    return _act(session, user, settings, store_id, Action.DELETE)


@router.post("/{store_id}/upgrade", status_code=status.HTTP_202_ACCEPTED, response_model=StorePublic)
def upgrade(
    store_id: str,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    body: UpgradeRequest | None = None,
) -> StorePublic:
    """Upgrade to the platform's current store chart and defaults (also repairs a Failed store)."""
    return _act(session, user, settings, store_id, Action.UPGRADE)


@router.post("/{store_id}/verify", status_code=status.HTTP_202_ACCEPTED, response_model=StorePublic)
def verify(store_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> StorePublic:
    """Run the store's Helm test: it places an order through the store's own API."""
    return _act(session, user, settings, store_id, Action.VERIFY)


@router.post("/{store_id}/repair", status_code=status.HTTP_202_ACCEPTED, response_model=StorePublic)
def repair(store_id: str, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> StorePublic:
    """Apply the store's deployed revision again: objects changed or deleted by hand (its `drift`)
    are restored; objects that are not part of the release are left alone."""
    return _act(session, user, settings, store_id, Action.REPAIR)


@router.post("/{store_id}/rollback", status_code=status.HTTP_202_ACCEPTED, response_model=StorePublic)
async def rollback(
    store_id: str, body: RollbackRequest, user: CurrentUser, factory: FactoryDep, settings: SettingsDep
) -> StorePublic:
    """Roll back to a revision listed by GET /stores/{id}/history."""
    store = await run_in_threadpool(store_service.read_visible, factory, user, store_id)
    args = await store_service.rollback_args(store, settings, body.revision)

    def act() -> StorePublic:
        with transaction(factory) as session:
            return _act(session, user, settings, store_id, Action.ROLLBACK, args)

    return await run_in_threadpool(act)


@router.get("/{store_id}/history", response_model=list[RevisionPublic])
async def history(store_id: str, user: CurrentUser, factory: FactoryDep, settings: SettingsDep):
    """The store's Helm release history, newest last."""
    store = await run_in_threadpool(store_service.read_visible, factory, user, store_id)
    return await store_history(store, settings)


@router.get("/{store_id}/events", response_model=list[EventPublic])
def events(
    store_id: str,
    user: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="How many of the latest events.")] = 200,
) -> list[EventPublic]:
    """The store's activity log, oldest first."""
    return [EventPublic.of(e) for e in store_service.events(session, user, store_id, limit=limit)]
