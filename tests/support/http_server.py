"""A threaded HTTP/1.0 server on 127.0.0.1 for the fetcher's tests, and the routes it answers with.

``routes`` maps a path to a function answering through the request handler (:func:`page`, :func:`redirect`,
…). The server records every request (path, arrival time on the monotonic clock, headers) and the most
requests it ever had in progress at once. Routes that hold a request (:func:`hang`, :func:`trickle`,
:func:`slow`, :func:`held_until_concurrent`) wait on events, not on the clock alone: ``stop()`` releases them
all, and a route that must outlast a client's timeout never answers rather than answering late.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]
AUDIO = b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 40  # binary: not sniffed as text
SAFETY_NET_S = 30.0  # the longest a route holds a request for an event that should come at once


class Server:
    """``Server()``, ``.start()``, ``.url(path)``, ``.stop()``; see the module docstring."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[tuple[str, float, dict[str, str]]] = []
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)  # notified whenever ``active`` changes
        self.stopping = threading.Event()  # set by stop(): held requests are let go
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.changed:
                    server.hits.append((self.path, time.monotonic(), {k.lower(): v for k, v in self.headers.items()}))
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                    server.changed.notify_all()
                try:
                    server.routes.get(self.path, lambda h: send(h, 404, b"not here"))(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, refusals): expected
                finally:
                    with server.changed:
                        server.active -= 1
                        server.changed.notify_all()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.routes_server = self  # routes reach the server through their handler's ``server``
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.hits]


def _server_of(handler: BaseHTTPRequestHandler) -> Server:
    return handler.server.routes_server


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
         length: bool = True) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def page(body: bytes | str = b"<html><body>hi</body></html>", status: int = 200, **headers: str) -> Route:
    data = body.encode() if isinstance(body, str) else body
    return lambda h: send(h, status, data, {"Content-Type": "text/html", **{k.replace("_", "-"): v
                                                                            for k, v in headers.items()}})


def redirect(location: str, status: int = 302) -> Route:
    return lambda h: send(h, status, headers={"Location": location})


def slow(seconds: float, route: Route) -> Route:
    """``route``, after holding the request for ``seconds`` (less if the server stops)."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        if not _server_of(handler).stopping.wait(seconds):
            route(handler)

    return answer


def hang() -> Route:
    """Nothing at all, not even headers, until the server stops: any client timeout runs out first."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        _server_of(handler).stopping.wait()
        handler.close_connection = True

    return answer


def trickle(every_s: float, content_type: str = "text/html") -> Route:
    """Headers at once, then one byte every ``every_s`` (no Content-Length) until the client hangs up or the
    server stops: a body that never ends."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, AUDIO[:10] if content_type.startswith("audio") else b"<html>",
             {"Content-Type": content_type}, length=False)
        while not _server_of(handler).stopping.wait(every_s):
            handler.wfile.write(b"\0")
            handler.wfile.flush()
        handler.close_connection = True

    return answer


def held_until_concurrent(n: int, route: Route) -> Route:
    """``route``, once ``n`` requests have been in progress at the same time (or after ``SAFETY_NET_S``): the
    overlap a concurrency limit of ``n`` allows is then certain, whatever the timing of the requests."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        server = _server_of(handler)
        with server.changed:
            server.changed.wait_for(lambda: server.max_active >= n or server.stopping.is_set(), SAFETY_NET_S)
        route(handler)

    return answer
