"""`likeness evidence export|verify` end to end: from a real crawl of a loopback site to a verified bundle."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from monitor.storage.chain import chain_problems

pytestmark = pytest.mark.slow


@pytest.fixture
def detection(likeness, site, clone_mp3) -> dict:
    """A crawl found the performer's voice in an mp3 linked from a page; its DETECTION."""
    assert likeness("init").exit_code == 0
    site.add("/demo.html", '<html><head><title>Our new voices</title></head><body><audio src="/voice.mp3"></audio>'
             "</body></html>")
    site.add("/voice.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/demo.html", "--json").exit_code == 0
    [found] = likeness("crawl", "--json").json["detections"]
    return found


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_a_crawled_detection_exports_to_a_bundle_that_verifies(likeness, detection, clone_mp3, tmp_path, site):
    bundle = tmp_path / "bundle.zip"
    exported = likeness("evidence", "export", detection["id"], "-o", bundle, "--json")
    assert exported.exit_code == 0, exported.stderr
    verified = likeness("evidence", "verify", bundle, "--json")
    assert verified.exit_code == 0, verified.stderr
    assert verified.json["ok"] and verified.json["fingerprint"] == exported.json["fingerprint"]

    files = _members(bundle)
    sha256 = detection["media"]["sha256"]
    assert files[f"media/{sha256}.mp3"] == clone_mp3  # the evidentiary copy, byte for byte, once
    assert sum(len(data) for data in files.values() if clone_mp3 in data) == len(clone_mp3)
    manifest = json.loads(files["manifest.json"])
    roles = {m["name"]: m["role"] for m in manifest["members"]}
    assert roles[f"media/{sha256}.mp3"] == "evidence" and roles["analysis.json"] == "analysis"
    assert roles[f"custody/{sha256}.jsonl"] == "custody" and roles["report.html"] == "report"
    excerpt = next(m for m in manifest["members"] if m["name"].endswith("-excerpt.wav"))
    assert excerpt["role"] == "derived" and excerpt["derived_from"] == f"media/{sha256}.mp3" and excerpt["how"]

    warc = files[f"capture/{sha256}.warc.gz"]
    import io

    from warcio.archiveiterator import ArchiveIterator

    records = [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(io.BytesIO(warc))]
    assert ("response", f"{site.url}/demo.html") in records and ("request", f"{site.url}/voice.mp3") in records
    assert ("revisit", f"{site.url}/voice.mp3") in records  # the media's response, its payload being media/…

    custody = files[f"custody/{sha256}.jsonl"].splitlines()
    assert chain_problems(custody) == []
    assert [json.loads(line)["event"] for line in custody] == ["fetched", "hashed", "analysed", "exported"]
    analysis = json.loads(files["analysis.json"])
    assert analysis["detections"][0]["id"] == detection["id"] and "resemblyzer" in analysis["models"]["voice"]
    assert analysis["references_compared"]["voice"][0]["source_sha256"]  # by hash, never the embedding
    assert b"embedding" not in files["analysis.json"]
    report = files["report.html"].decode()
    assert "Ada Voice" in report and "exported" in report
    assert all(f"src=\"{name}\"" in report for name in roles if name.startswith("report/"))
    assert sha256 in files["DECLARATION.txt"].decode() and "VERIFY.txt" in roles and "SHA256SUMS" in roles


def test_a_changed_byte_fails_verification_naming_the_file(likeness, detection, tmp_path):
    bundle = tmp_path / "bundle.zip"
    assert likeness("evidence", "export", detection["id"], "-o", bundle).exit_code == 0
    files = _members(bundle)
    name = f"media/{detection['media']['sha256']}.mp3"
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data[:100] + bytes([data[100] ^ 1]) + data[101:] if member == name else data)
    failed = likeness("evidence", "verify", tampered)
    assert failed.exit_code == 1 and name in failed.stderr and len(failed.stderr.strip().splitlines()) == 1


