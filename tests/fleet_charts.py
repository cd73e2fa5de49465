"""Store charts for fleet tests: a copy of store-chart/ whose version a test sets, so that "shipping
a new chart" is editing the copy (what deploying a new platform image looks like to the workers),
and the value that makes one store's set-up fail on the simulated cluster."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from app.settings import REPO_ROOT

STORE_CHART = REPO_ROOT / "store-chart"

# A store carrying these values (Store.chart_values: no API sets them, an operator's hand edit does)
# has a set-up pod that exits 3 at once, and only once (no retry of the pod): it fails fast.
FAILING_SETUP = {
    "setup": {
        "backoffLimit": 0,
        "podAnnotations": {"sim.storeplane.io/exit-code": "3", "sim.storeplane.io/message": "broken"},
    }
}


def chart_copy(directory: Path, version: str) -> Path:
    chart = directory / "store-chart"
    shutil.copytree(STORE_CHART, chart)
    set_version(chart, version)
    return chart


def set_version(chart: Path, version: str, *, setup_seconds: int | None = None) -> None:
    """Ship `version` (and, if given, a set-up that runs that long: a window to act in)."""
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    meta["version"] = version
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))
    if setup_seconds is not None:
        values = yaml.safe_load((chart / "values.yaml").read_text())
        values["setup"]["podAnnotations"] = {"sim.storeplane.io/run-duration": f"{setup_seconds}s"}
        (chart / "values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
