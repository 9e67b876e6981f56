"""Storage: the migrations build the models' schema on SQLite and PostgreSQL alike, with cascades."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from enrollment.models import Base, Performer, Voiceprint, to_blob
from enrollment.service import add_performer, remove_performer
from monitor.storage.db import make_engine, open_database
from monitor.storage.models import Detection, Media


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'likeness.db'}"
    return request.getfixturevalue("postgres_url")


def test_the_migrations_create_exactly_the_schema_of_the_models(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    open_database(database_url)
    with make_engine(database_url).connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_opening_a_current_database_again_changes_nothing(database_url):
    sessions = open_database(database_url)
    with sessions.begin() as session:
        add_performer(session, "Ada Voice", "Ada Voice")
    with open_database(database_url)() as session:
        assert session.scalar(select(func.count()).select_from(Performer)) == 1


def test_removing_a_performer_cascades_to_voiceprints_and_detections(database_url):
    sessions = open_database(database_url)
    with sessions.begin() as session:
        performer = add_performer(session, "Ada Voice", "Ada Voice", ["ada@example.org"], "Stars")
        session.add(Voiceprint(performer_id=performer.id, embedding=to_blob(np.ones(256)), n_clips=1, speech_s=6.0,
                               model_version="test"))
        media = Media(sha256="ab" * 32, size_bytes=10)
        session.add(media)
        session.flush()
        session.add(Detection(agency_id=performer.agency_id, performer_id=performer.id, media_id=media.id,
                              modality="voice", score=0.9,
                              similarity=0.9, threshold=0.5, segments=[], model_version="test"))
    with sessions.begin() as session:
        remove_performer(session, performer.id)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Voiceprint)) == 0
        assert session.scalar(select(func.count()).select_from(Detection)) == 0
        assert session.scalar(select(func.count()).select_from(Media)) == 1


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'likeness.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_pooled_connection_the_database_dropped_while_idle_is_replaced_unseen(postgres_url, monkeypatch):
    from sqlalchemy import text

    from monitor.storage import db

    engine = make_engine(postgres_url)
    with engine.connect() as connection:
        dropped = connection.execute(text("SELECT pg_backend_pid()")).scalar()
    with make_engine(postgres_url).connect() as admin:  # as a database restart would
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    monkeypatch.setattr(db, "IDLE_BEFORE_PING_S", 0.0)  # it has been idle long enough to be tried first
    with engine.connect() as connection:
        assert connection.execute(text("SELECT pg_backend_pid()")).scalar() != dropped
    engine.dispose()
