"""Upgrading keeps everything: a database made before agencies owned their rows moves into one agency whole."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from monitor.storage.db import MIGRATIONS_DIR, make_engine, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'likeness.db'}"
    return request.getfixturevalue("postgres_url")


def _at_revision(url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    settings = AlembicConfig()
    settings.set_main_option("script_location", str(MIGRATIONS_DIR))
    with make_engine(url).begin() as connection:
        settings.attributes["connection"] = connection
        command.upgrade(settings, revision)


ROWS_BEFORE_AGENCIES = [  # one performer without an agency, with everything that hangs on them
    "INSERT INTO performers (id, name, agency_id, created_at) VALUES (1, 'Ada', NULL, :at)",
    "INSERT INTO consents (performer_id, consented_by, scope, consented_at) VALUES (1, 'Ada', 'voice', :at)",
    "INSERT INTO contacts (performer_id, email) VALUES (1, 'ada@example.org')",
    "INSERT INTO media (id, sha256, size_bytes, first_seen_at) VALUES (1, :sha, 10, :at)",
    "INSERT INTO sources (id, kind, url, every_s, depth, paused, ignore_robots, created_at) "
    "VALUES (1, 'feed', 'https://example.org/feed', 3600, 1, false, false, :at)",
    "INSERT INTO sightings (media_id, source, source_id, first_seen_at, last_seen_at) "
    "VALUES (1, 'https://example.org/a.mp3', 1, :at, :at)",
    "INSERT INTO detections (id, performer_id, media_id, modality, score, similarity, threshold, segments, "
    "model_version, status, created_at, updated_at) "
    "VALUES (1, 1, 1, 'voice', 0.9, 0.8, 0.5, '[]', 'm', 'new', :at, :at)",
    "INSERT INTO reviews (detection_id, status, reviewed_at) VALUES (1, 'confirmed', :at)",
    "INSERT INTO alerts (performer_id, media_id, detection_id, status, created_at) VALUES (1, 1, 1, 'sent', :at)",
    "INSERT INTO custody_events (media_id, seq, entry, hash) VALUES (1, 1, '{}', :sha)",
]


def test_rows_made_before_agencies_all_move_into_a_default_agency_and_nothing_is_lost(database_url):
    _at_revision(database_url, "0007")
    with make_engine(database_url).begin() as connection:
        for statement in ROWS_BEFORE_AGENCIES:
            connection.execute(text(statement), {"at": datetime.now(UTC), "sha": "ab" * 32})
    open_database(database_url)
    with make_engine(database_url).connect() as connection:
        assert connection.execute(text("SELECT id, name FROM agencies")).all() == [(1, "default")]
        for table in ("performers", "sources", "sightings", "detections", "alerts", "custody_events"):
            assert connection.execute(text(f"SELECT agency_id FROM {table}")).scalars().all() == [1], table
        for table in ("consents", "contacts", "reviews", "media"):  # what hangs on the moved rows stays
            assert connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 1, table


def test_performers_of_an_agency_keep_it_and_the_rest_joins_the_oldest(database_url):
    _at_revision(database_url, "0007")
    with make_engine(database_url).begin() as connection:
        at = {"at": datetime.now(UTC)}
        connection.execute(text("INSERT INTO agencies (id, name, created_at) VALUES (1, 'Stars', :at), "
                                "(2, 'Voices', :at)"), at)
        connection.execute(text("INSERT INTO performers (id, name, agency_id, created_at) VALUES "
                                "(1, 'Ada', 2, :at), (2, 'Bo', NULL, :at)"), at)
    open_database(database_url)
    with make_engine(database_url).connect() as connection:
        assert connection.execute(text("SELECT id, agency_id FROM performers ORDER BY id")).all() == [(1, 2), (2, 1)]
        assert connection.execute(text("SELECT count(*) FROM agencies")).scalar() == 2


def test_a_voice_detections_curve_moves_out_of_its_details(database_url):
    import json

    from monitor.storage.models import Detection

    _at_revision(database_url, "0009")
    with make_engine(database_url).begin() as connection:
        at = {"at": datetime.now(UTC), "sha": "ab" * 32}
        for statement in ("INSERT INTO agencies (id, name, created_at) VALUES (1, 'Stars', :at)",
                          "INSERT INTO performers (id, name, agency_id, created_at) VALUES (1, 'Ada', 1, :at)",
                          "INSERT INTO media (id, sha256, size_bytes, first_seen_at) VALUES (1, :sha, 10, :at)"):
            connection.execute(text(statement), at)
        connection.execute(text(
            "INSERT INTO detections (id, agency_id, performer_id, media_id, modality, score, similarity, threshold, "
            "segments, details, model_version, status, created_at, updated_at) VALUES (1, 1, 1, 1, 'voice', 0.9, "
            "0.8, 0.5, '[]', :details, 'm', 'new', :at, :at)"),
            at | {"details": json.dumps({"tier": "same_voice", "curve": [[1.6, 0.9], [3.2, 0.95]]})})
    sessions = open_database(database_url)
    with sessions() as session:
        detection = session.get(Detection, 1)
        assert detection.details == {"tier": "same_voice"} and detection.curve == [[1.6, 0.9], [3.2, 0.95]]


def test_a_detection_is_marked_sighted_where_its_agency_found_the_media(database_url):
    _at_revision(database_url, "0010")
    with make_engine(database_url).begin() as connection:
        at = {"at": datetime.now(UTC)}
        for statement in ("INSERT INTO agencies (id, name, created_at) VALUES (1, 'Stars', :at), (2, 'Voices', :at)",
                          "INSERT INTO performers (id, name, agency_id, created_at) VALUES (1, 'Ada', 1, :at), "
                          "(2, 'Bea', 2, :at)",
                          "INSERT INTO media (id, sha256, size_bytes, first_seen_at) VALUES (1, :sha, 10, :at)",
                          "INSERT INTO sightings (agency_id, media_id, source, first_seen_at, last_seen_at) "
                          "VALUES (1, 1, 'https://stars.example/a.mp3', :at, :at)"):
            connection.execute(text(statement), at | {"sha": "ab" * 32})
        connection.execute(text(
            "INSERT INTO detections (id, agency_id, performer_id, media_id, modality, score, similarity, threshold, "
            "segments, model_version, status, created_at, updated_at) VALUES "
            "(1, 1, 1, 1, 'voice', 0.9, 0.8, 0.5, '[]', 'm', 'new', :at, :at), "
            "(2, 2, 2, 1, 'voice', 0.9, 0.8, 0.5, '[]', 'm', 'new', :at, :at)"), at)
    open_database(database_url)
    with make_engine(database_url).connect() as connection:
        assert connection.execute(text("SELECT id, sighted FROM detections ORDER BY id")).all() == [(1, True),
                                                                                                     (2, False)]
