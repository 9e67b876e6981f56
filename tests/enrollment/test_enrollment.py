"""Enrolment: consent first, one accepted reference per good file, a voiceprint per performer."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import func, select

from enrollment.agencies import agency_for
from enrollment.models import Consent, FaceReference, Performer, Voiceprint, VoiceReference, from_blob
from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE
from monitor.storage.db import open_database
from monitor.storage.models import Detection

pytestmark = pytest.mark.slow


def _count(model) -> int:
    with open_database(load_config().database_url)() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_a_performer_is_added_with_contacts_agency_and_consent(likeness, tmp_path):
    form = tmp_path / "consent.pdf"
    form.write_bytes(b"%PDF-1.4 signed consent")
    added = likeness("performer", "add", "Ada Voice", "--email", "ada@example.org", "--email", "agent@example.org",
                     "--agency", "Stars Ltd", "--consent-by", "Ada Voice", "--consent-document", form, "--json")
    assert added.exit_code == 0, added.stderr
    assert added.json == {"id": 1, "name": "Ada Voice"}

    [listed] = likeness("performer", "list", "--json").json
    assert listed["emails"] == ["ada@example.org", "agent@example.org"]
    assert listed["agency"] == "Stars Ltd"
    assert listed["consents"][0]["by"] == "Ada Voice"
    import hashlib

    assert listed["consents"][0]["document_sha256"] == hashlib.sha256(form.read_bytes()).hexdigest()


def test_consent_is_required_to_add_a_performer(likeness):
    result = likeness("performer", "add", "Ada Voice")
    assert result.exit_code != 0
    assert "--consent-by" in result.stderr


def test_no_reference_is_stored_without_a_recorded_consent(likeness, make_speech):
    likeness("init")
    with open_database(load_config().database_url).begin() as session:
        session.add(Performer(name="No Consent", agency=agency_for(session)))
    result = likeness("enroll", "voice", "1", make_speech("clip"))
    assert result.exit_code == 1
    assert "no recorded consent" in result.stderr and "likeness performer consent 1 --by" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert _count(VoiceReference) == 0

    assert likeness("performer", "consent", "1", "--by", "No Consent").exit_code == 0
    assert likeness("enroll", "voice", "1", make_speech("clip")).exit_code == 0
    assert _count(VoiceReference) == 1


def test_voice_clips_are_embedded_and_averaged_into_one_voiceprint(likeness, make_performer, make_speech):
    performer_id = make_performer("Ada Voice")
    first, second = make_speech("one", texts=(0,)), make_speech("two", texts=(1,), suffix=".mp3")
    result = likeness("enroll", "voice", performer_id, first, second, "--json")
    assert result.exit_code == 0, result.stderr
    assert [row["accepted"] for row in result.json] == [True, True]
    assert all(row["reason"] is None and row["speech_s"] > 5 for row in result.json)

    with open_database(load_config().database_url)() as session:
        references = session.scalars(select(VoiceReference)).all()
        voiceprint = session.get(Voiceprint, performer_id)
        assert voiceprint.n_clips == 2
        clip_embeddings = np.stack([from_blob(ref.embedding) for ref in references])
        assert clip_embeddings.shape == (2, 256)
        expected = clip_embeddings.mean(axis=0)
        np.testing.assert_allclose(from_blob(voiceprint.embedding), expected / np.linalg.norm(expected), atol=1e-6)
        assert references[0].model_version.startswith("resemblyzer 0.1.4 weights:")
        assert references[0].quality["speech_s"] > 5


def test_the_same_recording_is_not_enrolled_twice(likeness, make_performer, make_speech):
    performer_id = make_performer("Ada Voice")
    clip = make_speech("clip")
    assert likeness("enroll", "voice", performer_id, clip).exit_code == 0
    again = likeness("enroll", "voice", performer_id, clip, "--json")
    assert again.exit_code == 1
    assert again.json[0]["reason"] == "this recording is already enrolled for this performer"


def test_a_photo_with_one_face_gives_one_128d_reference(likeness, make_performer, grace_hopper_path):
    performer_id = make_performer("Grace Hopper")
    result = likeness("enroll", "face", performer_id, grace_hopper_path, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json == [{"file": str(grace_hopper_path), "accepted": True, "reason": None, "speech_s": None}]
    with open_database(load_config().database_url)() as session:
        [reference] = session.scalars(select(FaceReference)).all()
        assert from_blob(reference.embedding).shape == (128,)
        assert reference.face_px >= 80


def test_several_faces_are_refused_unless_the_largest_is_picked(home, likeness, make_performer, astronaut_path):
    """With the HOG detector, which also finds a patch on the astronaut's suit (YuNet: the next test)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[face]\ndetector = "hog"\n')
    performer_id = make_performer("Eileen Collins")
    refused = likeness("enroll", "face", performer_id, astronaut_path, "--json")
    assert refused.exit_code == 1
    assert "faces found; use --pick largest" in refused.json[0]["reason"]
    picked = likeness("enroll", "face", performer_id, astronaut_path, "--pick", "largest", "--json")
    assert picked.exit_code == 0 and picked.json[0]["accepted"]


def test_a_photo_of_two_people_is_refused_unless_the_largest_face_is_picked(likeness, make_performer,
                                                                           two_people_path):
    performer_id = make_performer("Grace Hopper")
    refused = likeness("enroll", "face", performer_id, two_people_path, "--json")
    assert refused.exit_code == 1
    assert refused.json[0]["reason"] == "2 faces found; use --pick largest to enrol the largest"
    picked = likeness("enroll", "face", performer_id, two_people_path, "--pick", "largest", "--json")
    assert picked.exit_code == 0 and picked.json[0]["accepted"]
    with open_database(load_config().database_url)() as session:
        [reference] = session.scalars(select(FaceReference)).all()
        assert reference.quality["box"][3] >= 512  # hers, on the right


def test_removing_a_performer_erases_every_reference_embedding_and_detection(
    likeness, make_performer, make_speech, grace_hopper_path
):
    ada = make_performer("Ada Voice", voice=[make_speech("ref", texts=(0,))], face=[grace_hopper_path])
    other = make_performer("Other Voice", voice=[make_speech("other", voice=OTHER_VOICE, texts=(0,))])
    assert likeness("scan", make_speech("found", texts=(1,)), "--json").json[0]["detections"]
    assert _count(Detection) == 1

    assert likeness("performer", "remove", ada).exit_code == 0
    assert [row["id"] for row in likeness("performer", "list", "--json").json] == [other]
    assert _count(VoiceReference) == 1 and _count(FaceReference) == 0 and _count(Voiceprint) == 1
    assert _count(Consent) == 1 and _count(Detection) == 0
    assert "no performer with id" in likeness("performer", "remove", ada).stderr


@pytest.mark.parametrize("suffix", [".wav", ".mp3"])
def test_a_span_of_a_recording_decodes_to_the_same_samples_as_the_whole(make_speech, suffix):
    from enrollment.media import decode_audio, decode_audio_span

    limits = load_config().media
    path = make_speech("long", texts=(0, 1), suffix=suffix)
    whole = decode_audio(path, limits)
    span = decode_audio_span(path, 2.5, 4.0, limits)
    assert span.size == 24_000 and np.array_equal(span, whole[40_000:64_000])
    assert decode_audio_span(path, whole.size / 16_000 + 5, whole.size / 16_000 + 6, limits).size == 0
