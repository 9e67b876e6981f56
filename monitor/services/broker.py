"""The broker seen from the install: ``likeness queue status``."""

from __future__ import annotations

from enrollment.errors import LikenessError
from monitor.services.context import Context

NO_BROKER = "no broker: set LIKENESS_BROKER_URL (amqp://…) for workers to take analyses from"


def queue_status(ctx: Context) -> dict:
    """``{QUEUE: {"ready", "unacked", "dead"}, …, "workers": [{"name", "queues", "active"}]}`` for the install's
    broker; LikenessError without one, or where it cannot be reached."""
    from monitor.broker.status import queue_status as status_of

    ctx.require("install")
    if not ctx.config.broker_url:
        raise LikenessError(NO_BROKER)
    return status_of(ctx.config.broker_url)
