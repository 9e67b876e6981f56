"""A content-addressed store: every scanned file kept once, under its sha256.

Files are written to a temporary name in the store and renamed into place, so a crash never leaves
a partial file under a real hash. With a shared bucket (:mod:`monitor.storage.blobs`), the folder is this
machine's working copy: each file added is also put in the bucket before it is used, and a file another
machine added is fetched from it when first asked for.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from enrollment.errors import MediaError
from enrollment.media import file_size
from monitor.storage.blobs import S3Blobs, blobs_at

if TYPE_CHECKING:
    from monitor.config import Config

CHUNK_BYTES = 1 << 20


class ContentStore:
    """Files by sha256 under ``root``, shared through ``shared`` where there is one."""

    def __init__(self, root: Path, shared: S3Blobs | None = None) -> None:
        self.root = Path(root)
        self.shared = shared

    def path_for(self, sha256: str) -> Path:
        """Where the file lies on this machine: fetched from the shared bucket first where it is only there.
        The path may not exist (a file nobody stored); BlobStoreError where the bucket cannot be read."""
        path = self._local(sha256)
        if self.shared is not None and not path.is_file():
            self.shared.fetch(sha256, path)
        return path

    def has(self, sha256: str) -> bool:
        return self._local(sha256).is_file() or (self.shared is not None and self.shared.has(sha256))

    def _local(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def add_file(self, path: Path, max_bytes: int) -> tuple[str, int]:
        """Copy a local file in (hashing as it goes); returns (sha256, size in bytes).

        Only regular files: a pipe or a device (``/dev/zero``) is refused before it is opened.
        """
        file_size(path)  # refuses a missing path, a directory, a pipe or a device, with the reason
        try:
            with open(path, "rb") as stream:
                return self.add_chunks(iter(lambda: stream.read(CHUNK_BYTES), b""), max_bytes)
        except PermissionError:
            raise MediaError("permission denied") from None
        except OSError as error:  # an I/O error midway: one line all the same
            raise MediaError(f"cannot read file: {error.strerror or error}") from None

    def add_chunks(self, chunks: Iterable[bytes], max_bytes: int) -> tuple[str, int]:
        """Store a stream of bytes; refuses (and keeps nothing) past ``max_bytes``."""
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        handle, temporary = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise MediaError(f"larger than media.max_file_bytes = {max_bytes:,} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            sha256 = digest.hexdigest()
            final = self._local(sha256)
            if final.exists():
                os.unlink(temporary)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temporary, final)
            if self.shared is not None:  # in the bucket before any row names it
                self.shared.put_if_absent(sha256, final)
            return sha256, size
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def content_store(config: Config) -> ContentStore:
    """The store of ``config``'s install: ``$LIKENESS_HOME/store``, shared through ``storage.blob_url``'s bucket
    where one is set."""
    shared = blobs_at(config.blob_url, config.s3_endpoint_url) if config.blob_url else None
    return ContentStore(config.store_dir, shared)
