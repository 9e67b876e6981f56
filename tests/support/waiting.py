"""Waiting for an event, never for a time: a test polls what it waits for, with a timeout that is a safety net
(far above what anything takes, on a loaded machine too), not a measure of speed."""

from __future__ import annotations

import time
from collections.abc import Callable

SAFETY_NET_S = 300.0


def wait_for(condition: Callable[[], object], timeout_s: float = SAFETY_NET_S, poll_s: float = 0.2) -> None:
    """Poll ``condition`` until it holds; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(poll_s)
