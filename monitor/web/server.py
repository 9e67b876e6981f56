"""``likeness serve``: uvicorn on a socket bound here, so that port 0 gives a free port, printed at start; with
several workers, uvicorn's supervisor runs that many processes on the same socket (and restarts one that dies)."""

from __future__ import annotations

import os
import socket

import click

from monitor.config import Config

BACKLOG = 2048


def serve(config: Config, host: str, port: int, workers: int = 1) -> None:
    """Serve until SIGINT or SIGTERM with ``workers`` processes; prints ``serving on http://HOST:PORT`` once it
    listens."""
    import uvicorn

    from monitor.web.app import create_app

    app = create_app(config)  # here first: a database that cannot be opened stops it with one line
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio turns Nagle's algorithm off only on sockets that say they are TCP, and with it
    # on every answer waits ~40 ms for the client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
    quiet = {"log_level": "warning", "access_log": False, "server_header": False, "proxy_headers": False}
    if workers <= 1:
        uvicorn.Server(uvicorn.Config(app, **quiet)).run(sockets=[sock])
        return
    from uvicorn.supervisors import Multiprocess

    os.environ["LIKENESS_HOME"] = str(config.home.resolve())  # each worker builds its app from it
    settings = uvicorn.Config("monitor.web.app:app_from_environment", factory=True, workers=workers, **quiet)
    Multiprocess(settings, sockets=[sock]).run()
