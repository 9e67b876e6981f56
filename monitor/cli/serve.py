"""``likeness serve``: the dashboard and the REST API over HTTP (uvicorn)."""

from __future__ import annotations

import click

from monitor.cli.common import App


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (put a TLS-terminating proxy in front for anything but loopback).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0: any free port, printed at start).")
@click.option("--workers", type=click.IntRange(0, 64), default=1, show_default=True,
              help="Processes answering requests (0: one per CPU core).")
@click.pass_obj
def serve(app: App, host: str, port: int, workers: int) -> None:
    """Serve the dashboard and the REST API (/api/v1) until Ctrl-C."""
    import os

    from monitor.web.server import serve as serve_http

    serve_http(app.config, host, port, workers or len(os.sched_getaffinity(0)))
