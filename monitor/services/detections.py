"""Detections: listed for review, and reviewed (the decision, its note and who made it are kept)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from enrollment.errors import LikenessError, NotFound
from enrollment.models import utc_now
from monitor.services.context import Context
from monitor.storage import custody
from monitor.storage.detections import detection_json, latest_source
from monitor.storage.models import REVIEW_STATUSES, Detection, Review

REVIEW_DECISIONS = tuple(status for status in REVIEW_STATUSES if status != "new")


def list_detections(ctx: Context, performer_id: int | None = None, status: str | None = None) -> list[dict]:
    """DETECTION objects, newest first; only ``performer_id``'s and only those with ``status`` when given."""
    query = select(Detection).options(selectinload(Detection.performer), selectinload(Detection.media))
    if performer_id is not None:
        query = query.where(Detection.performer_id == performer_id)
    if status is not None:
        query = query.where(Detection.status == status)
    with ctx.sessions() as session:
        rows = session.scalars(query.order_by(Detection.created_at.desc(), Detection.id.desc())).all()
        return [detection_json(row, latest_source(session, row.media_id)) for row in rows]


def review(ctx: Context, detection_id: int, status: str, note: str | None = None,
           reviewed_by: str | None = None) -> dict:
    """Record a decision (confirmed, dismissed, authorized) → the DETECTION with its new status.

    The review row and the "reviewed" custody entry name ``reviewed_by`` (default: the actor's name), in the
    same transaction as the status change.
    """
    if status not in REVIEW_STATUSES:
        raise LikenessError(f"status must be one of {', '.join(REVIEW_STATUSES)}")
    reviewer = reviewed_by or ctx.actor.name
    with ctx.sessions.begin() as session:
        detection = session.get(Detection, detection_id)
        if detection is None:
            raise NotFound(f"no detection with id {detection_id} (see `likeness detections list`)")
        detection.status = status
        detection.updated_at = utc_now()
        detection.reviews.append(Review(status=status, note=note, reviewed_by=reviewer))
        custody.record(session, detection.media, "reviewed",
                       {"detection_id": detection.id, "status": status, "note": note}, actor=reviewer)
        session.flush()
        return detection_json(detection, latest_source(session, detection.media_id))
