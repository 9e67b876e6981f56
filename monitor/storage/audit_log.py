"""Each agency's audit trail: insert-only, hash-chained entries (like the custody log, :mod:`.chain`).

An entry::

    {"seq": 7, "prev_hash": "<hash of entry 6>", "at": "2026-12-04T17:00:00.123456Z", "action": "detection.review",
     "subject": "detection 12", "actor": "ada@agency.example", "actor_kind": "web", "remote_address": "10.0.0.5",
     "details": {…}, "hash": "<sha256 of the canonical entry without hash>"}
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment.models import Agency
from monitor.storage.accounts import AuditEvent
from monitor.storage.chain import ZERO_HASH, entry_hash


def append(session: Session, agency_id: int, action: str, subject: str, actor: str, actor_kind: str,
           remote_address: str | None, details: dict) -> dict:
    """Append an entry to ``agency_id``'s trail in ``session`` (the caller's transaction); returns it."""
    # one writer per agency at a time on PostgreSQL (SQLite has one writer anyway): seq and prev_hash stay a chain
    session.execute(select(Agency.id).where(Agency.id == agency_id).with_for_update())
    last = session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.agency_id == agency_id)
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    now = datetime.now(UTC)
    entry = {
        "seq": last.seq + 1 if last is not None else 1,
        "prev_hash": last.hash if last is not None else ZERO_HASH,
        "at": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": action, "subject": subject, "actor": actor, "actor_kind": actor_kind,
        "remote_address": remote_address,
        "details": {key: value if not isinstance(value, float) else repr(value) for key, value in details.items()},
    }
    entry["hash"] = entry_hash(entry)
    session.add(AuditEvent(agency_id=agency_id, seq=entry["seq"], action=action, subject=subject[:200],
                           actor=actor[:320], actor_kind=actor_kind, at=now, entry=entry, hash=entry["hash"]))
    return entry


def trail(session: Session, agency_id: int, limit: int | None = None, before_seq: int | None = None) -> list[dict]:
    """``agency_id``'s entries, newest first (``limit`` of them, older than ``before_seq`` when given)."""
    query = select(AuditEvent.entry).where(AuditEvent.agency_id == agency_id).order_by(AuditEvent.seq.desc())
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    return list(session.scalars(query.limit(limit)))
