"""`python -m app.simcluster up --background` / `down` from the command line, as `make cluster-up`
uses it: ready state, env file, a clear refusal for a taken port, and no process left behind."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import REPO_ROOT


def simcluster(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.simcluster", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=timeout,
    )


def _alive(pid: int) -> bool:
    try:
        with Path(f"/proc/{pid}/stat").open() as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.usefixtures("cluster")  # binaries are built and a first cluster came up
def test_up_in_the_background_then_down_leaves_no_process(tmp_path):
    state_dir = tmp_path / "c"
    up = simcluster("--dir", str(state_dir), "up", "--background", "--nodes", "1")
    assert up.returncode == 0, up.stderr
    assert "ready in" in up.stdout
    state = json.loads((state_dir / "state.json").read_text())
    pids = [state["supervisor_pid"], *state["pids"].values()]
    assert set(state["pids"]) == {
        "etcd",
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kwok",
    }
    assert all(_alive(pid) for pid in pids)

    env_file = (state_dir / "env").read_text()
    assert f'KUBECONFIG="{state_dir / "kubeconfig"}"' in env_file
    nodes = subprocess.run(
        ["bash", "-c", f"source {state_dir / 'env'} && kubectl get nodes -o name && helm version --short"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "node/sim-node-0" in nodes
    assert "v4." in nodes

    again = simcluster("--dir", str(state_dir), "up", "--background")
    assert "already running" in again.stdout

    down = simcluster("--dir", str(state_dir), "down")
    assert "stopped" in down.stdout
    assert not any(_alive(pid) for pid in pids)
    assert simcluster("--dir", str(state_dir), "status").returncode == 3


@pytest.mark.usefixtures("cluster")
def test_a_taken_port_is_refused_with_a_clear_message_and_nothing_left_running(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        up = simcluster("--dir", str(tmp_path / "c"), "up", "--background", "--apiserver-port", str(port))
    assert up.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in up.stderr
    state = json.loads((tmp_path / "c" / "state.json").read_text())
    assert state["status"] == "failed"
    assert not _alive(state["supervisor_pid"])


@pytest.mark.usefixtures("cluster")
def test_up_restarts_a_dead_apiserver_and_the_cluster_keeps_its_objects(tmp_path):
    import os
    import signal
    import time

    state_dir = tmp_path / "c"
    assert simcluster("--dir", str(state_dir), "up", "--background", "--nodes", "1").returncode == 0
    try:
        env_file = state_dir / "env"

        def kubectl(*args: str) -> subprocess.CompletedProcess[str]:
            command = f"source {env_file} && kubectl --request-timeout=5s " + " ".join(args)
            return subprocess.run(["bash", "-c", command], capture_output=True, text=True)

        assert kubectl("create", "namespace", "kept").returncode == 0
        state = json.loads((state_dir / "state.json").read_text())
        os.kill(state["pids"]["kube-apiserver"], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while json.loads((state_dir / "state.json").read_text())["status"] != "degraded":
            assert time.monotonic() < deadline, "the supervisor did not notice the apiserver died"
            time.sleep(0.2)
        assert kubectl("get", "namespace", "kept").returncode != 0

        again = simcluster("--dir", str(state_dir), "up", "--background")
        assert again.returncode == 0, again.stderr
        assert "kube-apiserver had stopped; restarting it" in again.stdout
        assert "already running" not in again.stdout
        assert kubectl("get", "namespace", "kept", "-o", "name").stdout.strip() == "namespace/kept"
        repaired = json.loads((state_dir / "state.json").read_text())
        assert repaired["status"] == "ready" and repaired["restarted"] == ["kube-apiserver"]
        assert _alive(repaired["pids"]["kube-apiserver"])
    finally:
        simcluster("--dir", str(state_dir), "down")
