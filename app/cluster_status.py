"""What this process knows about the Kubernetes API, for /readyz's body and for /metrics.

Readiness is what a pod needs to serve: the database. The cluster is reported, never required: a
k3s restart (seconds to minutes on a VPS) must not take every API pod out of its Service, because
the dashboard, the API and the job queue keep working without it and store actions retry by
themselves. A background task checks the API server every `interval` seconds with a bounded
timeout, so neither a probe nor a request ever waits on an unreachable cluster.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from app import metrics
from app.settings import Settings

log = logging.getLogger("storeplane.cluster")

Ping = Callable[[], Awaitable[None]]

CHECK_INTERVAL_SECONDS = 10.0
CHECK_TIMEOUT_SECONDS = 5.0


def kube_ping(settings: Settings) -> Ping:
    """The real check: app.kube lists one managed namespace (imported late: it loads lightkube)."""

    async def ping() -> None:
        from app.kube import get_kube

        await get_kube(settings).ping()

    return ping


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::1"})  # noqa: S104 - names, not binds
CONTAINER_MARKERS = (Path("/.dockerenv"), Path("/run/.containerenv"))  # Docker, Podman


def container_loopback_hint(settings: Settings, *, in_container: bool | None = None) -> str:
    """Why a kubeconfig cannot work here, when it names the host's loopback from inside a container
    (Compose with a k3d/kind/k3s kubeconfig copied as is); "" when nothing is wrong that way."""
    if in_container is None:
        in_container = any(marker.exists() for marker in CONTAINER_MARKERS)
    path = settings.kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if not in_container or not path:
        return ""
    try:
        config = yaml.safe_load(Path(path).read_text()) or {}
        context_name = settings.kube_context or config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        server = next(c["cluster"]["server"] for c in config["clusters"] if c["name"] == context["cluster"])
    except (OSError, yaml.YAMLError, KeyError, StopIteration, TypeError):
        return ""  # an unreadable kubeconfig has its own, clearer error when it is loaded
    if urlsplit(server).hostname not in LOOPBACK_HOSTS:
        return ""
    return (
        f"the kubeconfig names {server}, and inside a container that address is the container itself: "
        "point it at host.docker.internal (k3d/k3s: add that name to the API server's certificate "
        "with --tls-san) or use docker-compose.kind.yml (docs/operations.md §5)"
    )


@dataclass
class ClusterState:
    reachable: bool | None = None  # None: not checked yet
    reason: str = ""  # why the last check failed
    since: float | None = None  # when the current state began (unix time)
    last_success: float | None = None


class ClusterStatus:
    def __init__(self, ping: Ping, *, timeout: float = CHECK_TIMEOUT_SECONDS, hint: str = "") -> None:
        self._ping = ping
        self._timeout = timeout
        self._hint = hint  # added to every failure: what is probably wrong (container_loopback_hint)
        self.state = ClusterState()

    async def check(self) -> ClusterState:
        try:
            await asyncio.wait_for(self._ping(), self._timeout)
        except TimeoutError:
            self._record(False, f"no answer within {self._timeout:g} s")
        except Exception as exc:  # any failure is "unreachable"; its message tells the operator which
            self._record(False, getattr(exc, "message", None) or type(exc).__name__)
        else:
            self._record(True, "")
        return self.state

    def _record(self, reachable: bool, reason: str) -> None:
        if not reachable and self._hint:
            reason = f"{reason} ({self._hint})"
        now = time.time()
        if reachable != self.state.reachable:
            if reachable:
                log.info("the Kubernetes API answers again")
            else:
                log.warning("the Kubernetes API does not answer: %s", reason)
            self.state.since = now
        self.state.reachable = reachable
        self.state.reason = reason
        if reachable:
            self.state.last_success = now
            metrics.KUBERNETES_API_LAST_SUCCESS.set(now)
        metrics.KUBERNETES_API_UP.set(1 if reachable else 0)

    async def run(self, stop: asyncio.Event, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval)
            except TimeoutError:
                await self.check()

    def summary(self) -> str:
        """`ok`, `unavailable: <why>` or `unknown` (the shape of /readyz's checks)."""
        if self.state.reachable is None:
            return "unknown"
        return "ok" if self.state.reachable else f"unavailable: {self.state.reason}"

    def details(self) -> dict[str, Any]:
        return {
            "reachable": self.state.reachable,
            "since": _iso(self.state.since),
            "last_success": _iso(self.state.last_success),
        }


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat(timespec="seconds")
