"""What every loopback HTTP server of the tests shares: a quiet HTTP/1.1 handler and a threaded server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 (kept-alive connections), no access log; :meth:`answer` sends a whole response."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: object) -> None:
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client that hung up early
            self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up early (a refused download) is no error of the server


def serve(handler: type[BaseHTTPRequestHandler], poll_s: float = 0.5) -> ThreadingHTTPServer:
    """``handler`` served on a free port of 127.0.0.1 from a daemon thread.

    ``poll_s``: how soon shutdown() is noticed (seconds).
    """
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(poll_s,), daemon=True).start()
    return server


def shut(server: ThreadingHTTPServer | None) -> None:
    """Stop serving and close the listening socket (nothing when ``server`` is None)."""
    if server is not None:
        server.shutdown()
        server.server_close()
