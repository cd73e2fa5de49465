"""Render the store chart with the real helm v4 binary (the pinned build in the machine cache)."""

from __future__ import annotations

import re
import subprocess
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "store-chart"
VALUES_DIR = ROOT / "values"


@cache
def helm_binary() -> Path:
    bin_dir = subprocess.run(
        ["bash", str(ROOT / "tools" / "build.sh"), "--bin-dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    helm = Path(bin_dir) / "helm"
    assert helm.is_file(), f"helm v4 is not built at {helm}: run `make tools`"
    return helm


def helm(*args: str, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs helm with values (if any) on stdin, like the orchestrator does."""
    argv = [str(helm_binary()), *args]
    stdin = None
    if values is not None:
        argv += ["-f", "-"]
        stdin = yaml.safe_dump(values)
    return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120, check=False)


def render(
    values: dict[str, Any] | None = None,
    *,
    files: tuple[Path, ...] = (),
    release: str = "shop",
    namespace: str = "store-s-1",
    hooks: bool = True,
) -> list[dict[str, Any]]:
    """Every object `helm template` renders (hooks and tests included), as dicts."""
    args = ["template", release, str(CHART), "-n", namespace]
    for f in files:
        args += ["-f", str(f)]
    if not hooks:
        args.append("--no-hooks")
    result = helm(*args, values=values or {})
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(values: dict[str, Any]) -> str:
    """The error helm prints for values the chart must refuse."""
    result = helm("template", "shop", str(CHART), "-n", "store-s-1", values=values)
    assert result.returncode != 0, f"helm accepted values it should refuse: {values}"
    return result.stderr


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [o for o in by_kind(objects, kind) if name is None or o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """'Kind/name' -> pod spec, for every object that runs pods."""
    specs = {}
    for o in objects:
        kind, name = o["kind"], o["metadata"]["name"]
        if kind == "Pod":
            specs[f"{kind}/{name}"] = o["spec"]
        elif kind in ("Deployment", "StatefulSet", "Job", "DaemonSet", "ReplicaSet"):
            specs[f"{kind}/{name}"] = o["spec"]["template"]["spec"]
        elif kind == "CronJob":
            specs[f"{kind}/{name}"] = o["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return specs


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def quantity(value: Any) -> Decimal:
    """Kubernetes quantity -> number (cores or bytes)."""
    text = str(value)
    if text.endswith("m"):
        return Decimal(text[:-1]) / 1000
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", text)
    assert match, f"not a quantity: {value!r}"
    number, unit = match.groups()
    return Decimal(number) * _UNITS.get(unit, 1)
