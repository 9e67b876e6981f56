"""Scanning: every container, voice and face, segments in time, each content analysed once."""

from __future__ import annotations

import http.server
import threading
from functools import partial

import numpy as np
import pytest
from sqlalchemy import select

from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE, TEXTS, synthesise, write_audio, write_video
from monitor.storage.db import open_database
from monitor.storage.models import Media, Sighting

pytestmark = pytest.mark.slow

DETECTION_KEYS = {"id", "performer_id", "performer_name", "modality", "score", "similarity", "media", "segments",
                  "status", "created_at", "credentials_text", "allowed_by_rule_id", "reupload_of"}
# a voice adds these
VOICE_KEYS = DETECTION_KEYS | {"tier", "normalised_score", "population", "population_text", "chance", "chance_text"}


@pytest.fixture
def ada(make_performer, make_speech) -> int:
    return make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])


@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".ogg", ".webm", ".flac"])
def test_a_performer_speaking_in_any_container_is_detected(likeness, ada, make_speech, suffix):
    found = make_speech("found", texts=(1,), suffix=suffix)
    result = likeness("scan", found, "--json")
    assert result.exit_code == 0, result.stderr
    [row] = result.json
    assert row["media_type"] == "audio" and row["error"] is None and 8 < row["duration_s"] < 20
    [detection] = row["detections"]
    assert set(detection) == VOICE_KEYS
    assert detection["performer_id"] == ada and detection["modality"] == "voice"
    assert detection["tier"] == "same_voice" and detection["population"]["compared"] >= 124
    assert detection["population_text"].startswith("closer to Ada")
    assert detection["chance"]["performers"] == 1 and detection["chance"]["per_file"] < 0.01
    assert detection["chance_text"].startswith("a stranger's voice reaches this in about 1 of ")
    assert detection["chance_text"].endswith("files like this one against your performer")
    assert detection["score"] >= 0.5 and detection["status"] == "new"
    assert detection["media"] == {"sha256": row["sha256"], "source": str(found), "media_type": "audio",
                                  "duration_s": row["duration_s"], "content_credentials": None}
    [segment] = detection["segments"]
    assert segment["start_s"] < 1.5 and segment["end_s"] > row["duration_s"] - 2.5


def test_another_voice_is_not_detected_but_the_near_miss_is_shown(likeness, ada, make_speech):
    [row] = likeness("scan", make_speech("stranger", voice=OTHER_VOICE, texts=(1,)), "--json").json
    assert row["detections"] == []
    [closest] = row["closest"]
    assert closest["performer_id"] == ada and closest["modality"] == "voice"
    assert 0 <= closest["score"] < 0.5 and closest["similarity"] < 0.8


def test_a_performer_inside_a_longer_conversation_is_found_with_timestamps(likeness, ada, tmp_path):
    other_before = synthesise(TEXTS[3] + " " + TEXTS[2], OTHER_VOICE)
    performer = synthesise(TEXTS[1], "en-us+f4")
    other_after = synthesise(TEXTS[0], OTHER_VOICE)
    pause = np.zeros(8000, np.float32)
    start_s = (other_before.size + pause.size) / 16_000
    end_s = start_s + performer.size / 16_000
    path = write_audio(tmp_path / "conversation.mp3", np.concatenate([other_before, pause, performer, pause,
                                                                      other_after]))
    [row] = likeness("scan", path, "--json").json
    [detection] = row["detections"]
    segment = max(detection["segments"], key=lambda s: s["end_s"] - s["start_s"])
    assert abs(segment["start_s"] - start_s) < 2.0
    assert abs(segment["end_s"] - end_s) < 2.0


