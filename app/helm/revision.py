"""One revision of a release, as `helm history` shows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Revision:
    revision: int
    status: str  # deployed | superseded | failed | pending-install | pending-upgrade | …
    updated: datetime | None
    chart: str  # "<name>-<version>"
    app_version: str
    description: str


def parse_time(value: str | None) -> datetime | None:
    """Go's RFC 3339 with nanoseconds → datetime (Python keeps microseconds)."""
    if not value:
        return None
    head, dot, rest = value.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6]}{zone}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
