"""The content store shared through an S3-compatible bucket: what one machine adds, another reads; an object is
written once and never rewritten; what comes back is checked against its name; a bucket out of reach is one line.

Against a real SeaweedFS on loopback (tests/support/object_store.py), two "machines" being two folders.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from enrollment.errors import LikenessError
from monitor.storage.blobs import BlobStoreError, S3Blobs, blobs_at
from monitor.storage.content_store import ContentStore

MAX_BYTES = 10 << 20


def _machines(tmp_path: Path, bucket_url: str, endpoint_url: str) -> tuple[ContentStore, ContentStore]:
    return (ContentStore(tmp_path / "first", blobs_at(bucket_url, endpoint_url)),
            ContentStore(tmp_path / "second", blobs_at(bucket_url, endpoint_url)))


def _file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / f"{hashlib.sha256(data).hexdigest()[:8]}.bin"
    path.write_bytes(data)
    return path


def test_a_file_one_machine_adds_is_read_on_another(tmp_path, shared_bucket, object_store):
    first, second = _machines(tmp_path, shared_bucket, object_store.endpoint_url)
    data = b"a clip found by the first machine" * 1000
    sha256, size = first.add_file(_file(tmp_path, data), MAX_BYTES)
    assert size == len(data) and second.has(sha256)
    path = second.path_for(sha256)
    assert path.read_bytes() == data and path.is_relative_to(tmp_path / "second")


def test_an_object_is_written_once_and_never_rewritten(tmp_path, shared_bucket, object_store):
    blobs = blobs_at(f"{shared_bucket}/media", object_store.endpoint_url)
    data = b"the same bytes on two machines"
    sha256 = hashlib.sha256(data).hexdigest()
    assert blobs.put_if_absent(sha256, _file(tmp_path, data)) is True
    assert blobs.put_if_absent(sha256, _file(tmp_path, data)) is False  # If-None-Match: * answered 412
    stored = object_store.client().get_object(Bucket="likeness", Key=blobs.key_for(sha256))
    assert stored["Body"].read() == data
    assert blobs.key_for(sha256).endswith(f"/media/{sha256[:2]}/{sha256[2:4]}/{sha256}")


def test_a_file_over_one_put_goes_up_in_parts_and_is_still_written_once(tmp_path, shared_bucket, object_store,
                                                                        monkeypatch):
    from monitor.storage import blobs as module

    monkeypatch.setattr(module, "SINGLE_PUT_MAX_BYTES", 6 << 20)  # S3's 5 GiB, scaled down: the smallest part is 5 MiB
    monkeypatch.setattr(module, "PART_BYTES", 5 << 20)
    first, second = _machines(tmp_path, shared_bucket, object_store.endpoint_url)
    data = hashlib.sha256(b"seed").digest() * (12 << 15)  # 12 MiB: three parts
    sha256, _size = first.add_file(_file(tmp_path, data), 20 << 20)
    assert second.path_for(sha256).read_bytes() == data
    blobs = blobs_at(shared_bucket, object_store.endpoint_url)
    assert blobs.put_if_absent(sha256, _file(tmp_path, data)) is False  # the completion's If-None-Match: 412
    assert object_store.client().list_multipart_uploads(Bucket="likeness").get("Uploads", []) == []


def test_an_object_that_is_not_the_file_it_names_is_refused_and_nothing_is_kept(tmp_path, shared_bucket,
                                                                                 object_store):
    _first, second = _machines(tmp_path, shared_bucket, object_store.endpoint_url)
    sha256 = hashlib.sha256(b"what was stored").hexdigest()
    object_store.client().put_object(Bucket="likeness", Key=second.shared.key_for(sha256), Body=b"something else")
    with pytest.raises(BlobStoreError, match="is not the file it names"):
        second.path_for(sha256)
    assert not any(path.is_file() for path in (tmp_path / "second").rglob("*"))


def test_a_file_nobody_stored_is_simply_absent(tmp_path, shared_bucket, object_store):
    _first, second = _machines(tmp_path, shared_bucket, object_store.endpoint_url)
    missing = "0" * 64
    assert not second.has(missing) and not second.path_for(missing).exists()


def test_a_bucket_out_of_reach_is_one_line_and_names_no_secret(tmp_path, object_store, monkeypatch):
    for name, value in object_store.environment().items():
        monkeypatch.setenv(name, value)
    closed = S3Blobs("likeness", "", "http://127.0.0.1:9")  # the discard port: nothing listens
    store = ContentStore(tmp_path / "store", closed)
    with pytest.raises(BlobStoreError) as refused:
        store.add_file(_file(tmp_path, b"a clip"), MAX_BYTES)
    message = str(refused.value)
    assert "\n" not in message and "cannot store in the object store s3://likeness/" in message
    assert object_store.environment()["AWS_SECRET_ACCESS_KEY"] not in message


def test_wrong_credentials_are_refused_in_one_line(tmp_path, shared_bucket, object_store, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not the secret")
    store = ContentStore(tmp_path / "store", blobs_at(shared_bucket, object_store.endpoint_url))
    with pytest.raises(BlobStoreError) as refused:
        store.add_file(_file(tmp_path, b"a clip"), MAX_BYTES)
    assert "SignatureDoesNotMatch" in str(refused.value) or "AccessDenied" in str(refused.value)
    assert "not the secret" not in str(refused.value)


@pytest.mark.parametrize("url", ["http://bucket/prefix", "s3://", "s3:///prefix", "s3://bucket/p?x=1"])
def test_a_blob_url_that_is_not_a_bucket_is_refused(url):
    with pytest.raises(LikenessError, match="s3://BUCKET"):
        blobs_at(url)
