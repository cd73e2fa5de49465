"""Waiting on cluster state without sleeping blindly: poll a condition with a deadline."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 60.0, what: str = "condition") -> T:
    """Returns the first truthy value of `probe()`, or fails naming what never happened."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.25)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s (last: {last!r})")
