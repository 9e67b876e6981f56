"""A scanned file's Content Credentials: in its scan row, on its detections, in alerts and evidence reports."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.support.content_credentials import sign

pytestmark = pytest.mark.slow


@pytest.fixture
def trusting_home(home, likeness, credentials_pki):
    assert likeness("init").exit_code == 0
    with open(home / "config.toml", "a") as config:
        config.write(f'\n[credentials]\ntrust_anchors = "{credentials_pki.root_pem}"\n')
    return home


def test_an_ai_made_photo_of_a_performer_is_a_detection_that_says_it_was_declared_ai_made(
        trusting_home, likeness, make_performer, credentials_pki, grace_hopper_path, tmp_path):
    make_performer("Grace Hopper", face=[grace_hopper_path])
    made = sign(credentials_pki, grace_hopper_path, tmp_path / "made.jpg", generator="Portrait Maker")

    [row] = likeness("scan", made, "--json").json

    credentials = row["content_credentials"]
    assert credentials["validation_state"] == "trusted" and credentials["ai_generated"] is True
    assert credentials["claim_generator"] == "Portrait Maker 1.0"
    [detection] = row["detections"]
    assert detection["media"]["content_credentials"] == credentials
    assert detection["credentials_text"] == (
        "Content Credentials signed by Test Generator (Likeness tests), a signer your trust anchors vouch for, "
        "declare it AI-generated (trainedAlgorithmicMedia)")
    listed = likeness("detections", "list", "--json").json
    assert listed[0]["credentials_text"] == detection["credentials_text"]
    assert "declare it AI-generated" in likeness("scan", made).stdout  # reused, and said in words too


def test_files_without_credentials_say_null(likeness, make_performer, make_speech, grace_hopper_path):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])

    rows = likeness("scan", make_speech("clip", texts=(1,)), grace_hopper_path, "--json").json

    assert [row["content_credentials"] for row in rows] == [None, None]


def test_a_declared_ai_voice_clip_keeps_its_reading_in_the_evidence_report(
        trusting_home, likeness, make_performer, make_speech, credentials_pki, tmp_path):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    clip = sign(credentials_pki, make_speech("clip", texts=(1,)), tmp_path / "made.wav")
    [detection] = likeness("scan", clip, "--json").json[0]["detections"]
    bundle = tmp_path / "bundle.zip"

    assert likeness("evidence", "export", detection["id"], "-o", bundle).exit_code == 0

    with zipfile.ZipFile(bundle) as members:
        report = members.read("report.html").decode()
        analysis = json.loads(members.read("analysis.json"))
    assert "Provenance" in report and "declare it AI-generated (trainedAlgorithmicMedia)" in report
    assert analysis["detections"][0]["media"]["content_credentials"]["validation_state"] == "trusted"


def test_a_clip_edited_after_signing_is_reported_as_failing_its_check(
        trusting_home, likeness, make_performer, make_speech, credentials_pki, tmp_path):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 2))])
    clip = sign(credentials_pki, make_speech("clip", texts=(1,)), tmp_path / "made.wav")
    data = bytearray(clip.read_bytes())
    data[len(data) // 2] ^= 0x01  # one sample's lowest bit: inaudible, but not the signed bytes
    clip.write_bytes(bytes(data))

    [row] = likeness("scan", clip, "--json").json

    assert row["content_credentials"]["validation_state"] == "invalid"
    assert row["detections"][0]["credentials_text"].startswith(
        "Content Credentials that fail their check (assertion.dataHash.mismatch")


def test_unreadable_trust_anchors_stop_a_scan_with_one_line_naming_the_setting(likeness, home, grace_hopper_path):
    assert likeness("init").exit_code == 0
    with open(home / "config.toml", "a") as config:
        config.write('\n[credentials]\ntrust_anchors = "/nonexistent/anchors.pem"\n')

    refused = likeness("scan", grace_hopper_path)

    assert refused.exit_code != 0 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "credentials.trust_anchors /nonexistent/anchors.pem" in refused.stderr
