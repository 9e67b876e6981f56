"""The web process's threads: as many for requests as the database pool allows, and one background job,
the scans asked for through the API, run one at a time.

Woken at once when a request is queued here, and every ``POLL_S`` for requests queued by another process;
stopped with the server. Requests a dead process left running are queued again when it starts.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from enrollment.errors import unexpected
from monitor.services.context import Actor, Context

POLL_S = 5.0
# requests run at once per process: more only share the same CPU, each switch between them costing some
# (measured: 20 clients got 140 requests/s from 2 threads, 120 from 10); below the database's pool of connections
REQUEST_THREADS = 2
logger = logging.getLogger(__name__)


def _run(ctx: Context, wanted: threading.Event, stop: threading.Event) -> None:
    from monitor.services.scans import requeue_interrupted_scans, run_requested_scans

    requeued = False
    while not stop.is_set():
        wanted.clear()
        try:
            if not requeued:
                requeue_interrupted_scans(ctx)
                requeued = True
            run_requested_scans(ctx, stop)
        except Exception as error:  # the database gone for a moment: try again at the next wake-up
            logger.warning("scans asked for could not be run: %s", unexpected(error))
        wanted.wait(POLL_S)


def _start_up_kept() -> None:
    """What start-up made (modules, the app, the models of the ORM) lives as long as the process: frozen out of
    the garbage collector's reach. Its full collections otherwise scanned 140,000 such objects, some 70 ms each,
    while the requests they landed in waited (the p95 and p99 under load); and the young generation is collected
    every 10,000 allocations, not 700 (a page allocates far more: 2,000 collections in 20 s of load were 1.2 s
    of a worker's time; with both changes 0.18 s)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


@asynccontextmanager
async def scans_in_background(app: FastAPI) -> AsyncIterator[None]:
    """FastAPI lifespan: the scan runner thread from start-up to shutdown; requests on REQUEST_THREADS."""
    import anyio.to_thread

    anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
    _start_up_kept()
    base: Context = app.state.base
    runner = Context(base.config, Actor.local("system"), _sessions=base.sessions)
    stop = threading.Event()
    thread = threading.Thread(target=_run, args=(runner, app.state.scans_wanted, stop), name="scans", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        app.state.scans_wanted.set()
        thread.join(timeout=60)
