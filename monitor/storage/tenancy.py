"""Which rows an agency sees: the filters every query of tenant rows goes through.

A detection is kept for its performer's agency as soon as the analysis finds it, but that agency sees it only
once it has found the media itself (a sighting of its own): otherwise a detection would tell it that another
agency holds the file.
"""

from __future__ import annotations

import functools

from sqlalchemy import ColumnElement, Connection, Engine, and_, event, text
from sqlalchemy.orm import Session, sessionmaker

from monitor.storage.models import Detection


def visible_detections(agency_id: int | None) -> ColumnElement[bool]:
    """Detections whose agency has a sighting of their media (``Detection.sighted``); only ``agency_id``'s when
    given."""
    return and_(Detection.agency_id == agency_id, Detection.sighted) if agency_id is not None else Detection.sighted


APP_ROLE = "likeness_app"  # made by migration 0009 on PostgreSQL: owns nothing, sees one agency's rows


def agency_sessions(sessions: sessionmaker[Session], agency_id: int) -> sessionmaker[Session]:
    """Sessions acting for one agency behind PostgreSQL's row-level security: each transaction runs as
    APP_ROLE with ``likeness.agency_id`` set, so even a query that forgets the agency's filter sees only its
    rows of the biometric and evidential tables. Elsewhere (SQLite, or no role made), ``sessions`` itself.
    Made once per agency and engine (a request asks for them every time)."""
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql" or not _has_app_role(engine):
        return sessions
    return _walled(engine, int(agency_id))


@functools.lru_cache(maxsize=4096)
def _walled(engine: Engine, agency_id: int) -> sessionmaker[Session]:
    walled = sessionmaker(engine, expire_on_commit=False)

    @event.listens_for(walled, "after_begin")
    def _enter_agency(_session: Session, _transaction, connection: Connection) -> None:
        # one round trip for both (no parameters: the agency is an integer, formatted here)
        connection.exec_driver_sql(f"SET LOCAL ROLE {APP_ROLE}; "
                                   f"SELECT set_config('likeness.agency_id', '{agency_id}', true)")

    return walled


_ROLE_SEEN: dict[int, bool] = {}


def _has_app_role(engine: Engine) -> bool:
    """Whether APP_ROLE exists and this database user may act as it (looked up once per engine)."""
    if id(engine) not in _ROLE_SEEN:
        with engine.connect() as connection:
            _ROLE_SEEN[id(engine)] = bool(connection.execute(text(
                "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = :role"),
                {"role": APP_ROLE}).scalar())
    return _ROLE_SEEN[id(engine)]
