"""Helm processes on this machine that act on a given namespace (a store's release).

Helm children die with their worker (app/childproc.py), so normally none is left when a release is
found pending. This is the belt to those braces, checked before a stale release is unlocked: a
helm still running on this host for the store (started by a process that could not arrange its
death) is stopped first, so two helm processes never act on one release. Helm on another machine
cannot be seen from here; there the lease protocol decides (its worker is dead, so is its helm).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def _argv(pid: str, proc: Path) -> list[str]:
    try:
        raw = (proc / pid / "cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def helm_processes_for(namespace: str, *, proc: Path = PROC) -> list[int]:
    """PIDs of helm processes whose command line acts in `namespace` (`--namespace <ns>`)."""
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        argv = _argv(entry.name, proc)
        # helm itself, or a script named helm run by its interpreter (a wrapper, e.g. in tests)
        if "helm" not in {Path(part).name for part in argv[:2]}:
            continue
        pairs = itertools.pairwise(argv)
        if any(flag in ("--namespace", "-n") and value == namespace for flag, value in pairs):
            found.append(int(entry.name))
    return found


def stop_processes(pids: list[int], *, grace: float) -> None:
    """SIGTERM (helm then records its release as failed), SIGKILL after `grace` seconds."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [pid for pid in alive if (PROC / str(pid)).exists() and _argv(str(pid), PROC)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
