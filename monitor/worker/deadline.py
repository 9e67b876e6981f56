"""A worker process's own deadline for the analysis it runs: sized by the worker to its media's duration, which
only the worker reads (a sender that probed every file before handing it over would spend its own time on it).

When the deadline passes, a watchdog thread stores the failure and kills its own process (SIGKILL): Celery gives
the message back, and its next delivery finds the failure stored under the analysis key and is acknowledged.
Celery's own hard time limit, ``workers.item_timeout_s`` set by the sender, still stops an analysis stuck where
no other thread of its process can run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def deadline(limit_s: float | None, on_expiry: Callable[[], None]) -> Iterator[None]:
    """Run the body; if it still runs after ``limit_s`` seconds (None: no deadline), call ``on_expiry()`` (its
    errors ignored) and kill this process."""
    if limit_s is None:
        yield
        return
    finished = threading.Event()

    def watch() -> None:
        if finished.wait(limit_s):
            return
        with contextlib.suppress(Exception):
            on_expiry()
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="analysis-deadline", daemon=True).start()
    try:
        yield
    finally:
        finished.set()
