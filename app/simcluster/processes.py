"""Child processes that cannot outlive their parent, with health waits that show the log on failure."""

import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from app.childproc import die_with_parent


class StartFailed(RuntimeError):
    """A component of the simulated cluster did not come up."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: the kernel sends SIGKILL when the parent dies,
    # so a crashed test run or a killed supervisor never leaves orphans behind.
    die_with_parent()
    os.setpgrp()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def tail(path: Path, lines: int = 20) -> str:
    if not path.exists():
        return "(no log written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ManagedProcess:
    """One component: started with its log in `log_dir/<name>.log`, stopped by process group."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = argv
        self.log = log_dir / f"{name}.log"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                preexec_fn=_die_with_parent,
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def failure(self, reason: str) -> StartFailed:
        return StartFailed(f"{self.name} {reason}; last lines of {self.log}:\n{tail(self.log)}")

    def wait_until(self, check: Callable[[], bool], what: str, timeout: float) -> None:
        """Polls `check` until it holds; fails early with the log if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.proc.returncode if self.proc else None
                raise self.failure(f"exited with code {code} before {what}")
            if check():
                return
            time.sleep(0.1)
        raise self.failure(f"was not {what} after {timeout:.0f} s")

    def stop(self, grace: float = 10.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            self.proc.wait()


def http_ok(url: str, context: ssl.SSLContext | None = None) -> bool:
    """True when `url` answers 200; any connection error means not yet."""
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - loopback only
            return response.status == 200
    except (urllib.error.URLError, OSError, ssl.SSLError):
        return False
