"""``likeness worker``: analyses taken from the broker (RabbitMQ) by Celery worker processes."""

from __future__ import annotations

import click

from monitor.cli.common import App


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
