"""The database: engine, sessions, and migrations to the current schema on open.

SQLite (the default) runs in WAL mode with foreign keys enforced, so that deleting a performer
cascades to everything that describes them; PostgreSQL works through the same code.
"""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from enrollment.errors import LikenessError, error_line

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseError(LikenessError):
    """The database cannot be opened or migrated."""


POOL_SIZE = 12  # PostgreSQL connections kept open per process
IDLE_BEFORE_PING_S = 10.0


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg")
    # as many connections kept open as the web server runs requests at once (monitor.web.background): one more
    # would be opened and closed again for every request above the pool's size
    from pydantic_core import from_json  # JSON columns decoded in Rust: most of a page of detections' time

    engine = create_engine(url, pool_size=POOL_SIZE, max_overflow=2 * POOL_SIZE, json_deserializer=from_json)
    _ping_after_idle(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """A pooled connection is tried (a round trip) before use only where it sat unused for ``IDLE_BEFORE_PING_S``:
    one the database dropped while idle (a restart) is replaced unseen. A busy one is not: SQLAlchemy's
    ``pool_pre_ping`` pinged every checkout, two round trips of each page under load. A connection that fails in
    use fails that one request or item, and SQLAlchemy then renews the whole pool."""
    from sqlalchemy import exc

    def checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since_s"] = time.monotonic()

    def checked_out(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get("idle_since_s", 0.0) < IDLE_BEFORE_PING_S:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            raise exc.DisconnectionError("the pooled connection was closed while idle")  # the pool opens another

    event.listen(engine.pool, "checkin", checked_in)
    event.listen(engine.pool, "checkout", checked_out)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (creates it in an empty database)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    settings = AlembicConfig()
    settings.set_main_option("script_location", str(MIGRATIONS_DIR))
    sqlite = engine.dialect.name == "sqlite"
    try:
        with engine.connect() as connection:
            if sqlite:  # SQLite changes a table by copying it: dropping the old one must not cascade to its children
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                connection.commit()  # a pragma outside any transaction, or it is ignored
            with connection.begin():
                settings.attributes["connection"] = connection
                command.upgrade(settings, "head")
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise DatabaseError("cannot prepare the database: a migration left a broken reference")
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot prepare the database: {error_line(error)}") from None


def is_current(engine: Engine) -> bool:
    """True when the schema exists and is at the newest migration (cheap: no Alembic import)."""
    from sqlalchemy import text

    try:
        with engine.connect() as connection:
            if not inspect(connection).has_table("alembic_version"):
                return False
            current = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError as error:
        raise DatabaseError(f"cannot open the database: {error_line(error)}") from None
    return current == _head_revision()


def _head_revision() -> str:
    names = sorted(p.stem for p in (MIGRATIONS_DIR / "versions").glob("[0-9]*.py"))
    return names[-1].split("_", 1)[0]


def open_database(url: str) -> sessionmaker[Session]:
    """A session factory on a database at the newest schema (migrated on first use)."""
    engine = make_engine(url)
    if not is_current(engine):
        upgrade(engine)
    return sessionmaker(engine, expire_on_commit=False)
