"""A real website on 127.0.0.1 for crawler tests and benchmarks: routes in a dict, every request logged.

Answers conditional requests (ETag, Last-Modified) with 304 like a real server, so a second visit of
an unchanged site can be checked request by request.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Website:
    """``site.add("/index.html", html)``, ``site.start()`` → base URL; ``site.requests`` logs (method, path)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    def add(self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8", **options) -> None:
        self.routes[path] = Route(body.encode() if isinstance(body, str) else body, content_type, **options)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.routes[path] = Route(status=status, headers={"Location": location})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def requested(self, path: str) -> int:
        return sum(1 for _method, logged in self.requests if logged == path)

    def start(self) -> str:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:
                pass

            def do_GET(self) -> None:
                site.requests.append(("GET", self.path))
                route = site.routes.get(self.path.split("?")[0])
                if route is None:
                    self._answer(404, b"not found", {"Content-Type": "text/plain"})
                    return
                if route.delay_s:
                    time.sleep(route.delay_s)
                headers = {"Content-Type": route.content_type, **route.headers}
                if route.status == 200:
                    etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                    headers |= {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                    if self.headers.get("If-None-Match") == etag:
                        self._answer(304, b"", {"ETag": etag})
                        return
                self._answer(route.status, route.body, headers)

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a client that hangs up early (a refused download) is no error of the site

        self._server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
