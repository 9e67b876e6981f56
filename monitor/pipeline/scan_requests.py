"""Scans asked for through the API, run one after another in the background, each for its own agency.

A request is claimed by moving it from ``queued`` to ``running`` in one UPDATE (so that two runners never take
the same one), scanned with a :class:`Scanner` acting for its agency and requester, and finished with the scan's
row or its one-line error. Requests left ``running`` when a process died go back to ``queued`` at start.
"""

from __future__ import annotations

import threading

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from enrollment.errors import unexpected
from enrollment.models import utc_now
from monitor.config import Config
from monitor.pipeline.record import Seen
from monitor.pipeline.scan import Scanner
from monitor.storage.models import ScanRequest

UPLOAD_PREFIX = "upload:"


def requeue_interrupted(sessions: sessionmaker[Session]) -> int:
    """Requests a dead process left ``running`` are queued again → how many."""
    with sessions.begin() as session:
        return session.execute(update(ScanRequest).where(ScanRequest.status == "running")
                               .values(status="queued", started_at=None)).rowcount


def _claim_next(sessions: sessionmaker[Session]) -> ScanRequest | None:
    while True:
        with sessions.begin() as session:
            request = session.scalar(select(ScanRequest).where(ScanRequest.status == "queued")
                                     .order_by(ScanRequest.id).limit(1))
            if request is None:
                return None
            claimed = session.execute(update(ScanRequest).where(ScanRequest.id == request.id,
                                                                ScanRequest.status == "queued")
                                      .values(status="running", started_at=utc_now())).rowcount
            if claimed:
                return request


def run_queued(config: Config, sessions: sessionmaker[Session], stop: threading.Event | None = None) -> int:
    """Scan every queued request, oldest first, until none is left (or ``stop`` is set) → how many ran."""
    ran = 0
    while not (stop is not None and stop.is_set()) and (request := _claim_next(sessions)) is not None:
        try:
            scanner = Scanner(config, sessions, workers=1, actor=request.requested_by, agency_id=request.agency_id)
            if request.sha256 is not None:
                seen = Seen(request.target, agency_id=request.agency_id)
                row = scanner.scan_stored(request.sha256, request.size_bytes or 0, seen).as_json()
            else:
                row = scanner.scan(request.target).as_json()
            status, result, error = ("failed" if row["error"] else "done"), row, row["error"]
        except Exception as failure:  # a bug with one request is that request's error; the next one goes on
            status, result, error = "failed", None, unexpected(failure)
        with sessions.begin() as session:
            session.execute(update(ScanRequest).where(ScanRequest.id == request.id).values(
                status=status, result=result, error=error, finished_at=utc_now()))
        ran += 1
    return ran
