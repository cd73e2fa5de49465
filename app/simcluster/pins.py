"""Finds the pinned binaries built by tools/build.sh and refuses ones built for other pins."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from app.settings import REPO_ROOT

TOOLS_DIR = REPO_ROOT / "tools"
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", "helm")
# Not a binary, but assembled with them from the pinned kwok module.
REQUIRED_FILES = (*BINARIES, "kwok-stages.yaml")


class BinariesMissing(RuntimeError):
    """The simulated cluster's binaries are missing or were built for other pins."""


def read_pins(path: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pins[key.strip()] = value.strip()
    return pins


@dataclass(frozen=True)
class Toolset:
    bin_dir: Path
    pins: dict[str, str]

    def path(self, name: str) -> Path:
        return self.bin_dir / name


def locate_toolset() -> Toolset:
    """The bin directory for the current pins, checked to hold every binary built from them."""
    bin_dir = Path(
        subprocess.run(
            ["bash", str(TOOLS_DIR / "build.sh"), "--bin-dir"], check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    wanted = read_pins(TOOLS_DIR / "versions.env")
    built_pins = bin_dir / "versions.env"
    if not built_pins.is_file():
        raise BinariesMissing(f"no binaries for the current pins in {bin_dir}: run `make tools` first")
    built = read_pins(built_pins)
    if built != wanted:
        moved = sorted(k for k in wanted if built.get(k) != wanted[k])
        raise BinariesMissing(
            f"binaries in {bin_dir} were built for other pins ({', '.join(moved)}): run `make tools`"
        )
    missing = [name for name in REQUIRED_FILES if not (bin_dir / name).exists()]
    if missing:
        raise BinariesMissing(f"missing from {bin_dir}: {', '.join(missing)}: run `make tools`")
    return Toolset(bin_dir=bin_dir, pins=wanted)
