"""The deployed store chart as the platform sees it: its name, version and appVersion, the engines
it builds (Chart.yaml's annotation `storeplane.io/engines`) and its default values.

The API refuses a store whose engine the chart does not build (app/engines.py), and the Fleet page
compares every store with the chart's version and defaults (app/fleet/target.py), so this is read
on every create and dashboard list. A chart directory (the default, and the platform image's
/app/store-chart) and a packaged .tgz are read once per version of the file (one stat per call, so
a chart edited or replaced on disk is seen at once); a repository or OCI reference costs a
`helm show chart` and a `helm show values`, so its answer is kept per reference and version for the
life of the process (a deployed chart reference does not change under a running platform).
"""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from app import errors
from app.settings import Settings

ANNOTATION = "storeplane.io/engines"
# Store charts older than the annotation (0.1.x) built WooCommerce only.
BEFORE_ANNOTATION = ("woocommerce",)


@dataclass(frozen=True)
class ChartEngines:
    chart: str  # "store 0.2.0", for messages
    engines: tuple[str, ...]


@dataclass(frozen=True)
class ChartInfo:
    name: str
    version: str
    app_version: str
    engines: tuple[str, ...]
    # values.yaml of the chart: what a store gets where neither the platform nor the store says.
    default_values: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def built_engines(settings: Settings) -> ChartEngines:
    info = chart_info(settings)
    return ChartEngines(info.label, info.engines)


def chart_info(settings: Settings) -> ChartInfo:
    ref = settings.store_chart
    path = Path(ref)
    if path.is_dir():
        meta, values = path / "Chart.yaml", path / "values.yaml"
        try:
            stamp = (meta.stat().st_mtime_ns, values.stat().st_mtime_ns if values.exists() else 0)
        except OSError as exc:
            raise errors.PermanentError(f"the store chart {ref} cannot be read: {exc}") from exc
        return _from_directory(str(path), stamp)
    if path.is_file():
        return _from_archive(str(path), path.stat().st_mtime_ns)
    return _from_helm(settings.helm_binary or "helm", ref, settings.store_chart_version)


@lru_cache(maxsize=8)
def _from_directory(directory: str, _stamp: tuple[int, int]) -> ChartInfo:
    path = Path(directory)
    meta = _mapping(_read_yaml(path / "Chart.yaml", directory), directory, "Chart.yaml")
    values_file = path / "values.yaml"
    values = _read_yaml(values_file, directory) if values_file.exists() else {}
    return _info(meta, _mapping(values or {}, directory, "values.yaml"))


def _read_yaml(path: Path, ref: str) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise errors.PermanentError(f"the store chart {ref} cannot be read: {exc}") from exc


def _mapping(loaded: Any, ref: str, what: str) -> dict[str, Any]:
    if not isinstance(loaded, dict):
        raise errors.PermanentError(f"the store chart {ref} has no valid {what}")
    return loaded


def _info(meta: dict[str, Any], values: dict[str, Any]) -> ChartInfo:
    declared = (meta.get("annotations") or {}).get(ANNOTATION)
    engines = (
        BEFORE_ANNOTATION
        if declared is None
        else tuple(e.strip() for e in str(declared).split(",") if e.strip())
    )
    return ChartInfo(
        name=str(meta.get("name", "store")),
        version=str(meta.get("version", "?")),
        app_version=str(meta.get("appVersion", "")),
        engines=engines,
        default_values=values,
    )


@lru_cache(maxsize=8)
def _from_archive(path: str, _mtime_ns: int) -> ChartInfo:
    found: dict[str, Any] = {}
    try:
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                top_level = member.name.count("/") == 1
                for name in ("Chart.yaml", "values.yaml"):
                    if top_level and member.name.endswith(f"/{name}"):
                        extracted = archive.extractfile(member)
                        assert extracted is not None
                        found[name] = yaml.safe_load(extracted.read())
    except (OSError, tarfile.TarError, yaml.YAMLError) as exc:
        raise errors.PermanentError(f"the store chart {path} cannot be read: {exc}") from exc
    if "Chart.yaml" not in found:
        raise errors.PermanentError(f"the store chart {path} has no Chart.yaml")
    meta = found["Chart.yaml"] if isinstance(found["Chart.yaml"], dict) else {}
    values = found.get("values.yaml")
    return _info(meta, values if isinstance(values, dict) else {})


@lru_cache(maxsize=8)
def _from_helm(helm: str, ref: str, version: str) -> ChartInfo:
    meta = _helm_show(helm, "chart", ref, version)
    values = _helm_show(helm, "values", ref, version)
    return _info(meta, values)


def _helm_show(helm: str, what: str, ref: str, version: str) -> dict[str, Any]:
    argv = [helm, "show", what, ref, *(["--version", version] if version else [])]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.RetryableError(f"`helm show {what} {ref}` did not run: {exc}") from exc
    if done.returncode != 0:
        raise errors.RetryableError(f"`helm show {what} {ref}` failed: {done.stderr.strip()[-500:]}")
    loaded = yaml.safe_load(done.stdout)
    return loaded if isinstance(loaded, dict) else {}
