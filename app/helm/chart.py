"""Which engines the deployed store chart builds: its Chart.yaml annotation `storeplane.io/engines`.

The API refuses a store whose engine the chart does not build (app/engines.py), so this is read on
every create and dashboard list. A chart directory (the default, and the platform image's
/app/store-chart) and a packaged .tgz are read once per version of the file (one stat per call, so
a chart edited on disk is seen at once); a repository or OCI reference costs a `helm show chart`,
so its answer is kept per reference and version for the life of the process (a deployed chart
reference does not change under a running platform).
"""

from __future__ import annotations

import subprocess
import tarfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

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


def built_engines(settings: Settings) -> ChartEngines:
    ref = settings.store_chart
    path = Path(ref)
    if path.is_dir():
        meta = path / "Chart.yaml"
        try:
            mtime = meta.stat().st_mtime_ns
        except OSError as exc:
            raise errors.PermanentError(f"the store chart {ref} cannot be read: {exc}") from exc
        return _from_directory(str(meta), mtime)
    if path.is_file():
        return _from_archive(str(path), path.stat().st_mtime_ns)
    return _from_helm(settings.helm_binary or "helm", ref, settings.store_chart_version)


@lru_cache(maxsize=8)
def _from_directory(chart_yaml: str, _mtime_ns: int) -> ChartEngines:
    return _from_metadata(_read_yaml(Path(chart_yaml), str(Path(chart_yaml).parent)))


def _read_yaml(path: Path, ref: str) -> dict:
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise errors.PermanentError(f"the store chart {ref} cannot be read: {exc}") from exc
    if not isinstance(loaded, dict):
        raise errors.PermanentError(f"the store chart {ref} has no valid Chart.yaml")
    return loaded


def _from_metadata(meta: dict) -> ChartEngines:
    label = f"{meta.get('name', 'store')} {meta.get('version', '?')}"
    declared = (meta.get("annotations") or {}).get(ANNOTATION)
    if declared is None:
        return ChartEngines(label, BEFORE_ANNOTATION)
    return ChartEngines(label, tuple(e.strip() for e in str(declared).split(",") if e.strip()))


@lru_cache(maxsize=8)
def _from_archive(path: str, _mtime_ns: int) -> ChartEngines:
    try:
        with tarfile.open(path) as archive:
            member = next(
                (
                    m
                    for m in archive.getmembers()
                    if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml")
                ),
                None,
            )
            if member is None:
                raise errors.PermanentError(f"the store chart {path} has no Chart.yaml")
            extracted = archive.extractfile(member)
            assert extracted is not None
            meta = yaml.safe_load(extracted.read())
    except (OSError, tarfile.TarError, yaml.YAMLError) as exc:
        raise errors.PermanentError(f"the store chart {path} cannot be read: {exc}") from exc
    return _from_metadata(meta if isinstance(meta, dict) else {})


@lru_cache(maxsize=8)
def _from_helm(helm: str, ref: str, version: str) -> ChartEngines:
    argv = [helm, "show", "chart", ref, *(["--version", version] if version else [])]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.RetryableError(f"`helm show chart {ref}` did not run: {exc}") from exc
    if done.returncode != 0:
        raise errors.RetryableError(f"`helm show chart {ref}` failed: {done.stderr.strip()[-500:]}")
    meta = yaml.safe_load(done.stdout)
    return _from_metadata(meta if isinstance(meta, dict) else {})