def test_exporting_twice_gives_the_same_manifest_but_for_the_export_event(likeness, detection, tmp_path):
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    for bundle in (first, second):
        assert likeness("evidence", "export", detection["id"], "-o", bundle).exit_code == 0
    manifests = [json.loads(_members(bundle)["manifest.json"]) for bundle in (first, second)]
    changed = {a["name"] for a, b in zip(manifests[0]["members"], manifests[1]["members"], strict=True) if a != b}
    assert changed <= {f"custody/{detection['media']['sha256']}.jsonl", "report.html", "SHA256SUMS"}
    assert likeness("evidence", "export", detection["id"], "-o", first).exit_code == 1  # never overwritten silently


def test_bad_ids_and_missing_media_give_one_line_and_no_bundle(likeness, detection, tmp_path, home):
    bundle = tmp_path / "bundle.zip"
    unknown = likeness("evidence", "export", "999", "-o", bundle)
    assert unknown.exit_code == 1 and "no detection with id 999" in unknown.stderr and not bundle.exists()
    sha256 = detection["media"]["sha256"]
    (home / "store" / sha256[:2] / sha256[2:4] / sha256).unlink()
    gone = likeness("evidence", "export", detection["id"], "-o", bundle)
    assert gone.exit_code == 1 and "gone from the store" in gone.stderr and not bundle.exists()
    assert list(tmp_path.glob("*bundle*")) == []


def test_a_configured_timestamp_authority_timestamps_the_manifest(likeness, detection, tmp_path, home,
                                                                   tsa):
    (home / "config.toml").write_text((home / "config.toml").read_text()
                                      + f'\n[evidence]\ntimestamp_urls = ["{tsa.url}"]\n')
    bundle = tmp_path / "bundle.zip"
    assert likeness("evidence", "export", detection["id"], "-o", bundle).exit_code == 0
    assert "manifest.json.tsr" in _members(bundle)
    verified = likeness("evidence", "verify", bundle, "--tsa-roots", tsa.pki.ca_pem, "--json")
    assert verified.exit_code == 0 and verified.json["ok"], verified.stderr
    other_root = tmp_path / "other.pem"
    other_root.write_bytes(_other_root_pem())
    refused = likeness("evidence", "verify", bundle, "--tsa-roots", other_root)
    assert refused.exit_code == 1 and "manifest.json.tsr" in refused.stderr


def _other_root_pem() -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.support.tsa import make_certificate, pem

    key = ec.generate_private_key(ec.SECP256R1())
    return pem(make_certificate("Someone Else Root CA", key, None, key, ca=True))


def test_a_video_bundle_holds_the_key_frame_and_the_found_face_and_both_models_weights(likeness, make_performer,
                                                                                        make_speech, grace_hopper_path,
                                                                                        tmp_path):
    import numpy as np
    from PIL import Image

    from monitor.demo.synthetic import synthesise, write_video

    likeness("init")
    make_performer("Grace Face", face=[grace_hopper_path], voice=[make_speech("reference", texts=(0, 2))])
    face = np.asarray(Image.open(grace_hopper_path).convert("RGB").resize((320, 376)))
    frames = [np.full_like(face, 90)] * 4 + [face] * 4
    video = write_video(tmp_path / "ad.mp4", frames, fps=2, audio=synthesise("Hello there, this is a test.",
                                                                              "en+m7"))
    [row] = likeness("scan", video, "--json").json
    [detection] = [d for d in row["detections"] if d["modality"] == "face"]
    bundle = tmp_path / "bundle.zip"
    assert likeness("evidence", "export", detection["id"], "-o", bundle).exit_code == 0
    assert likeness("evidence", "verify", bundle).exit_code == 0
    files = _members(bundle)
    stem = f"derived/detection-{detection['id']}"
    with Image.open(io.BytesIO(files[f"{stem}-key-frame.jpg"])) as frame:
        assert frame.size == (320, 376)
    assert f"{stem}-face.jpg" in files and f"report/detection-{detection['id']}-faces.jpg" in files
    weights = json.loads(files["analysis.json"])["model_weights_sha256"]
    assert set(weights) == {"dlib_face_recognition_resnet_model_v1.dat", "shape_predictor_5_face_landmarks.dat"}
    custody = [json.loads(line)["event"] for line in files[f"custody/{row['sha256']}.jsonl"].splitlines()]
    assert custody[:3] == ["read", "hashed", "analysed"] and custody[-1] == "exported"
