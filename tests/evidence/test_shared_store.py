"""Several machines, one bucket: references enrolled and media scanned on one machine are in the bucket, and
another machine of the same install, its own folder empty, exports evidence that verifies, byte for byte."""

from __future__ import annotations

import gzip
import os
import zipfile

import pytest

pytestmark = pytest.mark.slow


def test_another_machine_exports_evidence_of_media_only_the_bucket_holds(likeness, make_performer, make_speech,
                                                                          home, shared_bucket, object_store,
                                                                          monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_BLOB_URL", shared_bucket)
    if not os.environ.get("LIKENESS_DATABASE_URL"):  # both machines use the first's database
        monkeypatch.setenv("LIKENESS_DATABASE_URL", f"sqlite:///{home / 'likeness.db'}")
    assert likeness("init").exit_code == 0
    reference = make_speech("reference", texts=(0, 1, 2))
    make_performer("Ada Voice", voice=[reference])
    clone = make_speech("clone", texts=(3,), suffix=".mp3")
    [scanned] = likeness("scan", clone, "--json").json
    [detection] = scanned["detections"]
    keys = {entry["Key"] for entry in object_store.client().list_objects_v2(
        Bucket="likeness", Prefix=shared_bucket.removeprefix("s3://likeness/"))["Contents"]}
    assert any(key.endswith(detection["media"]["sha256"]) for key in keys)  # the media
    assert len(keys) >= 2  # and the reference enrolled

    monkeypatch.setenv("LIKENESS_HOME", str(tmp_path / "second-machine"))
    assert likeness("init").exit_code == 0
    bundle = tmp_path / "bundle.zip"
    exported = likeness("evidence", "export", detection["id"], "-o", bundle, "--json")
    assert exported.exit_code == 0, exported.stderr
    assert likeness("evidence", "verify", bundle).exit_code == 0
    with zipfile.ZipFile(bundle) as archive:
        sha256 = detection["media"]["sha256"]
        assert archive.read(f"media/{sha256}.mp3") == clone.read_bytes()


def test_evidence_exported_on_another_machine_holds_the_crawls_capture(likeness, site, clone_mp3, home,
                                                                        shared_bucket, monkeypatch, tmp_path):
    monkeypatch.setenv("LIKENESS_BLOB_URL", shared_bucket)
    if not os.environ.get("LIKENESS_DATABASE_URL"):
        monkeypatch.setenv("LIKENESS_DATABASE_URL", f"sqlite:///{home / 'likeness.db'}")
    assert likeness("init").exit_code == 0
    site.add("/demo.html", '<html><body><audio src="/voice.mp3"></audio></body></html>')
    site.add("/voice.mp3", clone_mp3, "audio/mpeg")
    assert likeness("source", "add", f"{site.url}/demo.html", "--json").exit_code == 0
    crawled = likeness("crawl", "--json").json
    assert crawled["errors"] == []
    [detection] = crawled["detections"]

    monkeypatch.setenv("LIKENESS_HOME", str(tmp_path / "second-machine"))
    assert likeness("init").exit_code == 0
    bundle = tmp_path / "bundle.zip"
    assert likeness("evidence", "export", detection["id"], "-o", bundle).exit_code == 0
    assert likeness("evidence", "verify", bundle).exit_code == 0
    with zipfile.ZipFile(bundle) as archive:
        capture = archive.read(f"capture/{detection['media']['sha256']}.warc.gz")
    assert b"voice.mp3" in gzip.decompress(capture)  # the exchange that fetched it, from the first machine
