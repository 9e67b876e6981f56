"""A content-addressed store: every scanned file kept once, under its sha256.

Files are written to a temporary name in the store and renamed into place, so a crash never leaves
a partial file under a real hash.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from enrollment.errors import MediaError
from enrollment.media import file_size

CHUNK_BYTES = 1 << 20


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def has(self, sha256: str) -> bool:
        return self.path_for(sha256).is_file()

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
            final = self.path_for(sha256)
            if final.exists():
                os.unlink(temporary)
            else:
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(temporary, final)
            return sha256, size
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
