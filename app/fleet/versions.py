"""What a store runs: the store chart's version, the engine's own version and a digest of the
values the platform applied, all read from Helm's record of the deployed revision.

Light on purpose (no Helm, no Kubernetes): the job runner records a `RunningVersion` when an action
succeeds, and the API compares it with what the platform would deploy now (app/fleet/target.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.engines import ENGINES

# Values that differ from store to store by design (its public host): left out of the digest, so
# that the digest says "these are the platform's current defaults" for every store alike.
PER_STORE_KEYS = frozenset({"host"})


@dataclass(frozen=True)
class RunningVersion:
    chart_version: str  # the store chart's version, e.g. "0.2.0"
    app_version: str  # the engine's own version (WooCommerce plugin, Medusa image); "" if unknown
    values_digest: str  # values_digest() of the values the platform applied


def values_digest(values: Mapping[str, Any]) -> str:
    """12 hex characters of SHA-256 over the values (canonical JSON), per-store keys left out."""
    kept = {k: v for k, v in values.items() if k not in PER_STORE_KEYS}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def engine_app_version(engine: str, effective: Mapping[str, Any]) -> str:
    """The engine's version in the effective values (chart defaults merged with what was applied)."""
    found = ENGINES.get(engine)
    if found is None or not found.app_version_path:
        return ""
    node: Any = effective
    for key in found.app_version_path:
        if not isinstance(node, Mapping) or key not in node:
            return ""
        node = node[key]
    return str(node) if isinstance(node, str | int | float) else ""


def describe(engine: str, chart_version: str | None, app_version: str | None) -> str:
    """'store 0.2.0 · WooCommerce 11.0.1' for people; '' when nothing is known."""
    parts = []
    if chart_version:
        parts.append(f"store {chart_version}")
    if app_version:
        title = ENGINES[engine].app_title if engine in ENGINES else engine
        parts.append(f"{title or engine} {app_version}")
    return " · ".join(parts)


def running_from_record(record: Mapping[str, Any], engine: str) -> RunningVersion:
    """What one of Helm's release records says a store runs: `config` holds the values the platform
    passed (helm keeps them apart from the chart's defaults, which the engine version may come from)."""
    from app.reconcile.values import merge  # late: keeps this module free of Helm and Kubernetes

    chart = record.get("chart") or {}
    config = record.get("config") or {}
    effective = merge(dict(chart.get("values") or {}), dict(config))
    return RunningVersion(
        chart_version=str((chart.get("metadata") or {}).get("version", "")),
        app_version=engine_app_version(engine, effective),
        values_digest=values_digest(config),
    )
