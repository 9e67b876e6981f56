"""A real website on 127.0.0.1 for crawler tests and benchmarks: routes in a dict, every request logged.

Answers conditional requests (ETag, Last-Modified) with 304 like a real server, so a second visit of
an unchanged site can be checked request by request. A route's ``delay_s`` holds its answer back; ``stop()``
ends every delay at once, so a route that never answers in time is ``delay_s=HANG_S``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import ThreadingHTTPServer

from tests.support.loopback import QuietHandler, serve, shut

LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)
HANG_S = 3600.0  # a delay no client of the tests waits out: the answer comes when the site stops
# The [fetch] settings of a test home that crawls this site: no spacing between requests (tests, not manners),
# and timeouts that are safety nets only, far above what anything on 127.0.0.1 takes (a test of a timeout sets
# its own, against a route that does not answer at all)
POLITE_FETCH = "[fetch]\nper_host_delay_s = 0.0\ntimeout_s = 30.0\nmax_total_s = 120.0\n"


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    released: threading.Event | None = None  # the answer waits until this is set (or the site stops)


class Website:
    """``site.add("/index.html", html)``, ``site.start()`` → base URL; ``site.requests`` logs (method, path)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._stopping = threading.Event()  # set by stop(): delayed answers give up waiting

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
        self._stopping.clear()

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                site.requests.append(("GET", self.path))
                route = site.routes.get(self.path.split("?")[0])
                if route is None:
                    self.answer(404, b"not found", {"Content-Type": "text/plain"})
                    return
                if (route.delay_s and site._stopping.wait(route.delay_s)) or not site._released(route):
                    self.close_connection = True  # the site is stopping: no answer
                    return
                headers = {"Content-Type": route.content_type, **route.headers}
                if route.status == 200:
                    etag = '"' + hashlib.sha1(route.body).hexdigest()[:16] + '"'
                    headers |= {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                    if self.headers.get("If-None-Match") == etag:
                        self.answer(304, b"", {"ETag": etag})
                        return
                self.answer(route.status, route.body, headers)

        self._server = serve(Handler)
        return self.url

    def _released(self, route: Route) -> bool:
        """Wait until ``route`` is released → False where the site stops first."""
        while route.released is not None and not route.released.wait(0.1):
            if self._stopping.is_set():
                return False
        return True

    def stop(self) -> None:
        self._stopping.set()
        shut(self._server)
