"""A TCP relay on 127.0.0.1 in front of a real service, whose connections a test can cut: every open one closed
at once, new ones refused until :meth:`CutLine.mend` — what a broker restart or a network fault does to its
clients, without stopping a service other tests share."""

from __future__ import annotations

import contextlib
import socket
import threading


class CutLine:
    """``CutLine(("127.0.0.1", 5672))``; ``.port`` to connect to instead; ``cut()``, ``mend()``, ``close()``;
    ``.relayed``: connections relayed so far."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.cuts = self.relayed = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    def cut(self) -> None:
        """Close every connection through the relay, and refuse new ones until :meth:`mend`."""
        with self._lock:
            self._down.set()
            self.cuts += 1
            for connection in self._open:
                _close(connection)
            self._open.clear()

    def mend(self) -> None:
        self._down.clear()

    def close(self) -> None:
        self.cut()
        _close(self._listener)

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:  # closed
                return
            if self._down.is_set():
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=30)
            except OSError:
                _close(client)
                continue
            server.settimeout(None)
            with self._lock:
                self._open |= {client, server}
                self.relayed += 1
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    """Copy bytes from ``source`` to ``sink`` until either closes; then close both."""
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    _close(source)
    _close(sink)


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        connection.close()
