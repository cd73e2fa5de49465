"""Probes of the worker, which has no HTTP port: `python -m app probe ready alive` (exit 0 = all pass).

ready: the database answers SELECT 1, which is what a worker needs to claim jobs. The Kubernetes API
       is not part of it (the same rule as the API's /readyz): a worker whose cluster is away keeps
       its jobs and retries them; its storeplane_kubernetes_api_up metric says so.
alive: the worker's event loop touched its heartbeat file within HEARTBEAT_MAX_AGE seconds. A loop
       that hangs (a blocking call, a deadlock) stops touching it, and the kubelet restarts the pod.

The chart's worker probes and the Compose worker healthcheck both run this, from the image itself.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.settings import Settings

HEARTBEAT_INTERVAL = 10.0
HEARTBEAT_MAX_AGE = 60.0


def heartbeat_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / "worker.heartbeat"


class Heartbeat:
    """Touches the file every `interval` seconds from the worker's event loop."""

    def __init__(self, path: Path, interval: float = HEARTBEAT_INTERVAL) -> None:
        self.path = path
        self.interval = interval

    def beat(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(f"{time.time():.0f}\n")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.beat()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            except TimeoutError:
                continue
        self.path.unlink(missing_ok=True)  # a stopped worker is not alive


def ready(settings: Settings) -> str | None:
    """None when ready, else why not."""
    from app.db.engine import make_engine

    engine = make_engine(settings.effective_database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The driver's first line says what failed (host, port, refusal); never the URL's password.
        why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return f"database: {type(exc).__name__}: {why}"
    finally:
        engine.dispose()
    return None


def alive(settings: Settings, *, max_age: float = HEARTBEAT_MAX_AGE) -> str | None:
    path = heartbeat_path(settings)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return f"no heartbeat at {path}: the worker has not started its loop (or has stopped)"
    if age > max_age:
        return f"the worker's heartbeat is {age:.0f} s old (limit {max_age:.0f} s): its event loop is stuck"
    return None


def run_probes(settings: Settings, checks: list[str]) -> int:
    probes = {"ready": ready, "alive": alive}
    for name in checks:
        failure = probes[name](settings)
        if failure:
            print(f"not {name}: {failure}", file=sys.stderr)
            return 1
    return 0
