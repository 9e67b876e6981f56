"""News of analyses stored, for a process that waits for other processes' analyses (a scan whose workers analyse).

On PostgreSQL each transaction that stores an analysis (a result, a failure, a refusal) sends
``NOTIFY likeness_analysed, SHA256``, delivered when it commits; a waiter listens on a connection of its own and
wakes the thread that waits for that content at once, instead of that thread polling the database. Nothing
relies on the news alone: a waiter also looks again every ``FALLBACK_S`` (a notification is lost while its
connection is being replaced). On SQLite, which has no notifications, waiting is polling.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

CHANNEL = "likeness_analysed"
FALLBACK_S = 5.0  # a waiter looks again this often whatever it hears
LISTENING_WITHIN_S = 10.0  # the first expect() waits this long at most for the listener to be up
logger = logging.getLogger(__name__)


def announce_analysed(session: Session, sha256: str) -> None:
    """Tell waiters, when ``session``'s transaction commits, that the analysis of ``sha256`` was stored."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, :sha256)"), {"channel": CHANNEL, "sha256": sha256})


@functools.cache
def analysed_news(engine: Engine) -> AnalysedNews:
    """The one listener of this process on ``engine``'s database (a thread and a connection, from the first
    :meth:`AnalysedNews.expect` on, for the process's life)."""
    return AnalysedNews(engine)


class AnalysedNews:
    """Listens for :func:`announce_analysed` on ``engine`` (PostgreSQL) from its first :meth:`expect`, until
    :meth:`close`. ``expect(sha256)`` before asking for the analysis, ``wait(sha256, timeout_s)`` until it is
    stored, ``forget(sha256)`` once done with it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._heard: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._up = threading.Event()  # set once LISTEN has run on the current connection
        self._listening: threading.Thread | None = None

    def expect(self, sha256: str) -> None:
        """Be ready to hear of ``sha256`` (call before the analysis is asked for: no news is missed once the
        listener is up, which the first call waits for)."""
        with self._lock:
            self._heard.setdefault(sha256, threading.Event())
            if self._listening is None and self.engine.dialect.name == "postgresql":
                self._listening = threading.Thread(target=self._listen, name="analysed-news", daemon=True)
                self._listening.start()
        if self._listening is not None:
            self._up.wait(LISTENING_WITHIN_S)

    def wait(self, sha256: str, timeout_s: float) -> None:
        """Return once news of ``sha256`` came since the last wait (or :meth:`expect`), or after ``timeout_s``."""
        with self._lock:
            heard = self._heard.setdefault(sha256, threading.Event())
        heard.wait(timeout_s)
        heard.clear()

    def forget(self, sha256: str) -> None:
        with self._lock:
            self._heard.pop(sha256, None)

    def close(self) -> None:
        self._closed.set()

    def _listen(self) -> None:
        """Hear notifications on a connection of this thread's own, opened again after a failure."""
        while not self._closed.is_set():
            try:
                with contextlib.closing(self.engine.raw_connection()) as pooled:
                    connection = pooled.driver_connection
                    pooled.detach()  # a listening connection never goes back to the pool; closing closes it
                    connection.autocommit = True
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._up.set()
                    while not self._closed.is_set():
                        for news in connection.notifies(timeout=1.0):
                            self._heard_of(news.payload)
            except Exception as error:  # the database restarting: polling covers the gap; listen again
                self._up.clear()
                logger.debug("not hearing of analyses for now: %s", error)
                self._closed.wait(FALLBACK_S)

    def _heard_of(self, sha256: str) -> None:
        with self._lock:
            heard = self._heard.get(sha256)
        if heard is not None:
            heard.set()
