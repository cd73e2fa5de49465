"""The platform under test: settings for the simulated cluster, the app with embedded workers
in a TestClient, API tokens, polling helpers, and cleanup of whatever a test leaves behind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.db.engine import make_engine, make_sessionmaker, transaction
from app.db.migrate import upgrade_to_head
from app.db.users import get_or_create_user, issue_token
from app.main import create_app
from app.settings import REPO_ROOT, Settings
from app.simcluster.client import ClusterClient

STORE_CHART = REPO_ROOT / "store-chart"
LOCAL_STORE_VALUES = REPO_ROOT / "values" / "stores-local.yaml"


def platform_settings(cluster: ClusterClient, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'storeplane.db'}",
        "kubeconfig": str(cluster.kubeconfig),
        "helm_binary": str(cluster.bin_dir / "helm"),
        "store_chart": str(STORE_CHART),
        "store_values_file": str(LOCAL_STORE_VALUES),
        "poll_seconds": 0.2,
        "retry_base_seconds": 1.0,
        "retry_max_seconds": 5.0,
        "helm_timeout": 180,
        "provision_deadline": 600,
        "reconcile_interval_seconds": 5.0,
        "orphan_grace_seconds": 3600.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Platform:
    client: TestClient
    settings: Settings
    cluster: ClusterClient
    headers: dict[str, str]

    def post(self, path: str, body: Any = None, **headers: str) -> Any:
        return self.client.post(f"/api/v1{path}", json=body, headers=self.headers | headers)

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1{path}", headers=self.headers)

    def store(self, store_id: str) -> dict[str, Any]:
        r = self.get(f"/stores/{store_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def wait_for(self, store_id: str, *statuses: str, limit: float = 300) -> dict[str, Any]:
        """Poll the store until its status is one of `statuses`; fails with its events otherwise."""
        return until(
            lambda: (s := self.store(store_id))["status"] in statuses and s,
            limit=limit,
            what=lambda: f"store {store_id} to be {statuses}; events: {self.events(store_id)}",
        )

    def events(self, store_id: str) -> list[tuple[str, str]]:
        return [(e["step"], e["message"]) for e in self.get(f"/stores/{store_id}/events").json()]


def until(check: Callable[[], Any], *, limit: float, what: Callable[[], str], every: float = 0.5) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(every)
    raise AssertionError(f"waited {limit:.0f}s for {what()}")


def make_token(settings: Settings, user: str) -> dict[str, str]:
    upgrade_to_head(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            token = issue_token(session, get_or_create_user(session, user))
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def running_platform(
    cluster: ClusterClient, settings: Settings, *, workers: bool = True
) -> Iterator[Platform]:
    headers = make_token(settings, "alice")
    app = create_app(settings, run_workers=workers)
    client = TestClient(app)
    with client:
        platform = Platform(client, settings, cluster, headers)
        try:
            yield platform
        finally:
            remove_leftovers(platform)


def remove_leftovers(p: Platform) -> None:
    """Delete every store the test created that is not Deleted yet, through the API, and wait."""
    left = [s for s in p.get("/stores").json() if s["status"] != "deleted"]
    for s in left:
        if s["status"] != "deleting":
            p.delete(f"/stores/{s['id']}")
    for s in left:
        # Cleanup after a failed test must not hide that failure; the namespace delete is the backstop.
        with suppress(AssertionError):
            p.wait_for(s["id"], "deleted", "failed", limit=240)
        p.cluster.kubectl("delete", "namespace", s["namespace"], "--ignore-not-found", "--wait=false")
