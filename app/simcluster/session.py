"""A cluster for one test session: reuse a live `.cluster/`, or start a private one that dies with
the test process even if pytest itself is killed."""

import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.simcluster import control
from app.simcluster.client import ClusterClient
from app.simcluster.latency import Latency
from app.simcluster.layout import DEFAULT_ROOT, Layout
from app.simcluster.processes import _die_with_parent


def _client(state: dict) -> ClusterClient:
    return ClusterClient(
        kubeconfig=Path(state["kubeconfig"]), bin_dir=Path(state["bin_dir"]), pids=dict(state["pids"])
    )


@contextmanager
def ensure_cluster(
    shared: Layout | None = None, nodes: int = 3, *, reuse: bool = True, latency: Latency | None = None
) -> Iterator[ClusterClient]:
    """`reuse=False` always starts a private cluster, e.g. for benchmarks that need `nodes` of
    capacity to themselves. A live cluster is reused only if it runs the same latency profile."""
    shared = shared or Layout(DEFAULT_ROOT)
    latency = latency or Latency()
    state = control.healthy_state(shared) if reuse else None
    if state and state.get("latency", Latency().as_state()) != latency.as_state():
        state = None
    if state:
        yield _client(state)
        return
    with tempfile.TemporaryDirectory(prefix="storeplane-sim-") as tmp:
        layout = Layout(Path(tmp))
        log = layout.root / "supervisor.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                control.supervisor_argv(layout, nodes, None, latency),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        try:
            yield _client(control.wait_ready(layout, process, log))
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
