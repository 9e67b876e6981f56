"""A real HTTP server on 127.0.0.1 that receives webhooks: every POST recorded, a configurable answer.

``Receiver()`` → ``.start()`` (base URL ``http://127.0.0.1:PORT``), ``.requests`` (each: path, headers,
raw body bytes), ``.status`` (the status every POST is answered with; 200 unless set),
``.stop()``. Fixture: ``receiver`` (started; tests/alerts/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from http.server import ThreadingHTTPServer

from tests.support.loopback import QuietHandler, serve, shut


@dataclass(frozen=True)
class Posted:
    path: str  # with the query string
    headers: dict[str, str]  # names as sent
    body: bytes  # exactly as received

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Posted] = []
        self.status = 200
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> str:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.read_body()
                receiver.requests.append(Posted(self.path, dict(self.headers.items()), body))
                answer = b'{"ok": true}' if receiver.status < 300 else b'{"error": "refused by the test"}'
                self.answer(receiver.status, answer, {"Content-Type": "application/json"})

        self._server = serve(Handler)
        return self.url

    def stop(self) -> None:
        shut(self._server)
        self._server = None

