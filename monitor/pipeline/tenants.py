"""What each agency is told of an analysis: only its own performers' detections, in its own custody chain, with
its own alerts, and only once it has found the media itself.

An analysis is made once per content against every agency's performers, and every match is kept as a
detection of its performer's agency. An agency is told of its detections when it has a sighting of the media:
at the analysis if it had one then, else when it first finds the same bytes (the analysis is reused). Until
then nothing shows it that another agency holds the media.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment.models import Performer
from monitor.alerts.outbox import enqueue
from monitor.config import Config
from monitor.storage import custody
from monitor.storage.models import Detection, Media, Sighting


def sighting_agencies(session: Session, media_id: int) -> list[int]:
    """The agencies that have found the media, in id order."""
    return list(session.scalars(select(Sighting.agency_id).where(Sighting.media_id == media_id)
                                .distinct().order_by(Sighting.agency_id)))


def is_told(session: Session, media: Media, agency_id: int) -> bool:
    """Whether ``agency_id``'s chain of ``media`` records its analysis under the current analysis key."""
    return any(entry["event"] == "analysed" and entry["details"].get("analysis_key") == media.analysis_key
               for entry in custody.chain_of(session, media.id, agency_id))


def tell(session: Session, media: Media, agency_ids: Iterable[int], detections: list[Detection], analysis: dict,
         performer_ids: Iterable[int], config: Config, actor: str | None) -> None:
    """For each agency: enqueue the alerts of its detections and append "analysed" to its chain, naming only
    its own detections and how many of its own performers were compared (``performer_ids``: all compared)."""
    compared = set(performer_ids)
    for agency_id in agency_ids:
        own = [detection for detection in detections if detection.agency_id == agency_id]
        for detection in own:  # the outbox is written with the detections, or not at all
            enqueue(session, detection, config)
        own_performers = session.scalars(select(Performer.id).where(Performer.agency_id == agency_id))
        custody.record(session, media, "analysed", analysis | {
            "performers_compared": len(compared.intersection(own_performers)),
            "detections": [{"id": d.id, "performer_id": d.performer_id, "modality": d.modality,
                            "score": round(d.score, 4), "threshold": d.threshold} for d in own]},
            agency_id=agency_id, actor=actor)


def own_rows(rows: list[dict], performer_ids: set[int]) -> list[dict]:
    """The rows (closest performers) that name one of ``performer_ids``."""
    return [row for row in rows if row.get("performer_id") in performer_ids]


def agency_performers(session: Session, agency_id: int) -> set[int]:
    return set(session.scalars(select(Performer.id).where(Performer.agency_id == agency_id)))
