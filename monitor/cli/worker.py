"""``likeness worker``: analyses taken from the broker (RabbitMQ) by Celery worker processes; ``likeness queue
status``: what the broker holds."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit


@click.command()
@click.option("--queues", default="analysis", show_default=True, metavar="NAMES",
              help="Comma-separated queues to take tasks from.")
@click.option("--concurrency", type=click.IntRange(0, 256), default=0, show_default=True,
              help="Worker processes, each analysing one file at a time (0: one per CPU core).")
@click.pass_obj
def worker(app: App, queues: str, concurrency: int) -> None:
    """Analyse what the broker (LIKENESS_BROKER_URL) hands out, until Ctrl-C or SIGTERM."""
    from monitor.worker.run import run_worker

    run_worker(app.context, tuple(name.strip() for name in queues.split(",") if name.strip()), concurrency)


@click.group()
def queue() -> None:
    """The broker's queues (LIKENESS_BROKER_URL)."""


@queue.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def queue_status(app: App, as_json: bool) -> None:
    """Messages waiting, held by workers and dead-lettered, per queue; the workers that answer."""
    from monitor.services.broker import queue_status as status_of

    status = status_of(app.context)

    def human() -> None:
        for name, counts in status.items():
            if name != "workers":
                click.echo(f"{name}: {counts['ready']} waiting, {counts['unacked']} with a worker, "
                           f"{counts['dead']} dead-lettered")
        for worker in status["workers"]:
            click.echo(f"worker {worker['name']} ({', '.join(worker['queues'])}): {worker['active']} running")
        if not status["workers"]:
            click.echo("no worker answers")

    emit(status, as_json, human)
