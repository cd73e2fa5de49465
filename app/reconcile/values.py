"""The chart values of one store: environment defaults, then what the platform decides, then the
store's own values. Secrets are never values: the chart generates them in-cluster (Helm lookup)."""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app import errors
from app.engines import ENGINES
from app.reconcile.target import StoreTarget
from app.settings import Settings


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep merge like Helm's: maps merge key by key, anything else in `override` replaces."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def environment_values(settings: Settings) -> dict[str, Any]:
    """The environment's store defaults (a copy: callers merge into it). Parsed once per version
    of the file: the Fleet page computes every store's values to tell which are behind."""
    if not settings.store_values_file:
        return {}
    path = Path(settings.store_values_file)
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise errors.PermanentError(f"store values file {path} cannot be read: {exc}") from exc
    return copy.deepcopy(_parsed(str(path), stamp))


@lru_cache(maxsize=8)
def _parsed(path: str, _stamp: int) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise errors.PermanentError(f"store values file {path} cannot be read: {exc}") from exc
    if not isinstance(loaded, dict):
        raise errors.PermanentError(
            f"store values file {path} must hold a mapping, not {type(loaded).__name__}"
        )
    return loaded


# Seconds Helm's wait for the setup hook runs before the Job's own clock starts (creating the Job,
# scheduling its pod, pulling the image), at most half the timeout.
HOOK_START_MARGIN = 60


def setup_deadline(helm_timeout: int) -> int:
    """The setup Job's activeDeadlineSeconds for a given helm --timeout. The Job must end before
    Helm stops waiting for it: a retry's `before-hook-creation` would otherwise delete a Job that
    is still working (issue 11). One setting, STOREPLANE_HELM_TIMEOUT, decides both."""
    return helm_timeout - min(HOOK_START_MARGIN, helm_timeout // 2)


def chart_values(t: StoreTarget, settings: Settings) -> dict[str, Any]:
    platform: dict[str, Any] = {
        "engine": t.engine,
        "host": t.host,
        "setup": {"activeDeadlineSeconds": setup_deadline(settings.helm_timeout)},
        # Linked domains: only proven ones (app/db/domains.py), decided when the action starts.
        "primaryHost": t.primary_host,
        "ingress": {"extraHosts": list(t.extra_hosts)},
    }
    # The IngressClass comes with its NetworkPolicy selectors from the environment's store values
    # file; STOREPLANE_INGRESS_CLASS overrides the class only when set.
    if settings.ingress_class:
        platform["ingress"]["className"] = settings.ingress_class
    engine = ENGINES.get(t.engine)
    engine_values = dict(engine.chart_values) if engine else {}
    return merge(merge(merge(environment_values(settings), engine_values), platform), t.values)
