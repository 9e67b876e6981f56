"""The Celery application of an install: RabbitMQ as the broker, JSON messages, and task settings that make
"at least once" safe.

A task is acknowledged only when it has finished (``acks_late``) and given back when its worker dies
(``reject_on_worker_lost``): RabbitMQ hands it at once to another worker. Each worker holds one message at a
time (prefetch 1). Queues are quorum queues: a message given back more than ``DELIVERY_LIMIT`` times (a file
that crashes every worker that opens it) goes to the dead-letter queue ``QUEUE.dead`` instead of looping.
No result backend: tasks write their results to the database.
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from enrollment.errors import LikenessError

if TYPE_CHECKING:
    from celery import Celery

QUEUES = ("analysis", "crawl", "mail")
DELIVERY_LIMIT = 3  # failed deliveries RabbitMQ allows a message: its 4th failure dead-letters it
DEAD_LETTERS = "likeness.dead"  # the exchange; each queue's dead letters are routed to QUEUE.dead
ANALYSE = "likeness.analyse"  # the tasks' names: an analysis, a crawl pass of one source, the due alerts sent
CRAWL = "likeness.crawl"
SEND_ALERTS = "likeness.send_alerts"
QUEUE_OF = {ANALYSE: "analysis", CRAWL: "crawl", SEND_ALERTS: "mail"}
PUBLISH_RETRIES, PUBLISH_RETRY_MAX_S = 30, 2.0  # about a minute: a broker restarting
# a worker process grown past this (KiB) is replaced after its task: the largest media peak under 0.7 GiB
# (docs/performance.md), so more is a leak or a hostile file's doing
MAX_MEMORY_PER_CHILD_KIB = 3 << 20
PROCESS_UP_TIMEOUT_S = 300.0


def celery_app(broker_url: str) -> Celery:
    """The application for ``broker_url`` (``amqp://USER:PASSWORD@HOST:PORT/VHOST``), made once; a worker
    registers the tasks it runs (:mod:`monitor.worker.tasks`), a sender names them."""
    with _MAKING:  # a scan's threads ask at once: celery's first import is not safe from several threads
        return _made(broker_url)


_MAKING = threading.Lock()


def forget_apps() -> None:
    """Drop the applications made so far: the next one reads the settings above again."""
    with _MAKING:
        _made.cache_clear()


@functools.cache
def _made(broker_url: str) -> Celery:
    from celery import Celery
    from kombu import Exchange, Queue

    app = Celery("likeness", broker=broker_url, set_as_current=False)
    dead = Exchange(DEAD_LETTERS, type="direct", durable=True)
    app.conf.update(
        task_serializer="json", accept_content=["json"], result_serializer="json", result_backend=None,
        task_ignore_result=True, task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1, worker_hijack_root_logger=False, broker_connection_retry_on_startup=True,
        worker_max_memory_per_child=MAX_MEMORY_PER_CHILD_KIB,
        # a new worker process loads the models before it says it is up (seconds on a loaded machine)
        worker_proc_alive_timeout=PROCESS_UP_TIMEOUT_S,
        task_queues=[Queue(name, Exchange(name, type="topic", durable=True), routing_key=name, durable=True,
                           queue_arguments={"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
                                            "x-dead-letter-exchange": DEAD_LETTERS,
                                            "x-dead-letter-routing-key": f"{name}.dead"})
                     for name in QUEUES],
        task_routes={task: {"queue": queue, "routing_key": queue} for task, queue in QUEUE_OF.items()},
        task_default_queue="analysis",
        # a message is sent when RabbitMQ says it has it (publisher confirms), and sending waits out a broker
        # restart: up to PUBLISH_RETRIES tries, PUBLISH_RETRY_MAX_S apart at most
        broker_transport_options={"confirm_publish": True}, task_publish_retry=True,
        task_publish_retry_policy={"max_retries": PUBLISH_RETRIES, "interval_start": 0.5, "interval_step": 0.5,
                                   "interval_max": PUBLISH_RETRY_MAX_S},
    )
    app.conf.dead_letter_queues = [Queue(f"{name}.dead", dead, routing_key=f"{name}.dead", durable=True,
                                         queue_arguments={"x-queue-type": "quorum"}) for name in QUEUES]
    app.amqp, app.producer_pool  # noqa: B018  (made here, under the lock, not by the first threads that send)
    return app


def declare_queues(app: Celery) -> None:
    """Declare every queue with its exchange, and the dead-letter ones (no worker consumes them: they keep
    what failed), whichever queues this worker takes tasks from."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in [*app.conf.task_queues, *app.conf.dead_letter_queues]:
            queue.bind(channel).declare()


def send_analysis(broker_url: str, sha256: str, analysis_key: str, models: dict[str, str | None],
                  time_limit_s: float | None = None) -> None:
    """Ask a worker to analyse stored content ``sha256`` under ``analysis_key`` with the ``models`` it was made
    with (``{"voice", "face"}`` versions), killed after ``time_limit_s`` (None: no limit). Call after the
    transaction that recorded the content has committed. BrokerError, one line without the password, where
    RabbitMQ cannot be reached for about a minute: the content stays recorded and unanalysed, for the next pass."""
    send(broker_url, ANALYSE, [sha256, analysis_key], {"models": models}, time_limit_s)


def send(broker_url: str, task: str, args: list, kwargs: dict | None = None,
         time_limit_s: float | None = None) -> None:
    """Publish ``task`` on its queue once RabbitMQ confirms it has it; BrokerError (one line, no password) where
    it cannot be reached for about a minute."""
    queue = QUEUE_OF[task]
    try:
        celery_app(broker_url).send_task(task, args=args, kwargs=kwargs or {}, queue=queue, routing_key=queue,
                                         time_limit=time_limit_s)
    except Exception as error:  # kombu's OperationalError, a refused connection, a confirm that never came
        raise unreachable(broker_url, error) from None


class BrokerError(LikenessError):
    """RabbitMQ could not be reached or refused a message."""


def unreachable(broker_url: str, error: Exception) -> BrokerError:
    """The one line for ``error`` of the broker at ``broker_url`` (its password left out)."""
    return BrokerError(f"cannot reach the broker at {shown_url(broker_url)}: "
                       f"{str(error).splitlines()[0] if str(error) else type(error).__name__}")


def shown_url(broker_url: str) -> str:
    """The URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(broker_url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 5672}{parts.path}"
