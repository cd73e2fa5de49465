"""Keep a long-running process' resident memory close to what it uses (glibc's malloc).

Why: glibc gives each thread that allocates its own arena (up to 8 per core), and an arena keeps
what was freed in it for reuse. The platform's threads (the API's thread pool, the sweep decoding
Helm's records) each leave tens of MB behind after peaks: at 300 stores a dump of one such arena
held freed release manifests. Bench thousand measured serve at 206 MB with 1,000 stores before this.

- `limit_arenas`: at most ARENAS arenas for the whole process (what MALLOC_ARENA_MAX does; an
  operator's own MALLOC_ARENA_MAX wins). Threads then share arenas: a little lock contention, on a
  process that mostly waits for I/O.
- `release_free_memory`: hand free pages in every arena back to the kernel (malloc_trim), after work
  that peaks, such as a sweep. A few ms.
Elsewhere than glibc (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger("storeplane.memory")

ARENAS = 2
_M_ARENA_MAX = -8  # glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    has = all(hasattr(libc, name) for name in ("mallopt", "malloc_trim", "gnu_get_libc_version"))
    return libc if has else None


_LIBC = _glibc()


def limit_arenas() -> bool:
    """Before the process starts its threads. True when the limit is in force."""
    if _LIBC is None:
        return False
    if os.environ.get("MALLOC_ARENA_MAX"):  # glibc read it at start-up already
        return True
    return bool(_LIBC.mallopt(_M_ARENA_MAX, ARENAS))


def release_free_memory() -> bool:
    """True when some memory was handed back."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))
