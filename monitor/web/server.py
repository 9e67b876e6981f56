"""``likeness serve``: uvicorn on a socket bound here, so that port 0 gives a free port, printed at start."""

from __future__ import annotations

import socket

import click

from monitor.config import Config

BACKLOG = 2048


def serve(config: Config, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM; prints ``serving on http://HOST:PORT`` once it listens."""
    import uvicorn

    from monitor.web.app import create_app

    app = create_app(config)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        from enrollment.errors import LikenessError

        raise LikenessError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(BACKLOG)  # connections wait from now on: the address printed below answers at once
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if family == socket.AF_INET6 else host
    click.echo(f"serving on http://{shown_host}:{bound_port}", nl=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                                           proxy_headers=False))
    server.run(sockets=[sock])
