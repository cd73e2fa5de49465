"""pyhelm3's command layer, adapted to Helm 4 and to being cancelled.

`pyhelm3.command.Command` builds every helm command line; we keep all of that and override only
`run`, the process-spawning primitive, for three reasons found by reading pyhelm3 0.5.8:

1. It runs `sh -c "helm …"`. Debian's dash does not exec the last command, so on cancellation
   pyhelm3's `proc.terminate()` signals the shell and the helm child keeps running, orphaned: the
   release stays `pending-*` although our job has given up. We exec helm directly, so SIGTERM
   reaches helm, whose handler cancels the action and records the release as `failed`.
2. It writes a bare `--wait`. Helm 4 parses that as `--wait=watcher` (kstatus); we spell the
   strategy out so logs and `ps` show exactly what runs and a future default cannot change it.
3. Tests and the job runner need to see which helm processes are alive (to count them, or to
   SIGKILL one in a crash test): `running` maps pid → argv.
4. A helm process must not outlive its worker: if the worker is SIGKILLed (OOM, a node dying) an
   orphaned helm would keep acting on a release that the next worker then unlocks and acts on too.
   Each helm child carries PR_SET_PDEATHSIG (app/childproc.py), so the kernel kills it with us.

`disable_validation` in pyhelm3 is broken (it extends the argv with single characters); we never
set it. `helm test` has no pyhelm3 method, so `test()` below goes through the same `run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Sequence
from typing import Any

from pyhelm3 import errors
from pyhelm3.command import CHART_NOT_FOUND, CONNECTION_ERROR, Command

from app import metrics
from app.childproc import die_with_parent

log = logging.getLogger(__name__)

# How long helm gets to record a cancelled release as failed before it is killed.
CANCEL_GRACE_SECONDS = 20.0


class HelmCommand(Command):
    def __init__(self, *, env: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._env = env
        self.running: dict[int, list[str]] = {}

    def _argv(self, command: Sequence[Any]) -> list[str]:
        argv = [self._executable, *(str(part) for part in command)]
        argv = ["--wait=watcher" if part == "--wait" else part for part in argv]
        if self._kubeconfig:
            argv += ["--kubeconfig", str(self._kubeconfig)]
        if self._kubecontext:
            argv += ["--kube-context", self._kubecontext]
        return argv

    async def run(self, command: list[Any], input: bytes | None = None) -> bytes:
        with metrics.time_helm(str(command[0]) if command else "helm"):  # verb: upgrade, rollback, test…
            return await self._run(command, input)

    async def _run(self, command: list[Any], input: bytes | None = None) -> bytes:
        argv = self._argv(command)
        shown = " ".join(self._log_format(part) for part in argv)
        log.info("running: %s", shown)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self._env,
            preexec_fn=die_with_parent,
        )
        self.running[proc.pid] = argv
        try:
            stdout, stderr = await proc.communicate(input)
        except asyncio.CancelledError:
            await _stop(proc)
            raise
        finally:
            self.running.pop(proc.pid, None)
        if proc.returncode == 0:
            return stdout
        log.log(
            logging.INFO if b"not found" in stderr else logging.WARNING, "exit %s: %s", proc.returncode, shown
        )
        raise _error_class(stderr.decode(errors="replace").lower())(proc.returncode, stdout, stderr)

    async def reapply(
        self, release_name: str, revision: int, *, namespace: str, timeout: str, description: str
    ) -> None:
        """`helm rollback <revision> --force-conflicts`: apply that revision's manifest again, taking
        back the fields someone changed by hand (server-side apply would refuse them as conflicts
        with their manager, e.g. `kubectl-patch`). pyhelm3's `force` writes `--force`, which Helm 4
        no longer has, and it cannot set a description."""
        await self.run(
            [
                "rollback", release_name, revision,
                "--history-max", self._history_max_revisions,
                "--timeout", timeout,
                "--namespace", namespace,
                "--force-conflicts",
                "--description", description,
            ]
        )  # fmt: skip

    async def test(self, release_name: str, *, namespace: str, timeout: str, logs: bool = False) -> str:
        """`helm test`: runs the chart's test hooks; with `logs`, helm also prints their pod logs
        (and fails if it cannot read them, e.g. in the simulated cluster: there is no kubelet)."""
        command: list[Any] = ["test", release_name, "--namespace", namespace, "--timeout", timeout]
        if logs:
            command.append("--logs")
        return (await self.run(command)).decode(errors="replace")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM helm so it marks the release failed, then SIGKILL if it does not exit in time."""
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.shield(asyncio.wait_for(proc.wait(), CANCEL_GRACE_SECONDS))
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        await asyncio.shield(proc.wait())


def _error_class(stderr: str) -> type[errors.Error]:
    """pyhelm3's own stderr → exception mapping (same order), so pyhelm3 callers keep working.
    Deciding retryable vs permanent is not done here but in app.errors.helm_failure."""
    if "context canceled" in stderr:
        return errors.CommandCancelledError
    if "etcdserver" in stderr:
        return errors.ConnectionError
    if "release: not found" in stderr:
        return errors.ReleaseNotFoundError
    if "failed to render chart" in stderr or "execution error" in stderr:
        return errors.FailedToRenderChartError
    if "rendered manifests contain a resource that already exists" in stderr:
        return errors.ResourceAlreadyExistsError
    if "is invalid" in stderr:
        return errors.InvalidResourceError
    if CHART_NOT_FOUND.search(stderr) is not None:
        return errors.ChartNotFoundError
    if CONNECTION_ERROR.search(stderr) is not None:
        return errors.ConnectionError
    return errors.Error
