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

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from enrollment.errors import LikenessError

CHUNK_BYTES = 1 << 20
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
        try:
            with open(path, "rb") as body:
                self._s3().put_object(Bucket=self.bucket, Key=self.key_for(sha256), Body=body, IfNoneMatch="*")
            return True
        except Exception as error:
            if _status(error) == 412:  # already there: content-addressed, so the same bytes
                return False
            raise self._failed("store", error) from None

    def put_capture(self, path: Path) -> bool:
        """Share a finished WARC file of this machine's crawl (``warc/NAME``) unless already there → whether it
        was uploaded."""
        try:
            with open(path, "rb") as body:
                self._s3().put_object(Bucket=self.bucket, Key=self._capture_key(path.name), Body=body,
                                      IfNoneMatch="*")
            return True
        except Exception as error:
            if _status(error) == 412:
                return False
            raise self._failed("store", error) from None

    def fetch_captures(self, folder: Path) -> list[str]:
        """Download every shared WARC file that ``folder`` lacks → their names."""
        fetched, prefix = [], self._capture_key("")
        try:
            pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            names = [entry["Key"][len(prefix):] for page in pages for entry in page.get("Contents", [])]
        except Exception as error:
            raise self._failed("list", error) from None
        for name in names:
            if "/" in name or not name.endswith(".warc.gz") or (folder / name).exists():
                continue
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix=".fetching-")
            try:
                with os.fdopen(handle, "wb") as out:
                    answer = self._get(prefix + name)
                    for chunk in answer["Body"].iter_chunks(CHUNK_BYTES):
                        out.write(chunk)
                os.replace(temporary, folder / name)
                fetched.append(name)
            finally:
                if os.path.exists(temporary):
                    os.unlink(temporary)
        return fetched

    def _capture_key(self, name: str) -> str:
        return f"{self.prefix}/warc/{name}" if self.prefix else f"warc/{name}"

    def _get(self, key: str) -> dict:
        try:
            return self._s3().get_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            raise self._failed("read", error) from None

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
        destination.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=".fetching-")
        try:
            with os.fdopen(handle, "wb") as out:
                digest = self._download(sha256, out)
            if digest is None:
                return False
            if digest != sha256:
                raise BlobStoreError(f"{self.key_for(sha256)} in {self!r} is not the file it names "
                                     f"(its sha256 is {digest}): refused")
            os.replace(temporary, destination)
            return True
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)

    def _download(self, sha256: str, out) -> str | None:
        """Stream the object into ``out`` → the sha256 of what came, or None where there is no object."""
        try:
            answer = self._s3().get_object(Bucket=self.bucket, Key=self.key_for(sha256))
            digest = hashlib.sha256()
            for chunk in answer["Body"].iter_chunks(CHUNK_BYTES):
                digest.update(chunk)
                out.write(chunk)
            return digest.hexdigest()
        except Exception as error:
            if _status(error) == 404:
                return None
            raise self._failed("read", error) from None

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
        where = f"{self!r}" + (f" at {self.endpoint_url}" if self.endpoint_url else "")
        code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(error, "response") else None
        reason = code or type(error).__name__
        if code is None and str(error):
            reason = f"{reason}: {str(error).splitlines()[0]}"
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
