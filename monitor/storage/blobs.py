"""The content store shared between machines: an S3-compatible bucket holding every file under its sha256.

Each machine keeps its own folder of the store (:mod:`monitor.storage.content_store`) as the working copy
its analyses read; the bucket is what the machines share. A file is put once, with ``If-None-Match: *``, so a
second machine adding the same bytes never rewrites the object; a file read back is checked against its
name before it is kept, so a changed object is refused instead of analysed or exported as evidence.

Configured by ``storage.blob_url`` (``s3://BUCKET/PREFIX``) and ``storage.s3_endpoint_url`` (or
``LIKENESS_BLOB_URL`` and ``LIKENESS_S3_ENDPOINT_URL``); credentials come from the usual AWS variables and
files, read by boto3 itself and never logged here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from enrollment.errors import LikenessError

CHUNK_BYTES = 1 << 20
# S3 takes at most 5 GiB in one PUT: a larger file goes up in parts (at most 10,000 of them: 640 GiB here), and
# the upload's completion carries the If-None-Match
SINGLE_PUT_MAX_BYTES, PART_BYTES = 5 << 30, 64 << 20
CONNECT_TIMEOUT_S, READ_TIMEOUT_S, ATTEMPTS = 10, 120, 3


class BlobStoreError(LikenessError):
    """The object store refused or could not be reached (one line, no secret)."""


class S3Blobs:
    """Files by sha256 in ``bucket`` under ``prefix`` (``PREFIX/ab/cd/abcd…``), at ``endpoint_url`` (None: AWS)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None) -> None:
        self.bucket, self.prefix, self.endpoint_url = bucket, prefix.strip("/"), endpoint_url or None
        self._client: Any = None

    def __repr__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def key_for(self, sha256: str) -> str:
        name = f"{sha256[:2]}/{sha256[2:4]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def put_if_absent(self, sha256: str, path: Path) -> bool:
        """Upload the file at ``path`` as ``sha256`` unless the bucket has it → whether it was uploaded."""
        return self._put_once(self.key_for(sha256), path)

    def put_capture(self, path: Path) -> bool:
        """Share a finished WARC file of this machine's crawl (``warc/NAME``) unless already there → whether it
        was uploaded."""
        return self._put_once(self._capture_key(path.name), path)

    def has(self, sha256: str) -> bool:
        try:
            self._s3().head_object(Bucket=self.bucket, Key=self.key_for(sha256))
            return True
        except Exception as error:
            if _status(error) == 404:
                return False
            raise self._failed("look up", error) from None

    def fetch(self, sha256: str, destination: Path) -> bool:
        """Download ``sha256`` to ``destination`` (written whole or not at all) → False where the bucket has no such
        file. BlobStoreError where the bytes are not what their name says (nothing kept)."""
        return self._download(self.key_for(sha256), destination, sha256)

    def fetch_captures(self, folder: Path) -> list[str]:
        """Download every shared WARC file that ``folder`` lacks → their names."""
        prefix = self._capture_key("")
        try:
            pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            names = [entry["Key"][len(prefix):] for page in pages for entry in page.get("Contents", [])]
        except Exception as error:
            raise self._failed("list", error) from None
        wanted = [name for name in names if "/" not in name and name.endswith(".warc.gz")
                  and not (folder / name).exists()]
        return [name for name in wanted if self._download(prefix + name, folder / name)]

    def _capture_key(self, name: str) -> str:
        return f"{self.prefix}/warc/{name}" if self.prefix else f"warc/{name}"

    def _put_once(self, key: str, path: Path) -> bool:
        """Upload ``path`` as ``key`` with ``If-None-Match: *`` → False where the bucket has the key already."""
        try:
            if path.stat().st_size > SINGLE_PUT_MAX_BYTES:
                self._put_in_parts(key, path)
            else:
                with open(path, "rb") as body:
                    self._s3().put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
            return True
        except Exception as error:
            if _status(error) == 412:  # already there: content-addressed or named once, so the same bytes
                return False
            raise self._failed("store", error) from None

    def _put_in_parts(self, key: str, path: Path) -> None:
        """A multipart upload of ``path`` (``PART_BYTES`` a part), completed with ``If-None-Match: *``; aborted on
        any failure, so that the bucket keeps no stray parts."""
        s3 = self._s3()
        upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts = []
            with open(path, "rb") as body:
                while chunk := body.read(PART_BYTES):
                    number = len(parts) + 1
                    answer = s3.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number,
                                            Body=chunk)
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
            s3.complete_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id,
                                         MultipartUpload={"Parts": parts}, IfNoneMatch="*")
        except BaseException:
            with contextlib.suppress(Exception):
                s3.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def _download(self, key: str, destination: Path, sha256: str | None = None) -> bool:
        """Stream ``key`` to ``destination`` through a temporary file (whole or not at all) → False where there is
        no such object. With ``sha256``, bytes that do not hash to it are refused (BlobStoreError)."""
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".fetching-")
        try:
            with os.fdopen(handle, "wb") as out:
                try:
                    answer = self._s3().get_object(Bucket=self.bucket, Key=key)
                    digest = hashlib.sha256()
                    for chunk in answer["Body"].iter_chunks(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
                except Exception as error:
                    if _status(error) == 404:
                        return False
                    raise self._failed("read", error) from None
            if sha256 is not None and digest.hexdigest() != sha256:
                raise BlobStoreError(f"{key} in {self!r} is not the file it names "
                                     f"(its sha256 is {digest.hexdigest()}): refused")
            os.replace(temporary, destination)
            return True
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def _s3(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config as BotoConfig

            settings = BotoConfig(connect_timeout=CONNECT_TIMEOUT_S, read_timeout=READ_TIMEOUT_S,
                                  retries={"max_attempts": ATTEMPTS, "mode": "standard"},
                                  s3={"addressing_style": "path"} if self.endpoint_url else None)
            self._client = boto3.session.Session().client("s3", endpoint_url=self.endpoint_url, config=settings)
        return self._client

    def _failed(self, doing: str, error: Exception) -> BlobStoreError:
        """One line: the S3 error code (botocore's ClientError), else the error's class and first line."""
        where = f"{self!r}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        response = getattr(error, "response", None)
        code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
        reason = code or (f"{type(error).__name__}: {str(error).splitlines()[0]}" if str(error)
                          else type(error).__name__)
        return BlobStoreError(f"cannot {doing} in the object store {where}: {reason}")


def _status(error: Exception) -> int | None:
    """The HTTP status of a botocore ClientError, else None."""
    response = getattr(error, "response", None)
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(response, dict) else None


def blobs_at(url: str, endpoint_url: str | None = None) -> S3Blobs:
    """The bucket of ``s3://BUCKET[/PREFIX]``; LikenessError for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise LikenessError(f"storage.blob_url must be s3://BUCKET[/PREFIX], not {url!r}")
    if endpoint_url and urlsplit(endpoint_url).scheme not in ("http", "https"):
        raise LikenessError(f"the S3 endpoint must be an http(s) URL, not {endpoint_url!r}")
    return S3Blobs(parts.netloc, parts.path, endpoint_url)
