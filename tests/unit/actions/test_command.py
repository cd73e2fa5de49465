"""Our pyhelm3 command subclass: the argv it runs, and what a cancelled action does to the child.
The cancellation tests run a real child process (a shell script standing in for the helm binary,
which the unit tier does not have) to check the signal reaches the child itself."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from pyhelm3 import errors as helm_errors

from app import errors
from app.helm import HelmDriver
from app.helm.command import HelmCommand
from app.settings import Settings


def test_a_bare_wait_is_spelled_as_the_watcher_strategy_and_cluster_flags_are_appended() -> None:
    command = HelmCommand(executable="/opt/helm", kubeconfig=Path("/k/config"), kubecontext="sim")
    argv = command._argv(["upgrade", "shop", "--wait", "--wait-for-jobs", "--timeout", 30])
    assert argv == [
        "/opt/helm",
        "upgrade",
        "shop",
        "--wait=watcher",
        "--wait-for-jobs",
        "--timeout",
        "30",
        "--kubeconfig",
        "/k/config",
        "--kube-context",
        "sim",
    ]


def read(path: str) -> str:
    return Path(path).read_text()


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-helm"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


async def test_cancelling_a_running_command_sends_sigterm_to_the_child_itself(tmp_path: Path) -> None:
    marker = tmp_path / "terminated"
    trap = f"trap 'kill $!; echo TERM > {marker}; exit 1' TERM"
    exe = script(tmp_path, f"{trap}\nsleep 30 >/dev/null &\nwait\n")
    command = HelmCommand(executable=exe)
    task = asyncio.create_task(command.run(["upgrade", "shop"]))
    for _ in range(500):  # the child appears as soon as the event loop has spawned it
        if command.running:
            break
        await asyncio.sleep(0.01)
    (pid,) = command.running
    assert command.running[pid][:2] == [exe, "upgrade"]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert read(str(marker)) == "TERM\n"
    assert command.running == {}
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_stderr_is_mapped_to_pyhelm3s_exceptions(tmp_path: Path) -> None:
    exe = script(tmp_path, "echo 'Error: release: not found' >&2\nexit 1\n")
    with pytest.raises(helm_errors.ReleaseNotFoundError):
        await HelmCommand(executable=exe).run(["status", "shop"])


async def test_values_reach_the_child_on_stdin_never_in_argv(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    exe = script(tmp_path, f'echo "$@" > {seen}.argv\ncat > {seen}.stdin\necho "{{\\"version\\": 4}}"\n')
    driver = HelmDriver(Settings(helm_binary=exe, kubeconfig=""))
    revision = await driver.install_or_upgrade(
        "shop",
        "store-s-1",
        "/charts/store",
        {"admin": {"user": "storeadmin"}},
        timeout=60,
        action="upgrade",
    )
    assert revision == 4
    argv, stdin = read(f"{seen}.argv"), read(f"{seen}.stdin")
    assert "storeadmin" not in argv
    assert "--values -" in argv and "--history-max 5" in argv
    # helm applies and exits: readiness is waited for by app.reconcile.ready, without helm.
    assert "--wait" not in argv and "--rollback-on-failure" not in argv
    assert "--create-namespace" not in argv
    assert stdin == '{"admin": {"user": "storeadmin"}}'


async def test_a_killed_helm_is_retryable(tmp_path: Path) -> None:
    exe = script(tmp_path, "kill -9 $$\n")
    with pytest.raises(errors.RetryableError, match="helm rollback was killed by signal 9"):
        await HelmDriver(Settings(helm_binary=exe)).rollback("shop", "store-s-1", 1, timeout=30)


def test_a_missing_helm_binary_is_a_permanent_error_saying_which_setting_to_fix(tmp_path: Path) -> None:
    with pytest.raises(errors.PermanentError, match="set STOREPLANE_HELM_BINARY"):
        HelmDriver(Settings(helm_binary=str(tmp_path / "nope")))


_PARENT = """
import asyncio, sys
from app.helm.command import HelmCommand
print("go", flush=True)
asyncio.run(HelmCommand(executable=sys.argv[1]).run(["upgrade", "shop", "--namespace", "store-s-1"]))
"""


def test_a_helm_child_dies_with_its_worker_when_the_worker_is_killed(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    from app.helm.processes import helm_processes_for

    pidfile = tmp_path / "pid"
    helm = tmp_path / "bin" / "helm"
    helm.parent.mkdir()
    helm.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 60\n")
    helm.chmod(0o755)
    worker = subprocess.Popen([sys.executable, "-c", _PARENT, str(helm)], stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not pidfile.exists() or not pidfile.read_text().strip():
            assert time.monotonic() < deadline, "the helm child never started"
            time.sleep(0.05)
        child = int(pidfile.read_text())
        os.kill(child, 0)  # alive while its worker lives
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child}").exists() and Path(f"/proc/{child}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the helm child outlived its killed worker"
        time.sleep(0.05)
    assert helm_processes_for("store-s-1") == []


def test_leftover_helm_processes_acting_on_a_namespace_are_found_and_stopped(tmp_path: Path) -> None:
    import subprocess
    import time

    from app.helm.processes import helm_processes_for, stop_processes

    ready = tmp_path / "ready-store-s-9"
    helm = tmp_path / "helm"
    helm.write_text(f"#!/bin/sh\ntrap 'exit 0' TERM\ntouch {tmp_path}/ready-$4\nsleep 60 & wait\n")
    helm.chmod(0o755)
    other = subprocess.Popen([str(helm), "upgrade", "x", "--namespace", "store-other"])
    mine = subprocess.Popen([str(helm), "upgrade", "shop", "--namespace", "store-s-9"])
    try:
        deadline = time.monotonic() + 10
        while not ready.exists():  # its TERM trap is set
            assert time.monotonic() < deadline
            time.sleep(0.02)
        found = helm_processes_for("store-s-9")
        assert found == [mine.pid]
        stop_processes(found, grace=5)
        assert mine.wait(5) == 0  # it got SIGTERM and could finish cleanly
        assert helm_processes_for("store-s-9") == []
    finally:
        for proc in (other, mine):
            proc.kill()
            proc.wait()
