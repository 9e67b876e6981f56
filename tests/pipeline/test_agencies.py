"""Two agencies scan the same bytes: one analysis, and each is told only of its own performers, in its own chain."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from enrollment.models import Agency
from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE
from monitor.storage.custody import chain_of
from monitor.storage.db import open_database
from monitor.storage.models import Alert, Media

pytestmark = pytest.mark.slow


def _chain(sha256: str, agency: str) -> list[dict]:
    with open_database(load_config().database_url)() as session:
        media = session.scalar(select(Media).where(Media.sha256 == sha256))
        return chain_of(session, media.id, session.scalar(select(Agency.id).where(Agency.name == agency)))


def test_the_same_file_is_analysed_once_and_each_agency_sees_only_its_own(likeness, make_performer, make_speech):
    ada = make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))], agency="Stars",
                         email="ada@stars.example")
    make_performer("Bea Voice", voice=[make_speech("bea", voice=OTHER_VOICE, texts=(0, 2))], agency="Voices")
    found = make_speech("found", texts=(1,))

    [by_voices] = likeness("scan", found, "--agency", "Voices", "--json").json
    assert by_voices["error"] is None and by_voices["detections"] == []  # Ada is Stars' performer
    assert {c["performer_name"] for c in by_voices["closest"]} == {"Bea Voice"}  # Ada is no near miss of theirs
    assert likeness("detections", "list", "--agency", "Voices", "--json").json == []
    assert likeness("alerts", "list", "--agency", "Stars", "--json").json == []  # Stars has not found it yet

    [by_stars] = likeness("scan", found, "--agency", "Stars", "--json").json
    [detection] = by_stars["detections"]
    assert detection["performer_id"] == ada and by_stars["sha256"] == by_voices["sha256"]
    # its chance is told against Stars' one performer: two were compared, and Voices' number is not Stars' to know
    assert detection["chance"]["performers"] == 1 and detection["chance_text"].endswith("against your performer")
    [alert] = likeness("alerts", "list", "--agency", "Stars", "--json").json
    assert alert["performer_id"] == ada

    stars_chain, voices_chain = _chain(by_stars["sha256"], "Stars"), _chain(by_stars["sha256"], "Voices")
    assert [entry["event"] for entry in voices_chain] == ["read", "hashed", "analysed"]
    assert voices_chain[-1]["details"]["detections"] == []
    assert [entry["event"] for entry in stars_chain] == ["read", "hashed", "analysed"]
    assert stars_chain[-1]["details"]["reused"] is True  # analysed once, for Voices; Stars is told of it
    assert [d["performer_id"] for d in stars_chain[-1]["details"]["detections"]] == [ada]
    with open_database(load_config().database_url)() as session:
        assert len(session.scalars(select(Alert)).all()) == 1
