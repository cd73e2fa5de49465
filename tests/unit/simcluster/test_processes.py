"""Process handling: a component that dies during start is reported with its log, a taken port is
named, and children never outlive the process that started them."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.simcluster.cluster import SimCluster
from app.simcluster.layout import Layout
from app.simcluster.pins import Toolset
from app.simcluster.processes import ManagedProcess, StartFailed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    with Path(f"/proc/{pid}/stat").open() as stat:
        return stat.read().split()[2] != "Z"


def test_a_process_that_dies_during_start_is_reported_with_its_last_log_lines(tmp_path):
    process = ManagedProcess(
        "broken", ["sh", "-c", "echo loading config; echo fatal: bad flag >&2; exit 4"], tmp_path
    )
    process.start()
    with pytest.raises(StartFailed) as failed:
        process.wait_until(lambda: False, "healthy", timeout=10)
    message = str(failed.value)
    assert "broken exited with code 4 before healthy" in message
    assert "fatal: bad flag" in message


def test_a_process_that_never_gets_healthy_times_out_naming_what_it_waited_for(tmp_path):
    process = ManagedProcess("slow", ["sleep", "30"], tmp_path)
    process.start()
    try:
        with pytest.raises(StartFailed, match="slow was not ready after 1 s"):
            process.wait_until(lambda: False, "ready", timeout=1)
    finally:
        process.stop()
    assert not process.alive()


def test_children_die_when_their_parent_is_killed(tmp_path):
    pid_file = tmp_path / "child.pid"
    parent = textwrap.dedent(f"""
        from pathlib import Path
        from app.simcluster.processes import ManagedProcess
        p = ManagedProcess("sleeper", ["sleep", "300"], Path({str(tmp_path)!r}))
        p.start()
        Path({str(pid_file)!r}).write_text(str(p.pid))
        import time; time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "-c", parent])
    deadline = time.monotonic() + 20
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    assert _alive(child)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


def test_a_taken_apiserver_port_is_named_and_nothing_is_started(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cluster = SimCluster(Layout(tmp_path), Toolset(tmp_path, {}), apiserver_port=port)
        with pytest.raises(StartFailed, match=f"port {port} on 127.0.0.1 is already in use"):
            cluster.start()
    assert cluster.processes == []


def test_a_component_crashing_at_start_stops_everything_started_before_it(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_etcd = bin_dir / "etcd"
    # The boundary we fake is the binary itself: an etcd that cannot open its data dir.
    fake_etcd.write_text("#!/bin/sh\necho 'etcdmain: open /data: permission denied' >&2\nexit 1\n")
    fake_etcd.chmod(0o755)
    cluster = SimCluster(Layout(tmp_path / "state"), Toolset(bin_dir, {}))
    with pytest.raises(StartFailed) as failed:
        cluster.start()
    assert "etcd exited with code 1 before healthy" in str(failed.value)
    assert "permission denied" in str(failed.value)
    assert cluster.processes == []
