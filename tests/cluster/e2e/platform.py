"""The platform under test: settings for the simulated cluster, the app with embedded workers
in a TestClient, API tokens, polling helpers, and cleanup of whatever a test leaves behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
from app.simcluster.client import ClusterClient, CommandFailed
from tests.lifted_limits import LIMITS_LIFTED

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
        # The cluster is shared with other test sessions: never treat their namespaces as orphans.
        "orphan_grace_seconds": 30 * 24 * 3600.0,
        # One test user drives many stores quickly: lift the abuse limits.
        **LIMITS_LIFTED,
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

    def stores(self, query: str = "") -> list[dict[str, Any]]:
        """Every store the list shows, following its pages (`query`: filters, e.g. "include_deleted=true")."""
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = self.get(f"/stores?limit=200&{query}{cursor}").json()
            found += page["items"]
            if page["next_cursor"] is None:
                return found
            cursor = f"&cursor={page['next_cursor']}"

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
            if workers:
                remove_leftovers(platform)
            else:  # the test ran its own worker processes: one more does the cleanup
                with worker_process(settings, Path(settings.data_dir) / "cleanup-worker.log"):
                    remove_leftovers(platform)


def remove_leftovers(p: Platform) -> None:
    """Delete every store the test created that is not Deleted yet, through the API, and wait."""
    left = [s for s in p.stores() if s["status"] != "deleted"]
    for s in left:
        if s["status"] != "deleting":
            p.delete(f"/stores/{s['id']}")
    for s in left:
        # Cleanup after a failed test must not hide that failure; the namespace delete is the backstop.
        with suppress(AssertionError):
            p.wait_for(s["id"], "deleted", "failed", limit=240)
        p.cluster.kubectl("delete", "namespace", s["namespace"], "--ignore-not-found", "--wait=false")


# --- measuring helm: a wrapper that logs every helm process's start and end -----------------------

_WRAPPER = """#!/usr/bin/env bash
# Records each helm process (start/end, verb, namespace) for the test, then runs the real helm.
ns=""; prev=""
for a in "$@"; do
  if [ "$prev" = "--namespace" ] || [ "$prev" = "-n" ]; then ns="$a"; fi
  prev="$a"
done
echo "start $$ $(date +%s.%N) $1 $ns" >> "{log}"
# Without job control a background job's stdin is /dev/null: keep ours (helm reads values from it).
"{real}" "$@" <&0 &
child=$!
trap 'kill -TERM "$child" 2>/dev/null' TERM INT
wait "$child"; rc=$?
while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
echo "end $$ $(date +%s.%N)" >> "{log}"
exit $rc
"""


@dataclass
class HelmSpan:
    pid: str
    start: float
    end: float
    verb: str
    namespace: str


class HelmRecorder:
    def __init__(self, real: Path, directory: Path) -> None:
        self.log = directory / "helm-calls.log"
        self.log.touch()
        self.binary = directory / "helm"
        self.binary.write_text(_WRAPPER.format(log=self.log, real=real))
        self.binary.chmod(0o755)

    def spans(self) -> list[HelmSpan]:
        starts: dict[str, tuple[float, str, str]] = {}
        spans = []
        for line in self.log.read_text().splitlines():
            parts = line.split()
            if parts[0] == "start":
                starts[parts[1]] = (
                    float(parts[2]),
                    parts[3] if len(parts) > 3 else "",
                    parts[4] if len(parts) > 4 else "",
                )
            elif parts[1] in starts:
                start, verb, ns = starts.pop(parts[1])
                spans.append(HelmSpan(parts[1], start, float(parts[2]), verb, ns))
        return spans

    def max_concurrent(self) -> int:
        edges = sorted([(s.start, 1) for s in self.spans()] + [(s.end, -1) for s in self.spans()])
        peak = running = 0
        for _, step in edges:  # an end at the same instant as a start sorts first (-1 < 1)
            running += step
            peak = max(peak, running)
        return peak

    def overlaps_within_a_namespace(self) -> list[tuple[HelmSpan, HelmSpan]]:
        """Pairs of helm processes that ran at the same time on the same store."""
        by_ns: dict[str, list[HelmSpan]] = {}
        for s in self.spans():
            if s.namespace:
                by_ns.setdefault(s.namespace, []).append(s)
        found = []
        for spans in by_ns.values():
            spans.sort(key=lambda s: s.start)
            latest: HelmSpan | None = None  # the span that ends last among those started so far
            for span in spans:
                if latest is not None and span.start < latest.end:
                    found.append((latest, span))
                if latest is None or span.end > latest.end:
                    latest = span
        return found


# --- a worker in its own process (`python -m app worker`), to kill it like a crashed pod ------------

_WORKER_ENV_KEYS = (
    "database_url", "kubeconfig", "helm_binary", "store_chart", "store_values_file", "worker_concurrency",
    "global_concurrency", "helm_timeout", "provision_deadline", "lease_seconds", "job_max_attempts",
    "retry_base_seconds", "retry_max_seconds", "poll_seconds", "shutdown_grace_seconds",
    "reconcile_interval_seconds", "orphan_grace_seconds", "data_dir", "rollout_tick_seconds",
    "drift_detection", "drift_auto_repair", "drift_repair_backoff_seconds",
)  # fmt: skip


def worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for key in _WORKER_ENV_KEYS:
        env[f"STOREPLANE_{key.upper()}"] = str(getattr(settings, key))
    return env


@contextmanager
def worker_process(settings: Settings, log: Path) -> Iterator[WorkerProcess]:
    proc = WorkerProcess(settings, log)
    proc.start()
    try:
        yield proc
    finally:
        proc.kill()


class WorkerProcess:
    def __init__(self, settings: Settings, log: Path) -> None:
        self.settings, self.log = settings, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            # Its own session, so a SIGKILL to the group takes its helm children too, like a pod dying.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app", "worker"],
                env=worker_env(self.settings),
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def terminate(self, limit: float = 120) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(limit)


def release_status(cluster: ClusterClient, namespace: str) -> str | None:
    """Status of the newest revision as Helm stored it (its Secret's label), None if no release."""
    items = cluster.kubectl_json("get", "secret", "-n", namespace, "-l", "owner=helm")["items"]
    if not items:
        return None
    newest = max(items, key=lambda s: int(s["metadata"]["labels"]["version"]))
    return newest["metadata"]["labels"]["status"]


def wait_for_release(cluster: ClusterClient, namespace: str, status: str, *, limit: float = 120) -> None:
    until(
        lambda: _quiet_status(cluster, namespace) == status,
        limit=limit,
        every=0.1,
        what=lambda: f"release in {namespace} to be {status} (is {_quiet_status(cluster, namespace)})",
    )


def _quiet_status(cluster: ClusterClient, namespace: str) -> str | None:
    try:
        return release_status(cluster, namespace)
    except CommandFailed:  # the namespace does not exist yet
        return None


def volumes_of(cluster: ClusterClient, namespace: str) -> list[str]:
    """PersistentVolumes bound to claims of `namespace` (they must not outlive the store)."""
    return [
        pv["metadata"]["name"]
        for pv in cluster.kubectl_json("get", "pv")["items"]
        if (pv["spec"].get("claimRef") or {}).get("namespace") == namespace
    ]


def names(cluster: ClusterClient, kind: str, namespace: str) -> list[str]:
    return sorted(cluster.kubectl("get", kind, "-n", namespace, "-o", "name").split())
