"""On PostgreSQL, a second wall behind the services' filters: a user's queries run as a role that owns no table,
and row-level security shows them only their agency's biometric and evidential rows, whatever the SQL says."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from enrollment.agencies import add_agency
from enrollment.service import add_performer
from monitor.config import load_config
from monitor.services.context import Actor, Context
from monitor.storage.db import open_database
from monitor.storage.models import Detection, Media
from monitor.storage.tenancy import agency_sessions


@pytest.fixture
def two_agencies(postgres_url: str) -> dict:
    sessions = open_database(postgres_url)
    with sessions.begin() as session:
        media = Media(sha256="ef" * 32, size_bytes=10)
        session.add(media)
        made = {"sessions": sessions}
        for name in ("Stars", "Voices"):
            agency = add_agency(session, name)
            performer = add_performer(session, f"{name} Performer", "themselves", agency_id=agency.id)
            session.flush()
            session.add(Detection(agency_id=agency.id, performer_id=performer.id, media_id=media.id,
                                  modality="voice", score=0.9, similarity=0.8, threshold=0.5, segments=[],
                                  model_version="test"))
            made[name] = agency.id
    return made


def test_raw_sql_through_an_agencys_sessions_sees_only_its_rows(two_agencies):
    walled = agency_sessions(two_agencies["sessions"], two_agencies["Stars"])
    with walled() as session:
        assert session.execute(text("SELECT DISTINCT agency_id FROM detections")).scalars().all() == [
            two_agencies["Stars"]]
        assert session.execute(text("SELECT count(*) FROM consents")).scalar() == 1
        assert session.execute(text("SELECT current_user")).scalar() == "likeness_app"
    with two_agencies["sessions"]() as session:  # the tables' owner (the command line) sees both
        assert session.execute(text("SELECT count(*) FROM detections")).scalar() == 2


def test_an_agencys_sessions_cannot_write_another_agencys_rows(two_agencies):
    walled = agency_sessions(two_agencies["sessions"], two_agencies["Stars"])
    with pytest.raises(ProgrammingError, match="row-level security"), walled.begin() as session:
        session.execute(text("UPDATE detections SET status = 'dismissed'"))  # only Stars' row is reachable
        session.execute(text(
            "INSERT INTO detections (agency_id, performer_id, media_id, modality, score, similarity, threshold, "
            "segments, model_version, status, created_at, updated_at) SELECT :other, performer_id, media_id, "
            "'face', 0.9, 0.9, 0.5, '[]', 'x', 'new', now(), now() FROM detections LIMIT 1"),
            {"other": two_agencies["Voices"]})
    with two_agencies["sessions"]() as session:
        assert session.execute(text("SELECT count(*) FROM detections WHERE status = 'dismissed'")).scalar() == 0


def test_a_users_context_is_walled_and_the_operators_is_not(two_agencies, postgres_url, home, monkeypatch):
    monkeypatch.setenv("LIKENESS_DATABASE_URL", postgres_url)
    config = load_config(home)
    user = Context(config, Actor("ann@stars.example", "web"), agency_id=two_agencies["Voices"], role="owner",
                   _sessions=two_agencies["sessions"])
    with user.sessions() as session:
        assert session.execute(text("SELECT DISTINCT agency_id FROM detections")).scalars().all() == [
            two_agencies["Voices"]]
    operator = Context(config, Actor.local(), _sessions=two_agencies["sessions"])
    with operator.sessions() as session:
        assert session.execute(text("SELECT count(DISTINCT agency_id) FROM detections")).scalar() == 2
