"""The supervisor process: owns the components, records their state in `state.json`, and stops them
all on SIGTERM/SIGINT. Components die with it (PDEATHSIG), so killing it never leaves orphans."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

from app.simcluster.cluster import SimCluster
from app.simcluster.control import REPAIR_SIGNAL
from app.simcluster.latency import Latency
from app.simcluster.layout import Layout
from app.simcluster.pins import BinariesMissing, locate_toolset
from app.simcluster.processes import StartFailed


def write_env_file(layout: Layout, bin_dir: Path) -> None:
    layout.env_file.write_text(
        "# source this file: the pinned kubectl and helm first on PATH, KUBECONFIG set\n"
        f'export PATH="{bin_dir}:$PATH"\n'
        f'export KUBECONFIG="{layout.kubeconfig}"\n'
    )


def run(layout: Layout, nodes: int, apiserver_port: int | None, latency: Latency | None = None) -> int:
    latency = latency or Latency()
    stop = threading.Event()
    repair = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(REPAIR_SIGNAL, lambda *_: (repair.set(), stop.set()))
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.write_state({"status": "starting", "supervisor_pid": os.getpid()})
    try:
        tools = locate_toolset()
        cluster = SimCluster(layout, tools, nodes=nodes, apiserver_port=apiserver_port, latency=latency)
        cluster.start()
    except (BinariesMissing, StartFailed) as error:
        layout.write_state({"status": "failed", "supervisor_pid": os.getpid(), "error": str(error)})
        print(f"simcluster: {error}", file=sys.stderr)
        return 1

    write_env_file(layout, tools.bin_dir)
    state = {
        "status": "ready",
        "supervisor_pid": os.getpid(),
        "pids": cluster.pids(),
        "apiserver": f"https://127.0.0.1:{cluster.ports.apiserver}",
        "kubeconfig": str(layout.kubeconfig),
        "bin_dir": str(tools.bin_dir),
        "versions": tools.pins,
        "startup_seconds": cluster.timings,
        "latency": latency.as_state(),
    }
    layout.write_state(state)
    print(f"simcluster: ready in {cluster.timings['total']} s at {state['apiserver']}", flush=True)

    reported: set[str] = set()
    while True:
        stop.wait(1.0)
        if repair.is_set():  # woke `stop` only to be handled at once
            repair.clear()
            stop.clear()
            state = _repair(layout, cluster, state)
            reported.clear()
        if stop.is_set():
            break
        for process in cluster.dead():
            if process.name not in reported:
                reported.add(process.name)
                print(f"simcluster: {process.name} exited unexpectedly; see {process.log}", file=sys.stderr)
                layout.write_state({**state, "status": "degraded", "dead": sorted(reported)})
    cluster.stop()
    layout.write_state({"status": "stopped", "stopped_at": time.time()})
    print("simcluster: stopped", flush=True)
    return 0


def _repair(layout: Layout, cluster: SimCluster, state: dict) -> dict:
    """Restart dead components; the state says `ready` again (with a repair count), or why not."""
    repairs = int(state.get("repairs", 0)) + 1
    try:
        restarted = cluster.restart_dead()
    except StartFailed as error:
        failed = {**state, "status": "degraded", "repairs": repairs, "error": str(error)}
        layout.write_state(failed)
        print(f"simcluster: repair failed: {error}", file=sys.stderr, flush=True)
        return failed
    repaired = {
        **state,
        "status": "ready",
        "repairs": repairs,
        "pids": cluster.pids(),
        "restarted": restarted,
    }
    repaired.pop("dead", None)
    repaired.pop("error", None)
    layout.write_state(repaired)
    print(f"simcluster: restarted {', '.join(restarted) or 'nothing'}", flush=True)
    return repaired
