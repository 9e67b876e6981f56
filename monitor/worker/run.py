"""``likeness worker``: a Celery worker that takes analyses from the install's broker."""

from __future__ import annotations

import os

from enrollment.errors import LikenessError
from monitor.services.broker import NO_BROKER
from monitor.services.context import Context


def run_worker(ctx: Context, queues: tuple[str, ...] = ("analysis",), concurrency: int = 0) -> None:
    """Take tasks from ``queues`` until SIGTERM or Ctrl-C, ``concurrency`` processes (0: one per CPU core), each
    analysing one file at a time. LikenessError without a broker (``LIKENESS_BROKER_URL``)."""
    from monitor.broker.app import QUEUES, celery_app, declare_queues
    from monitor.worker.tasks import register

    ctx.require("install")
    broker_url = ctx.config.broker_url
    if not broker_url:
        raise LikenessError(NO_BROKER)
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise LikenessError(f"no queue {unknown[0]!r}: the queues are {', '.join(QUEUES)}")
    ctx.sessions  # noqa: B018  (the database opened and migrated before any task: a wrong URL stops it here)
    os.environ["LIKENESS_HOME"] = str(ctx.config.home.resolve())  # each worker process loads the install from it
    app = celery_app(broker_url)
    register(app, analyses="analysis" in queues)
    declare_queues(app)
    processes = concurrency or len(os.sched_getaffinity(0))
    app.worker_main(["--quiet", "worker", "--queues", ",".join(queues), "--concurrency", str(processes),
                     "--pool", "prefork", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                     "--hostname", f"likeness-{os.getpid()}@%h"])
