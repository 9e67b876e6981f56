"""Who asks, and with what: the context every service operation takes."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Config
from monitor.services.roles import Forbidden, permissions
from monitor.storage.custody import local_actor

ActorKind = Literal["cli", "web", "token", "worker", "system"]


@dataclass(frozen=True)
class Actor:
    """Who acts: ``name`` as recorded (``alice@host`` for a person at the command line, a user's e-mail on
    the web, a token's name) and ``kind``, the way they came in; ``remote_address``: from where (web, API)."""

    name: str
    kind: ActorKind
    remote_address: str | None = None

    @classmethod
    def local(cls, kind: ActorKind = "cli") -> Actor:
        """The person (or service account) running this process, as ``user@host``."""
        return cls(local_actor(), kind)


@dataclass
class Context:
    """The configuration, the database, the actor and the agency of one request, command or task.

    ``sessions`` is opened from ``config.database_url`` on first use (migrating it to the current
    schema), so operations that need no database (verifying a bundle, a test e-mail) never open one.

    The agency: ``agency_id`` for a user (web, API), or ``agency_name`` as named at the command line (looked up
    on first use); neither: the operator, across every agency, whose writes go to the only agency (see
    :meth:`acting_agency_id`). ``role`` (with a token's ``scope``) limits what may be done, and
    ``performer_ids`` whose detections an artist (or an agent with clients of their own) sees; None: no limit.
    """

    config: Config
    actor: Actor
    agency_id: int | None = None
    agency_name: str | None = None
    role: str | None = None
    scope: str | None = None
    performer_ids: frozenset[int] | None = None
    _sessions: sessionmaker[Session] | None = field(default=None, repr=False)
    _walled: sessionmaker[Session] | None = field(default=None, repr=False)

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The database; for a user of one agency, behind PostgreSQL's row-level security for that agency."""
        if self._sessions is None:
            from monitor.storage.db import open_database

            self.config.home.mkdir(parents=True, exist_ok=True)
            self._sessions = open_database(self.config.database_url)
        if self.role is None or self.agency_id is None:
            return self._sessions
        if self._walled is None:
            from monitor.storage.tenancy import agency_sessions

            self._walled = agency_sessions(self._sessions, self.agency_id)
        return self._walled

    def reading(self) -> AbstractContextManager[Session]:
        """A session for reads, ended by COMMIT (of nothing: the same as a rollback). PostgreSQL's driver forgets
        the statements it has prepared at every ROLLBACK, so reads ended that way were planned anew each time:
        a third of the database's time per page of detections."""
        return self.sessions.begin()

    def scoped_agency_id(self) -> int | None:
        """The agency this context is limited to, None for the operator who named none (every agency)."""
        if self.agency_id is None and self.agency_name is not None:
            from enrollment.agencies import find_agency

            with self.reading() as session:
                self.agency_id = find_agency(session, self.agency_name).id
        return self.agency_id

    def acting_agency_id(self) -> int:
        """The agency a new row belongs to: this context's, else the only one (made where there is none yet);
        several and none named: one line asking for ``--agency``."""
        if self.scoped_agency_id() is None:
            from enrollment.agencies import agency_for

            with self.sessions.begin() as session:
                self.agency_id = agency_for(session).id
        return self.agency_id

    def may(self, permission: str) -> bool:
        allowed = permissions(self.role, self.scope)
        return allowed is None or permission in allowed

    def require(self, permission: str) -> None:
        """Forbidden (one line) unless the actor's role and scope allow ``permission``."""
        if not self.may(permission):
            what = f"a {self.scope} token" if self.scope and self.role else f"the {self.role} role"
            raise Forbidden(f"{what} may not do this ({permission})")

    def sees_performer(self, performer_id: int) -> bool:
        return self.performer_ids is None or performer_id in self.performer_ids
