"""Something of which one must run per install, whatever the number of machines: the daemon's schedule.

On PostgreSQL a session-level advisory lock, held on a connection of its own for as long as the holder runs:
a second process waits for it, and takes over when the first stops or dies (its connection closes with it).
On SQLite, which stays on one machine, an exclusive lock on a file beside the database.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text

from enrollment.errors import LikenessError

POLL_S = 2.0  # how often a waiting process tries again


class LostHold(LikenessError):
    """The connection that held the lock is gone: another process may hold it now."""


@contextmanager
def one_holder(engine: Engine, name: str, stop: threading.Event,
               on_wait: Callable[[], None] = lambda: None) -> Iterator[Callable[[], None] | None]:
    """Hold ``name`` for the install, waiting while another process holds it (``on_wait()`` once, when it
    starts waiting) → a check to call now and then, raising LostHold where the hold is lost; None when ``stop``
    was set before it was held."""
    holding = _advisory_lock if engine.dialect.name == "postgresql" else _file_lock
    with holding(engine, name, stop, on_wait) as check:
        yield check


@contextmanager
def held_if_free(engine: Engine, name: str) -> Iterator[bool]:
    """Hold ``name`` inside where no other process holds it (True), else False at once: nothing waits."""
    tried_once = threading.Event()
    tried_once.set()
    with one_holder(engine, name, tried_once) as check:
        yield check is not None


@contextmanager
def _advisory_lock(engine: Engine, name: str, stop: threading.Event,
                   on_wait: Callable[[], None]) -> Iterator[Callable[[], None] | None]:
    key = int.from_bytes(hashlib.sha256(f"likeness:{name}".encode()).digest()[:8], "big", signed=True)
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        if not _taken(lambda: connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar(),
                      stop, on_wait):
            yield None
            return

        def check() -> None:
            try:
                connection.execute(text("SELECT 1"))
            except Exception as error:
                raise LostHold(f"lost the database connection that held {name!r}") from error

        try:
            yield check
        finally:
            with contextlib.suppress(Exception):  # a connection gone took the lock with it
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})


@contextmanager
def _file_lock(engine: Engine, name: str, stop: threading.Event,
               on_wait: Callable[[], None]) -> Iterator[Callable[[], None] | None]:
    database = engine.url.database
    path = Path(f"{database}.{name}.lock") if database and database != ":memory:" else None
    if path is None:
        yield lambda: None
        return
    with open(path, "a+b") as handle:
        def try_once() -> bool:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        if not _taken(try_once, stop, on_wait):
            yield None
            return
        try:
            yield lambda: None
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _taken(try_once: Callable[[], bool], stop: threading.Event, on_wait: Callable[[], None]) -> bool:
    """Try until ``try_once()`` succeeds (True) or ``stop`` is set (False); ``on_wait()`` before the first wait."""
    if try_once():
        return True
    on_wait()
    while not stop.wait(POLL_S):
        if try_once():
            return True
    return False
