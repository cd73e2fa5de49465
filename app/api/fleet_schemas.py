"""Request and response bodies of the fleet API: /api/v1/fleet and /api/v1/rollouts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from app.api.schemas import JsonInt, Strict
from app.db.models import Rollout, RolloutStep, Store
from app.engines import ENGINES
from app.fleet.overview import FleetOverview
from app.fleet.rollouts import FINAL, IN_FLIGHT, Plan, StepState
from app.fleet.versions import describe


class RolloutSelection(Strict):
    """Exactly one of: every store, the stores of one engine, or a list of stores."""

    all: bool | None = Field(default=None, description="Every live store (pinned ones stay out).")
    engine: str | None = Field(default=None, description="The stores of one engine.")
    stores: list[str] | None = Field(
        default=None, min_length=1, max_length=10_000, description="Store ids or names."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> RolloutSelection:
        chosen = [name for name in ("all", "engine", "stores") if getattr(self, name)]
        if len(chosen) != 1:
            raise ValueError("choose exactly one of 'all' (true), 'engine' or 'stores'")
        if self.engine is not None and self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose one of: {', '.join(ENGINES)}")
        for ref in self.stores or []:
            if not isinstance(ref, str) or not 1 <= len(ref) <= 30:
                raise ValueError("each entry of 'stores' must be a store id or name (1 to 30 characters)")
        return self

    def as_dict(self) -> dict[str, Any]:
        if self.all:
            return {"all": True}
        if self.engine:
            return {"engine": self.engine}
        return {"stores": list(self.stores or [])}


class RolloutCreate(Strict):
    selection: RolloutSelection
    canary: JsonInt = Field(default=1, ge=0, le=20, description="Stores upgraded first, alone.")
    wave_size: JsonInt = Field(default=5, ge=1, le=1000, description="Stores per wave after the canary.")
    parallelism: JsonInt = Field(default=2, ge=1, le=64, description="Upgrades in flight at once.")
    max_failures: JsonInt = Field(
        default=0, ge=0, le=10_000, description="Failed stores tolerated; one more halts the rollout."
    )
    helm_test: bool = Field(default=False, description="Run `helm test` after each store's upgrade.")

    def plan(self) -> Plan:
        return Plan(
            selection=self.selection.as_dict(),
            canary=self.canary,
            wave_size=self.wave_size,
            parallelism=self.parallelism,
            max_failures=self.max_failures,
            helm_test=self.helm_test,
        )


class PinRequest(Strict):
    reason: str = Field(default="", max_length=200, description="Why the store stays out of rollouts.")


class StepPublic(BaseModel):
    store_id: str
    store_name: str
    wave: int
    state: str
    from_revision: int | None
    to_revision: int | None
    from_version: str | None
    attempts: int
    job_id: int | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, step: RolloutStep, store: Store) -> StepPublic:
        return cls(
            store_id=store.id,
            store_name=store.name,
            wave=step.wave,
            state=step.state,
            from_revision=step.from_revision,
            to_revision=step.to_revision,
            from_version=step.from_version,
            attempts=step.attempts,
            job_id=step.job_id,
            error=step.error,
            started_at=step.started_at,
            finished_at=step.finished_at,
        )


class WavePublic(BaseModel):
    wave: int
    label: str  # "canary", "wave 1", …
    state: str  # pending, in progress, done
    counts: dict[str, int]
    steps: list[StepPublic]


class RolloutPublic(BaseModel):
    id: int
    status: str
    status_reason: str | None
    selection: dict[str, Any]
    target: dict[str, Any]
    canary: int
    wave_size: int
    parallelism: int
    max_failures: int
    helm_test: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    counts: dict[str, int] = Field(description="Steps by state.")
    waves: list[WavePublic] | None = Field(
        default=None, description="Each wave and its steps (null in lists)."
    )

    @property
    def settled(self) -> bool:
        """Nothing will change by itself: finished, or paused/halted with no step in flight."""
        if self.finished_at is not None:
            return True
        return self.status in ("paused", "halted") and not any(self.counts.get(s, 0) for s in IN_FLIGHT)

    @classmethod
    def of(
        cls,
        rollout: Rollout,
        creator: str,
        steps: list[tuple[RolloutStep, Store]],
        *,
        with_steps: bool = True,
    ) -> RolloutPublic:
        assert rollout.id is not None
        counts = Counter(step.state for step, _ in steps)
        return cls(
            id=rollout.id,
            status=rollout.status,
            status_reason=rollout.status_reason,
            selection=rollout.selection,
            target=rollout.target,
            canary=rollout.canary,
            wave_size=rollout.wave_size,
            parallelism=rollout.parallelism,
            max_failures=rollout.max_failures,
            helm_test=rollout.helm_test,
            created_by=creator,
            created_at=rollout.created_at,
            updated_at=rollout.updated_at,
            finished_at=rollout.finished_at,
            counts={state: counts.get(state, 0) for state in (StepState.PENDING, *IN_FLIGHT, *FINAL)},
            waves=_waves(steps) if with_steps else None,
        )


def _waves(steps: list[tuple[RolloutStep, Store]]) -> list[WavePublic]:
    by_wave: dict[int, list[StepPublic]] = {}
    for step, store in steps:
        by_wave.setdefault(step.wave, []).append(StepPublic.of(step, store))
    waves = []
    for wave, members in sorted(by_wave.items()):
        counts = Counter(m.state for m in members)
        if all(m.state in FINAL for m in members):
            state = "done"
        elif any(m.state != StepState.PENDING for m in members):
            state = "in progress"
        else:
            state = "pending"
        label = "canary" if wave == 0 else f"wave {wave}"
        waves.append(WavePublic(wave=wave, label=label, state=state, counts=dict(counts), steps=members))
    return waves


class FleetStore(BaseModel):
    id: str
    name: str
    engine: str
    status: str
    chart_version: str | None
    app_version: str | None
    runs: str  # "store 0.2.0 · WooCommerce 11.0.1"
    pinned: bool
    reason: str | None = None  # why it is behind
    differences: int | None = None  # for drifted stores

    @classmethod
    def of(cls, store: Store, *, reason: str | None = None) -> FleetStore:
        differences = len((store.drift or {}).get("differences") or []) if store.drifted else None
        return cls(
            id=store.id,
            name=store.name,
            engine=store.engine,
            status=store.status,
            chart_version=store.chart_version,
            app_version=store.app_version,
            runs=describe(store.engine, store.chart_version, store.app_version),
            pinned=bool(store.pinned),
            reason=reason,
            differences=differences,
        )


class FleetCount(BaseModel):
    engine: str
    chart_version: str
    status: str
    stores: int


class ChartPublic(BaseModel):
    chart: str
    chart_version: str
    engines: dict[str, dict[str, str]]  # engine → {app_version, defaults}


class FleetPublic(BaseModel):
    current: ChartPublic | None = Field(description="What an upgrade deploys now (null if unreadable).")
    current_error: str | None = None
    stores: int
    counts: list[FleetCount]
    by_engine: dict[str, int]
    by_chart_version: dict[str, int]
    by_status: dict[str, int]
    behind: list[FleetStore]
    behind_total: int
    drifted: list[FleetStore]
    pinned: list[FleetStore]

    @classmethod
    def of(cls, found: FleetOverview) -> FleetPublic:
        target = found.target
        current = None
        if target is not None:
            data = target.as_dict()
            current = ChartPublic(
                chart=data["chart"], chart_version=data["chart_version"], engines=data["engines"]
            )
        return cls(
            current=current,
            current_error=found.target_error or None,
            stores=found.total,
            counts=[FleetCount(engine=e, chart_version=v, status=s, stores=n) for e, v, s, n in found.rows],
            by_engine=found.by(0),
            by_chart_version=found.by(1),
            by_status=found.by(2),
            behind=[FleetStore.of(b.store, reason=b.reason) for b in found.behind],
            behind_total=found.behind_total,
            drifted=[FleetStore.of(s) for s in found.drifted],
            pinned=[FleetStore.of(s) for s in found.pinned],
        )
