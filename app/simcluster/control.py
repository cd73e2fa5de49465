"""Starting a supervisor in the background, finding a live one, and stopping it."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.simcluster.latency import Latency
from app.simcluster.layout import Layout
from app.simcluster.processes import StartFailed, tail

START_TIMEOUT = 180.0
# Sent to a live supervisor whose components died: it restarts them (SimCluster.restart_dead).
REPAIR_SIGNAL = signal.SIGUSR1


def _is_supervisor(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"app.simcluster" in cmdline


def live_state(layout: Layout) -> dict | None:
    """The state of a running, ready cluster in `layout`, or None."""
    state = layout.read_state()
    if not state or state.get("status") not in ("ready", "degraded"):
        return None
    if not _is_supervisor(int(state.get("supervisor_pid", 0))):
        return None
    return state


def healthy_state(layout: Layout, timeout: float = START_TIMEOUT) -> dict | None:
    """Like live_state, but a cluster whose components died (`degraded`, e.g. the apiserver was
    killed) is repaired first: its supervisor restarts them with the same ports and data.
    None when no supervisor runs; StartFailed when the repair fails."""
    state = live_state(layout)
    if state is None or state.get("status") == "ready":
        return state
    repairs = int(state.get("repairs", 0))
    os.kill(int(state["supervisor_pid"]), REPAIR_SIGNAL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = layout.read_state() or {}
        if int(current.get("repairs", 0)) > repairs:
            if current.get("status") == "ready":
                return current
            raise StartFailed(current.get("error") or f"repair failed; see {layout.root / 'supervisor.log'}")
        time.sleep(0.2)
    raise StartFailed(f"cluster not repaired after {timeout:.0f} s; see {layout.root / 'supervisor.log'}")


def supervisor_argv(
    layout: Layout, nodes: int, apiserver_port: int | None, latency: Latency | None = None
) -> list[str]:
    argv = [sys.executable, "-m", "app.simcluster", "--dir", str(layout.root), "up", "--nodes", str(nodes)]
    if apiserver_port:
        argv += ["--apiserver-port", str(apiserver_port)]
    return argv + (latency or Latency()).argv()


def wait_ready(layout: Layout, process: subprocess.Popen, log: Path) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        state = layout.read_state() or {}
        if state.get("status") == "ready" and state.get("supervisor_pid") == process.pid:
            return state
        if process.poll() is not None:
            if state.get("error"):  # already names the component and quotes its log
                raise StartFailed(state["error"])
            raise StartFailed(f"supervisor exited with code {process.returncode}; {log}:\n{tail(log)}")
        time.sleep(0.2)
    process.terminate()
    process.wait()
    raise StartFailed(f"cluster not ready after {START_TIMEOUT:.0f} s; see {log}:\n{tail(log)}")


def start_background(
    layout: Layout, nodes: int, apiserver_port: int | None, latency: Latency | None = None
) -> dict:
    """Starts a detached supervisor (it outlives this command) and waits until it is ready."""
    layout.root.mkdir(parents=True, exist_ok=True)
    log = layout.root / "supervisor.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            supervisor_argv(layout, nodes, apiserver_port, latency),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return wait_ready(layout, process, log)


def stop(layout: Layout, timeout: float = 60.0) -> bool:
    """Stops the supervisor of `layout` (and so every component). False if none was running."""
    state = layout.read_state() or {}
    pid = int(state.get("supervisor_pid", 0))
    if not pid or not _is_supervisor(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _is_supervisor(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_supervisor(pid):
        # Components carry PDEATHSIG: killing the supervisor takes them down too.
        os.kill(pid, signal.SIGKILL)
    return True
