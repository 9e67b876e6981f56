"""The chain of custody, kept in the database from the first fetch: one hash-chained log per media and agency.

Each agency keeps its own chain of a media (what it fetched, what it was told of the analysis, its alerts,
reviews and exports), so that a bundle never shows one agency what another did with the same bytes.

Every entry is written in the same transaction as the thing it records (the fetch, the analysis, the
alert, the review, the export), so the log never claims what did not happen and never misses what
did. An entry (JSON, hashed as canonical JSON by :mod:`monitor.storage.chain`)::

    {"seq": 3, "prev_hash": "<hash of entry 2>", "event": "analysed", "at": "2026-11-25T12:00:00.123456Z",
     "actor": "alice@monitor-host", "tool": "likeness-monitor", "tool_version": "0.1.0",
     "media_sha256": "…", "details": {…}, "hash": "<sha256 of the canonical entry without hash>"}

Events: ``fetched`` (a URL's exchange), ``read`` (a local file: path, size, times, who ran it),
``hashed``, ``analysed``, ``alerted``, ``reviewed``, ``exported``.
"""

from __future__ import annotations

import functools
import getpass
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.storage.chain import ZERO_HASH, entry_hash
from monitor.storage.models import CustodyEvent, Media

TOOL = "likeness-monitor"


@functools.cache
def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("likeness-monitor")
    except PackageNotFoundError:
        return "unknown"


@functools.cache
def local_actor() -> str:
    """Who runs this process, as ``user@host`` (the crawler and the CLI act for the person who runs them)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def record(session: Session, media: Media, event: str, details: dict, *, agency_id: int,
           actor: str | None = None) -> dict:
    """Append an entry to ``agency_id``'s chain of ``media`` in ``session`` (the caller's transaction); returns
    it."""
    if media.id is None:
        session.flush()
    last = session.scalar(select(CustodyEvent).where(CustodyEvent.media_id == media.id,
                                                     CustodyEvent.agency_id == agency_id)
                          .order_by(CustodyEvent.seq.desc()).limit(1))
    entry = {
        "seq": last.seq + 1 if last is not None else 1,
        "prev_hash": last.hash if last is not None else ZERO_HASH,
        "event": event,
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": actor or local_actor(),
        "tool": TOOL,
        "tool_version": tool_version(),
        "media_sha256": media.sha256,
        "details": _without_floats(details),
    }
    entry["hash"] = entry_hash(entry)
    session.add(CustodyEvent(agency_id=agency_id, media_id=media.id, seq=entry["seq"], entry=entry,
                             hash=entry["hash"]))
    return entry


def _without_floats(value: object) -> object:
    """Floats as their shortest decimal strings: other languages print floats differently, and a
    verifier must rebuild the exact bytes that were hashed."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(key): _without_floats(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_floats(item) for item in value]
    return value


def chain_of(session: Session, media_id: int, agency_id: int) -> list[dict]:
    """``agency_id``'s entries of the media in order, as stored."""
    return list(session.scalars(select(CustodyEvent.entry).where(CustodyEvent.media_id == media_id,
                                                                 CustodyEvent.agency_id == agency_id)
                                .order_by(CustodyEvent.seq)))


def local_file_details(path: Path) -> dict:
    """What a scan of a local file records: where it was, its size and times, who read it."""
    status = path.stat()
    return {"path": str(path.resolve()), "size_bytes": status.st_size,
            "modified_at": datetime.fromtimestamp(status.st_mtime, UTC).isoformat(),
            "changed_at": datetime.fromtimestamp(status.st_ctime, UTC).isoformat(), "read_by": local_actor()}
