"""app/memory.py on this machine's glibc: memory freed in a thread's arena stays resident until
`release_free_memory` hands it back. Run in a fresh interpreter: the test's own process has threads
and arenas already."""

from __future__ import annotations

import subprocess
import sys

PROGRAM = r"""
import threading
from app import memory

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

assert memory.limit_arenas()
kept = []

def churn():
    # 1 KB blocks (malloc, not Python's small-object allocator) in this thread's arena; one in 64
    # stays alive, so the arena cannot shrink from its top: like a sweep decoding releases.
    blocks = [bytes(1024) + bytes([i % 256]) for i in range(80_000)]
    kept.extend(blocks[::64])

worker = threading.Thread(target=churn)
worker.start()
worker.join()
before = rss_mb()
memory.release_free_memory()
print(before - rss_mb())
"""


def test_free_memory_in_a_thread_arena_is_handed_back() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    released = float(done.stdout)
    assert released > 40, f"only {released:.1f} MB handed back of ~80 MB freed"


def test_a_process_that_never_checks_a_domain_does_not_load_dnspython() -> None:
    # ~10 MB resident in every serve and worker process otherwise (app/domains/dns.py).
    program = (
        "import sys, app.main, app.sweep; print(sorted(m for m in sys.modules if m.split('.')[0] == 'dns'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr
