"""Performers through the service layer: plain data back, every change told with its actor."""

from __future__ import annotations

import logging

import pytest

from enrollment.errors import LikenessError, NotFound
from monitor.services import performers


def audit_records(caplog) -> list[dict]:
    return [record.audit for record in caplog.records if record.name == "monitor.audit"]


def test_adding_listing_and_removing_a_performer_returns_the_cli_json(ctx, caplog, tmp_path):
    caplog.set_level(logging.INFO, logger="monitor.audit")
    form = tmp_path / "consent.pdf"
    form.write_bytes(b"%PDF-1.4 signed")
    added = performers.add_performer(ctx, "Ada Voice", "Ada Voice", ("ada@example.org",), "Stage & Screen", form)
    assert added == {"id": added["id"], "name": "Ada Voice"}
    [row] = performers.list_performers(ctx)
    assert row["name"] == "Ada Voice" and row["agency"] == "Stage & Screen" and row["emails"] == ["ada@example.org"]
    assert row["voice_clips"] == 0 and row["face_photos"] == 0 and row["consents"][0]["by"] == "Ada Voice"
    assert row["consents"][0]["document_sha256"] is not None
    assert performers.remove_performer(ctx, added["id"]) == {"id": added["id"], "removed": True}
    assert performers.list_performers(ctx) == []
    actions = [(entry["action"], entry["actor"], entry["actor_kind"]) for entry in audit_records(caplog)]
    assert actions == [("performer.add", "ada@agency.example", "web"),
                       ("performer.remove", "ada@agency.example", "web")]


def test_a_further_consent_is_recorded_and_told(ctx, caplog):
    caplog.set_level(logging.INFO, logger="monitor.audit")
    added = performers.add_performer(ctx, "Bo Face", "Bo's agent")
    assert performers.record_consent(ctx, added["id"], "Bo Face") == {"performer_id": added["id"],
                                                                       "consented_by": "Bo Face"}
    assert [c["by"] for c in performers.list_performers(ctx)[0]["consents"]] == ["Bo's agent", "Bo Face"]
    assert audit_records(caplog)[-1]["action"] == "performer.consent"


def test_unknown_performers_and_bad_names_are_one_line_errors(ctx):
    with pytest.raises(NotFound, match="no performer with id 99"):
        performers.remove_performer(ctx, 99)
    with pytest.raises(LikenessError):
        performers.add_performer(ctx, "   ", "someone")


def test_a_refused_reference_is_reported_with_the_file_as_given_and_stops_nothing(ctx, tmp_path):
    added = performers.add_performer(ctx, "Cy", "Cy")
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not a recording")
    refused = []
    rows = performers.enrol_voice(ctx, added["id"], [str(not_audio), str(not_audio)],
                                  on_refused=lambda file, reason: refused.append(file))
    assert [row["accepted"] for row in rows] == [False, False] and refused == [str(not_audio)] * 2
    assert performers.list_performers(ctx)[0]["voice_clips"] == 0
