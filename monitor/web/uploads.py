"""Uploads: request bodies kept under a size limit, and uploaded files saved under safe names.

The limit is checked on the bytes as they arrive (a ``Content-Length`` over it is refused before the body is
read), so an upload too large never fills the disk. A file's name as the client gave it is never a path here:
only its last part is kept, reduced to letters, digits, ``.``, ``_`` and ``-``.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import UploadFile
from starlette.exceptions import HTTPException

from monitor.web.problems import TooLarge, problem

UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
FORM_OVERHEAD_BYTES = 1 << 20  # multipart boundaries and small fields around the files


def safe_name(name: str | None, fallback: str = "upload") -> str:
    """``../../etc/passwd`` → ``passwd``; ``C:\\x\\clip 1.wav`` → ``clip_1.wav``; nothing usable → ``fallback``."""
    last = re.split(r"[/\\]", name or "")[-1]
    cleaned = UNSAFE.sub("_", last).strip("._")[:100]
    return cleaned or fallback


class BodyLimit:
    """ASGI middleware: a request whose body exceeds ``max_bytes`` is answered 413 and read no further."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0

        async def limited_receive():
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # an HTTP error, which FastAPI's body parsing lets through as it is
                raise HTTPException(413, self._reason())
            return message

        await self.app(scope, limited_receive, send)

    def _reason(self) -> str:
        return f"the request is over the limit of {self.max_bytes // (1 << 20)} MiB"

    async def _refuse(self, scope, receive, send) -> None:
        await problem(413, self._reason())(scope, receive, send)


@contextmanager
def saved(files: list[UploadFile], max_bytes: int) -> Iterator[list[tuple[Path, str]]]:
    """The uploaded files on disk, each as (path, safe name), in a folder removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="likeness-upload-"))
    try:
        kept = []
        for index, upload in enumerate(files):
            name = safe_name(upload.filename, f"upload-{index + 1}")
            path = folder / f"{index:03d}" / name  # its own name: a reference keeps the name it was sent with
            path.parent.mkdir()
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1 << 20)
            if path.stat().st_size > max_bytes:
                raise TooLarge(f"{name}: over the limit of {max_bytes // (1 << 20)} MiB per file")
            kept.append((path, name))
        yield kept
    finally:
        shutil.rmtree(folder, ignore_errors=True)
