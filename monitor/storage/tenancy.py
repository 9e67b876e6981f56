"""Which rows an agency sees: the filters every query of tenant rows goes through.

A detection is kept for its performer's agency as soon as the analysis finds it, but that agency sees it only
once it has found the media itself (a sighting of its own): otherwise a detection would tell it that another
agency holds the file.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists

from monitor.storage.models import Detection, Sighting


def visible_detections(agency_id: int | None) -> ColumnElement[bool]:
    """Detections whose agency has a sighting of their media; only ``agency_id``'s when given."""
    sighted = exists().where(Sighting.media_id == Detection.media_id, Sighting.agency_id == Detection.agency_id)
    return and_(Detection.agency_id == agency_id, sighted) if agency_id is not None else sighted
