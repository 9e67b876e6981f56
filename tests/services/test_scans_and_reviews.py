"""Scanning and reviewing through the service layer: the custody log and the review name who acted."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from enrollment.errors import LikenessError, NotFound
from monitor.services import detections, performers, scans
from monitor.services.context import Actor, Context
from monitor.storage import custody
from monitor.storage.models import Detection, Media, Review, Sighting


def test_a_scan_returns_the_cli_rows_and_its_custody_entries_name_the_actor(ctx, make_speech):
    warnings, done = [], []
    clip = make_speech("clip")
    rows = scans.scan(ctx, [str(clip), str(clip.parent / "missing.wav")], on_done=done.append,
                      on_warning=warnings.append)
    assert [row["source"] for row in rows] == [str(clip.resolve()), str((clip.parent / "missing.wav").resolve())]
    assert rows[0]["error"] is None and rows[0]["media_type"] == "audio" and rows[0]["detections"] == []
    assert rows[1]["error"] and set(rows[1]) == set(rows[0])
    assert warnings == [scans.NO_REFERENCES] and len(done) == 2
    with ctx.sessions() as session:
        media = session.scalar(select(Media))
        entries = custody.chain_of(session, media.id, ctx.acting_agency_id())
    assert [entry["event"] for entry in entries] == ["read", "hashed", "analysed"]
    assert {entry["actor"] for entry in entries} == {"ada@agency.example"}


def _detection(ctx: Context) -> int:
    """A stored detection of a media the agency found, as a scan would have written it (no models needed)."""
    performer_id = performers.add_performer(ctx, "Ada Voice", "Ada Voice")["id"]
    agency_id = ctx.acting_agency_id()
    with ctx.sessions.begin() as session:
        media = Media(sha256="ab" * 32, size_bytes=10, media_type="audio", duration_s=12.5)
        session.add(media)
        session.flush()
        session.add(Sighting(agency_id=agency_id, media_id=media.id, source="https://example.org/clip.mp3"))
        detection = Detection(agency_id=agency_id, performer_id=performer_id, media_id=media.id, modality="voice",
                              score=0.91, similarity=0.83, segments=[{"start_s": 1.0, "end_s": 4.0}], threshold=0.6,
                              model_version="test", sighted=True)
        session.add(detection)
        session.flush()
        return detection.id


def test_a_review_records_the_decision_and_the_actor_in_one_transaction(ctx):
    detection_id = _detection(ctx)
    reviewed = detections.review(ctx, detection_id, "confirmed", "a clone in an ad")
    assert reviewed["id"] == detection_id and reviewed["status"] == "confirmed"
    assert detections.list_detections(ctx, status="confirmed") == [reviewed]
    assert detections.list_detections(ctx, status="new") == []
    with ctx.sessions() as session:
        review = session.scalar(select(Review))
        [entry] = custody.chain_of(session, session.get(Detection, detection_id).media_id, ctx.acting_agency_id())
    assert review.reviewed_by == "ada@agency.example" and review.note == "a clone in an ad"
    assert entry["event"] == "reviewed" and entry["actor"] == "ada@agency.example"


def test_a_reviewer_named_by_the_front_end_is_recorded_instead(ctx):
    detection_id = _detection(ctx)
    cli = Context(ctx.config, Actor.local(), _sessions=ctx.sessions)
    detections.review(cli, detection_id, "authorized", reviewed_by="legal-team")
    with ctx.sessions() as session:
        assert session.scalar(select(Review.reviewed_by)) == "legal-team"


def test_a_review_of_nothing_or_to_no_status_changes_nothing(ctx):
    detection_id = _detection(ctx)
    with pytest.raises(NotFound, match="no detection with id 404"):
        detections.review(ctx, 404, "dismissed")
    with pytest.raises(LikenessError, match="status must be one of"):
        detections.review(ctx, detection_id, "maybe")
    assert detections.list_detections(ctx)[0]["status"] == "new"


@pytest.mark.slow
def test_a_face_detection_shows_the_face_found_next_to_the_reference(ctx, grace_hopper_path):
    import io

    from PIL import Image

    performer_id = performers.add_performer(ctx, "Grace Hopper", "Grace Hopper")["id"]
    performers.enrol_face(ctx, performer_id, [grace_hopper_path])
    [row] = scans.scan(ctx, [str(grace_hopper_path)])
    [detection] = row["detections"]
    pair = detections.detection_picture(ctx, detection["id"], "faces")
    assert pair.startswith(b"\xff\xd8") and Image.open(io.BytesIO(pair)).width >= 2 * 100
    with pytest.raises(NotFound, match="no key-frame picture"):  # a photo has no frames
        detections.detection_picture(ctx, detection["id"], "key-frame")
