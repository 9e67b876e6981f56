"""Who asks, and with what: the context every service operation takes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config
from monitor.storage.custody import local_actor

ActorKind = Literal["cli", "web", "token", "worker", "system"]


@dataclass(frozen=True)
class Actor:
    """Who acts: ``name`` as recorded (``alice@host`` for a person at the command line, a user's e-mail on
    the web, a token's name) and ``kind``, the way they came in."""

    name: str
    kind: ActorKind

    @classmethod
    def local(cls, kind: ActorKind = "cli") -> Actor:
        """The person (or service account) running this process, as ``user@host``."""
        return cls(local_actor(), kind)


@dataclass
class Context:
    """The configuration, the database and the actor of one request, command or task.

    ``sessions`` is opened from ``config.database_url`` on first use (migrating it to the current
    schema), so operations that need no database (verifying a bundle, a test e-mail) never open one.
    """

    config: Config
    actor: Actor
    _sessions: sessionmaker[Session] | None = field(default=None, repr=False)

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            from monitor.storage.db import open_database

            self.config.home.mkdir(parents=True, exist_ok=True)
            self._sessions = open_database(self.config.database_url)
        return self._sessions
