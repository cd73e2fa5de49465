"""/api/v1/fleet and /api/v1/rollouts: what every store runs, pins, and rollouts (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from app.api import fleet_service
from app.api.deps import MAX_ROW_ID, FactoryDep, SettingsDep
from app.api.fleet_schemas import FleetPublic, PinRequest, RolloutCreate, RolloutPublic
from app.api.problems import problem_responses
from app.api.schemas import StorePublic
from app.auth.deps import AdminUser

router = APIRouter(tags=["fleet"], responses=problem_responses(401, 403, 404, 409, 422, 429, 503))

RolloutId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A rollout id from GET /rollouts.")]


@router.get("/fleet", response_model=FleetPublic)
async def fleet(user: AdminUser, factory: FactoryDep, settings: SettingsDep) -> FleetPublic:
    """Stores by engine, chart version and status; those behind the platform's current store chart
    (with the reason), the drifted and the pinned ones."""
    found = await run_in_threadpool(fleet_service.overview, factory, settings)
    return FleetPublic.of(found)


@router.put("/fleet/pins/{store_id}", response_model=StorePublic)
async def pin(
    store_id: str, user: AdminUser, factory: FactoryDep, settings: SettingsDep, body: PinRequest | None = None
) -> StorePublic:
    """Keep a store out of rollouts (a rollout already running skips it when its turn comes)."""
    reason = body.reason if body else ""
    store = await run_in_threadpool(
        lambda: fleet_service.set_pin(factory, store_id, pinned=True, reason=reason)
    )
    return StorePublic.of(store, settings)


@router.delete("/fleet/pins/{store_id}", response_model=StorePublic)
async def unpin(store_id: str, user: AdminUser, factory: FactoryDep, settings: SettingsDep) -> StorePublic:
    store = await run_in_threadpool(lambda: fleet_service.set_pin(factory, store_id, pinned=False))
    return StorePublic.of(store, settings)


@router.get("/rollouts", response_model=list[RolloutPublic])
async def list_rollouts(
    user: AdminUser,
    factory: FactoryDep,
    limit: Annotated[int, Query(ge=1, le=200, description="How many of the latest rollouts.")] = 20,
) -> list[RolloutPublic]:
    """The latest rollouts, newest first, with their steps counted by state."""
    return await run_in_threadpool(lambda: fleet_service.recent(factory, limit=limit))


@router.post("/rollouts", status_code=status.HTTP_201_CREATED, response_model=RolloutPublic)
async def start(
    body: RolloutCreate, user: AdminUser, factory: FactoryDep, settings: SettingsDep, response: Response
) -> RolloutPublic:
    """Roll the platform's current store chart and defaults out to the selected stores: the canary
    first, then waves; the rollout halts itself when more stores fail than `max_failures`."""
    rollout = await run_in_threadpool(fleet_service.start, factory, user, body.plan(), settings)
    response.headers["Location"] = f"/api/v1/rollouts/{rollout.id}"
    return rollout


@router.get("/rollouts/{rollout_id}", response_model=RolloutPublic)
async def read(rollout_id: RolloutId, user: AdminUser, factory: FactoryDep) -> RolloutPublic:
    """The rollout with its waves and each store's step."""
    return await run_in_threadpool(fleet_service.read, factory, rollout_id)


@router.post("/rollouts/{rollout_id}/pause", response_model=RolloutPublic)
async def pause(rollout_id: RolloutId, user: AdminUser, factory: FactoryDep) -> RolloutPublic:
    """No new store starts; the upgrades in flight finish."""
    return await run_in_threadpool(fleet_service.change, factory, rollout_id, "pause")


@router.post("/rollouts/{rollout_id}/resume", response_model=RolloutPublic)
async def resume(rollout_id: RolloutId, user: AdminUser, factory: FactoryDep) -> RolloutPublic:
    """Run again; a halted rollout tries its failed stores again."""
    return await run_in_threadpool(fleet_service.change, factory, rollout_id, "resume")


@router.post("/rollouts/{rollout_id}/abort", response_model=RolloutPublic)
async def abort(rollout_id: RolloutId, user: AdminUser, factory: FactoryDep) -> RolloutPublic:
    """Stop for good: stores not started stay where they are; upgrades in flight finish."""
    return await run_in_threadpool(fleet_service.change, factory, rollout_id, "abort")
