"""Child processes that must not outlive the process that started them."""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def die_with_parent() -> None:
    """Run in the child between fork and exec: the kernel SIGKILLs the child when the thread that
    started it dies (always the event loop's or the main thread here: they live as long as the
    process). A worker killed with SIGKILL so takes its helm processes with it."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
