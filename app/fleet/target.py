"""What the platform would deploy now: the current store chart and, per engine, the version of the
engine it brings and the digest of the values (the chart's defaults for this environment).

A store is current when its chart version and its values digest equal what an upgrade would give
it now; otherwise it is behind, with the reason. Everything here is files (the chart, the store
values file) and arithmetic: no Helm process, no cluster, so the dashboard may call it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.db.models import Store
from app.engines import ENGINES
from app.fleet.versions import engine_app_version, values_digest
from app.helm.chart import chart_info
from app.jobs.actions import reconcile_actions
from app.jobs.outcome import StoreSnapshot
from app.lifecycle import StoreStatus
from app.reconcile.values import chart_values, merge
from app.settings import Settings


@dataclass(frozen=True)
class EngineTarget:
    app_version: str  # the engine's version the chart deploys (WooCommerce plugin, Medusa image)
    defaults: str  # values digest of a store of this engine with no values of its own


@dataclass(frozen=True)
class FleetTarget:
    chart: str  # the chart's name, "store"
    chart_version: str
    engines: dict[str, EngineTarget] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.chart} {self.chart_version}"

    def as_dict(self) -> dict[str, Any]:
        """As a rollout records it (JSON)."""
        return {
            "chart": self.chart,
            "chart_version": self.chart_version,
            "engines": {
                name: {"app_version": e.app_version, "defaults": e.defaults}
                for name, e in self.engines.items()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FleetTarget:
        return cls(
            chart=str(data.get("chart", "")),
            chart_version=str(data.get("chart_version", "")),
            engines={
                name: EngineTarget(str(e.get("app_version", "")), str(e.get("defaults", "")))
                for name, e in (data.get("engines") or {}).items()
            },
        )

    def changes_from(self, earlier: FleetTarget) -> str:
        """What moved between `earlier` and this target, in words ('' if nothing)."""
        if self.chart_version != earlier.chart_version:
            return f"the store chart moved from {earlier.label} to {self.label}"
        moved = sorted(
            name for name in set(self.engines) | set(earlier.engines)
            if self.engines.get(name) != earlier.engines.get(name)
        )  # fmt: skip
        if moved:
            return f"the store defaults changed for {', '.join(moved)}"
        return ""


def current_target(settings: Settings) -> FleetTarget:
    """The deployed chart and the environment's defaults (raises app.errors if unreadable)."""
    info = chart_info(settings)
    engines = {}
    for name in info.engines:
        if name not in ENGINES:
            continue
        values = _values(_placeholder(name), settings)
        effective = merge(info.default_values, values)
        engines[name] = EngineTarget(engine_app_version(name, effective), values_digest(values))
    return FleetTarget(chart=info.name, chart_version=info.version, engines=engines)


def expected_digest(store: Store, settings: Settings) -> str:
    """The values digest an upgrade would give `store` now: computed per store (by the workers'
    own target factory), so whatever a store carries of its own is counted as the workers count it."""
    return values_digest(_values(StoreSnapshot.of(store, owner=""), settings))


def behind(store: Store, settings: Settings, target: FleetTarget) -> str | None:
    """Why `store` is not on `target`, in words; None when it is current."""
    if store.chart_version is None:
        return "what it runs is not known yet (the sweep reads it from Helm's record)"
    if store.chart_version != target.chart_version:
        return f"runs store {store.chart_version}; the platform deploys {target.label}"
    if store.values_digest != expected_digest(store, settings):
        return "the platform's store defaults changed since its last upgrade"
    return None


def is_current(store: Store, settings: Settings, target: FleetTarget) -> bool:
    """Ready on the target chart and defaults: a rollout has nothing to do for it."""
    return store.status == StoreStatus.READY and behind(store, settings, target) is None


def _placeholder(engine: str) -> StoreSnapshot:
    return StoreSnapshot(
        id="s-000000000000",
        name="placeholder",
        owner="",
        engine=engine,
        namespace="store-s-000000000000",
        host="placeholder.invalid",
        status=StoreStatus.READY,
        chart_values={},
        helm_revision=None,
    )


def _values(snapshot: StoreSnapshot, settings: Settings) -> dict[str, Any]:
    """What the workers would send helm for this store: built by the workers' own target factory."""
    _, make_target = reconcile_actions(settings)
    return chart_values(make_target(snapshot, None), settings)
