"""The checkers `make tools` builds from pinned Go modules (tools/actionlint, tools/composecheck)."""

from __future__ import annotations

from pathlib import Path

from tests.unit.chart.render import helm_binary


def tool(name: str) -> Path:
    """A binary from the machine's tools directory (next to helm)."""
    path = helm_binary().parent / name
    assert path.is_file(), f"{name} is not built at {path}: run `make tools`"
    return path
