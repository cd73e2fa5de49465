"""The supervisor process: owns the components, records their state in `state.json`, and stops them
all on SIGTERM/SIGINT. Components die with it (PDEATHSIG), so killing it never leaves orphans."""

import os
import signal
import sys
import threading
import time
from pathlib import Path

from app.simcluster.cluster import SimCluster
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
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
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
    while not stop.wait(1.0):
        for process in cluster.dead():
            if process.name not in reported:
                reported.add(process.name)
                print(f"simcluster: {process.name} exited unexpectedly; see {process.log}", file=sys.stderr)
                layout.write_state({**state, "status": "degraded", "dead": sorted(reported)})
    cluster.stop()
    layout.write_state({"status": "stopped", "stopped_at": time.time()})
    print("simcluster: stopped", flush=True)
    return 0
