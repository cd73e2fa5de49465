"""Who holds a job, and whether that holder is provably dead.

A worker's id names its host, its PID namespace, its PID and the PID's start time:
`host/pidns/pid/start/random`. A lease normally ends by expiring, but a worker that restarts on the
same host can do better: if the holder shared our PID namespace (so we can see every process it
could be) and its PID is gone or now belongs to a process that started at another time, the holder
is dead and its jobs can be taken over at once instead of after the lease. Anything we cannot see
(another host, another container's PID namespace, an id in another format) is never judged dead
here; the lease decides.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Holder:
    host: str
    pid_namespace: str
    pid: int
    start: str  # the process's start time in clock ticks since boot (/proc/<pid>/stat, field 22)

    def render(self, suffix: str) -> str:
        return f"{self.host}/{self.pid_namespace}/{self.pid}/{self.start}/{suffix}"

    @classmethod
    def parse(cls, worker_id: str) -> Holder | None:
        parts = worker_id.split("/")
        if len(parts) != 5 or not parts[2].isdigit():
            return None
        return cls(host=parts[0], pid_namespace=parts[1], pid=int(parts[2]), start=parts[3])


def _start_time(pid: int, proc: Path = PROC) -> str | None:
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19]  # field 22 overall: starttime


def _pid_namespace(proc: Path = PROC) -> str:
    try:
        return str((proc / "self" / "ns" / "pid").readlink()).removeprefix("pid:").strip("[]")
    except OSError:
        return "unknown"


@lru_cache(maxsize=1)
def this_process() -> Holder:
    pid = os.getpid()
    return Holder(socket.gethostname(), _pid_namespace(), pid, _start_time(pid) or "unknown")


def new_worker_id() -> str:
    return this_process().render(secrets.token_hex(3))


def provably_dead(worker_id: str, *, me: Holder | None = None, proc: Path = PROC) -> bool:
    """True only when we can see that the process named by `worker_id` no longer runs."""
    me = me or this_process()
    holder = Holder.parse(worker_id)
    if holder is None or "unknown" in (holder.start, holder.pid_namespace, me.pid_namespace):
        return False
    if (holder.host, holder.pid_namespace) != (me.host, me.pid_namespace):
        return False  # another machine or container: we cannot see its processes
    if (holder.pid, holder.start) == (me.pid, me.start):
        return False  # this very process (another Worker object in it, e.g. in tests)
    return _start_time(holder.pid, proc) != holder.start
