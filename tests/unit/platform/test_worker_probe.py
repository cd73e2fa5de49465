"""The worker's probes, `python -m app probe ready|alive`, run as the kubelet (and Compose's
healthcheck) runs them: real processes, a real worker, a real database."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.db.migrate import upgrade_to_head
from tests.fixtures_db import free_port
from tests.unit.platform.platform_render import ROOT
from tests.unit.platform.test_readiness import dead_kubeconfig


def environment(tmp_path: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "STOREPLANE_DATABASE_URL": url,
        "STOREPLANE_DATA_DIR": str(tmp_path / "data"),
        "STOREPLANE_KUBECONFIG": str(dead_kubeconfig(tmp_path / "kubeconfig")),
        "STOREPLANE_METRICS_PORT": "0",
    }


def probe(env: dict[str, str], *checks: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "probe", *checks],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_ready_needs_the_database_and_not_the_cluster(tmp_path: Path) -> None:
    env = environment(tmp_path, f"sqlite:///{tmp_path / 'p.db'}")  # the cluster does not answer
    done = probe(env, "ready")
    assert done.returncode == 0, done.stderr


def test_not_ready_when_the_database_does_not_answer(tmp_path: Path) -> None:
    env = environment(tmp_path, f"postgresql://probe@127.0.0.1:{free_port()}/none")
    done = probe(env, "ready")
    assert done.returncode == 1
    assert done.stderr.startswith("not ready: database: OperationalError: ")
    assert "Traceback" not in done.stderr


def test_alive_follows_the_worker_heartbeat(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade_to_head(url)
    env = environment(tmp_path, url)
    assert probe(env, "alive").stderr.startswith("not alive: no heartbeat at ")

    worker = subprocess.Popen(
        [sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True
    )
    heartbeat = tmp_path / "data" / "worker.heartbeat"
    try:
        deadline = time.monotonic() + 60
        while not heartbeat.exists():
            assert worker.poll() is None, worker.communicate()[1]
            assert time.monotonic() < deadline, "no heartbeat within 60 s of the worker's start"
            time.sleep(0.2)
        both = probe(env, "alive", "ready")
        assert both.returncode == 0, both.stderr

        old = time.time() - 120  # what a loop stuck for two minutes leaves behind
        os.utime(heartbeat, (old, old))
        stuck = probe(env, "alive")
        assert stuck.returncode == 1
        assert re.search(r"heartbeat is 1[2-9]\d s old \(limit 60 s\): its event loop is stuck", stuck.stderr)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=60)
    assert worker.returncode == 0
    assert not heartbeat.exists(), "a stopped worker must not look alive"