def test_faces_and_voice_in_a_video_are_both_detected(likeness, make_performer, make_speech, grace_hopper_path,
                                                       tmp_path):
    from PIL import Image

    performer_id = make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))],
                                  face=[grace_hopper_path])
    face = np.asarray(Image.open(grace_hopper_path).convert("RGB").resize((320, 376)))
    blank = np.full_like(face, 90)
    frames = [blank] * 6 + [face] * 8 + [blank] * 6  # 2 fps: the face is on screen from 3 s to 7 s
    speech = synthesise(TEXTS[1], "en-us+f4")
    video = write_video(tmp_path / "clip.mp4", frames, fps=2, audio=speech)

    [row] = likeness("scan", video, "--json").json
    assert row["media_type"] == "video", row
    by_modality = {d["modality"]: d for d in row["detections"]}
    assert set(by_modality) == {"voice", "face"}
    assert {d["performer_id"] for d in row["detections"]} == {performer_id}
    [face_segment] = by_modality["face"]["segments"]
    assert face_segment["start_s"] == pytest.approx(3.0, abs=1.01)
    assert face_segment["end_s"] == pytest.approx(6.5, abs=1.01)


def test_a_photo_of_the_performer_is_a_face_detection(likeness, make_performer, grace_hopper_path, astronaut_path):
    make_performer("Grace Hopper", face=[grace_hopper_path])
    rows = likeness("scan", grace_hopper_path, astronaut_path, "--json").json
    assert [len(row["detections"]) for row in rows] == [1, 0]
    assert rows[0]["detections"][0]["segments"] == [{"start_s": 0.0, "end_s": 0.0,
                                                    "score": rows[0]["detections"][0]["score"]}]
    assert rows[1]["closest"][0]["score"] < 0.5


def test_identical_content_is_analysed_once_and_every_sighting_kept(likeness, ada, make_speech, tmp_path):
    first = make_speech("found", texts=(1,))
    copy = tmp_path / "renamed-copy.wav"
    copy.write_bytes(first.read_bytes())
    [before] = likeness("scan", first, "--json").json
    sessions = open_database(load_config().database_url)
    with sessions() as session:
        analysed_at = session.scalar(select(Media.analysed_at))

    [after] = likeness("scan", copy, "--json").json
    assert after["detections"][0]["id"] == before["detections"][0]["id"]
    assert after["detections"][0]["media"]["source"] == str(copy)
    with sessions() as session:
        assert session.scalar(select(Media.analysed_at)) == analysed_at
        assert sorted(session.scalars(select(Sighting.source))) == sorted([str(first), str(copy)])


def test_media_scanned_before_a_performer_enrolled_is_checked_again_for_them(likeness, make_performer, make_speech):
    found = make_speech("found", texts=(1,))
    assert likeness("scan", found, "--json").json[0]["detections"] == []
    performer_id = make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    [row] = likeness("scan", found, "--json").json
    assert [d["performer_id"] for d in row["detections"]] == [performer_id]


def test_a_url_is_downloaded_into_the_store_and_scanned(likeness, ada, make_speech, monkeypatch):
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "127.0.0.1")  # a loopback address must be allowed explicitly
    found = make_speech("found", texts=(1,), suffix=".mp3")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(found.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{found.name}"
        [row] = likeness("scan", url, "--json").json
    finally:
        server.shutdown()
    assert row["source"] == url and row["error"] is None
    assert row["detections"][0]["media"]["source"] == url
    assert (load_config().store_dir / row["sha256"][:2] / row["sha256"][2:4] / row["sha256"]).is_file()


def test_detections_are_listed_filtered_and_reviewed(likeness, ada, make_speech):
    [row] = likeness("scan", make_speech("found", texts=(1,)), "--json").json
    detection_id = row["detections"][0]["id"]
    listed = likeness("detections", "list", "--performer", ada, "--json").json
    assert [d["id"] for d in listed] == [detection_id]
    assert set(listed[0]) == VOICE_KEYS

    reviewed = likeness("detections", "review", detection_id, "confirmed", "--note", "cloned assistant", "--by",
                        "Legal", "--json")
    assert reviewed.exit_code == 0 and reviewed.json["status"] == "confirmed"
    assert likeness("detections", "list", "--status", "new", "--json").json == []
    assert [d["id"] for d in likeness("detections", "list", "--status", "confirmed", "--json").json] == [detection_id]

    missing = likeness("detections", "review", "999", "dismissed")
    assert missing.exit_code == 1 and missing.stderr.strip() == "error: no detection with id 999 (see `likeness " \
                                                                   "detections list`)"
