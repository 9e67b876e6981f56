"""What the broker holds now: per queue, the messages waiting (``ready``), handed to a worker and not yet
acknowledged (``unacked``: what the workers say they hold) and dead-lettered (``dead``); and the workers that
answer, with their queues and how many tasks each is running."""

from __future__ import annotations

from typing import Any

from monitor.broker.app import QUEUES, celery_app, unreachable

ANSWER_TIMEOUT_S = 2.0  # how long workers are given to answer


def queue_status(broker_url: str) -> dict[str, Any]:
    """``{QUEUE: {"ready", "unacked", "dead"}, …, "workers": [{"name", "queues", "active"}]}``;
    :class:`~monitor.broker.app.BrokerError` (one line) where RabbitMQ cannot be reached."""
    app = celery_app(broker_url)
    try:
        with app.connection_for_read() as connection:
            counts = {name: {"ready": _waiting(connection, name), "unacked": 0,
                             "dead": _waiting(connection, f"{name}.dead")} for name in QUEUES}
        inspect = app.control.inspect(timeout=ANSWER_TIMEOUT_S)
        queues, active, reserved = inspect.active_queues() or {}, inspect.active() or {}, inspect.reserved() or {}
    except Exception as error:
        raise unreachable(broker_url, error) from None
    workers = []
    for name in sorted(queues):
        held = [*active.get(name, []), *reserved.get(name, [])]
        for task in held:
            queue = (task.get("delivery_info") or {}).get("routing_key")
            if queue in counts:
                counts[queue]["unacked"] += 1
        workers.append({"name": name, "queues": sorted(q["name"] for q in queues[name]),
                        "active": len(active.get(name, []))})
    return counts | {"workers": workers}


def _waiting(connection, queue: str) -> int:
    """Messages ready in ``queue`` (0 where no worker has declared it yet), on a channel of its own: a passive
    declaration of a queue that does not exist closes its channel."""
    from amqp.exceptions import NotFound

    channel = connection.channel()
    try:
        return channel.queue_declare(queue=queue, passive=True).message_count
    except NotFound:
        return 0
    finally:
        if channel.is_open:
            channel.close()
