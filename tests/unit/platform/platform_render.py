"""Render the platform chart with the real helm v4 binary (the pinned build in the machine cache)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.unit.chart.render import ROOT, VALUES_DIR, helm

CHART = ROOT / "platform-chart"
CI_DIR = CHART / "ci"
RELEASE = "sp"
NAMESPACE = "storeplane"

# Every scenario a test of "all containers" runs over: the ci/ files and both environments.
SCENARIOS = {
    **{f"ci/{p.name}": p for p in sorted(CI_DIR.glob("*-values.yaml"))},
    "values/local.yaml": VALUES_DIR / "local.yaml",
    "values/prod.yaml": VALUES_DIR / "prod.yaml",
}


def render(values: dict[str, Any] | None = None, *, files: tuple[Path, ...] = ()) -> list[dict[str, Any]]:
    """Every object `helm template` renders, as dicts."""
    args = ["template", RELEASE, str(CHART), "-n", NAMESPACE]
    for f in files:
        args += ["-f", str(f)]
    result = helm(*args, values=values or {})
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(values: dict[str, Any], *, files: tuple[Path, ...] = ()) -> str:
    """The error helm prints for values the chart must refuse."""
    args = ["template", RELEASE, str(CHART), "-n", NAMESPACE]
    for f in files:
        args += ["-f", str(f)]
    result = helm(*args, values=values)
    assert result.returncode != 0, f"helm accepted values it should refuse: {values}"
    return result.stderr


def find(objects: list[dict[str, Any]], kind: str, suffix: str = "") -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]


def one(objects: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    found = find(objects, kind, suffix)
    assert len(found) == 1, f"expected one {kind} *{suffix}, found {[o['metadata']['name'] for o in found]}"
    return found[0]


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """'Kind/name' -> pod spec, for every object that runs pods."""
    return {
        f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet")
    }


def config(objects: list[dict[str, Any]]) -> dict[str, str]:
    return one(objects, "ConfigMap", "-config")["data"]
