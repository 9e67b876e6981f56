"""What each agency is told of an analysis: only its own performers' detections, in its own custody chain, with
its own alerts, and only once it has found the media itself.

An analysis is made once per content against every agency's performers, and every match is kept as a
detection of its performer's agency. An agency is told of its detections when it has a sighting of the media:
at the analysis if it had one then, else when it first finds the same bytes (the analysis is reused). Until
then nothing shows it that another agency holds the media. A detection found only where its performer's
licence allows (:mod:`monitor.pipeline.allowed`) is told as authorised, without an alert; one in a re-upload
of a confirmed clone (:mod:`monitor.pipeline.staydown`), as confirmed and linked to it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment.models import Performer, utc_now
from monitor.alerts.outbox import enqueue
from monitor.config import Config
from monitor.matching.voice_chance import ChanceModel, chance_words
from monitor.pipeline.allowed import authorize_if_allowed
from monitor.pipeline.staydown import confirm_reupload, reupload_of
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
        own, prints = [detection for detection in detections if detection.agency_id == agency_id], {}
        for detection in own:  # the outbox is written with the detections, or not at all
            case = reupload_of(session, config, detection, prints)
            if case is None and authorize_if_allowed(session, detection, utc_now(), actor):
                continue  # a licensed use: no alert
            enqueue(session, detection, config)
            if case is not None:  # alerted as new, then confirmed as the case's re-upload
                confirm_reupload(session, detection, *case, actor)
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


def voice_roster_sizes(session: Session, voice_performer_ids: Iterable[int]) -> dict[int, int]:
    """How many of the performers compared by voice each agency has."""
    ids = [int(performer_id) for performer_id in voice_performer_ids]
    sizes: dict[int, int] = {}
    for agency_id in session.scalars(select(Performer.agency_id).where(Performer.id.in_(ids))) if ids else []:
        sizes[agency_id] = sizes.get(agency_id, 0) + 1
    return sizes


def in_own_roster_terms(details: dict | None, own_performers: int, chance: ChanceModel) -> dict | None:
    """A voice detection's chance told against its own agency's performers: the analysis compared every
    agency's, and their number would tell one agency how many performers the others have."""
    if not details or "chance" not in details:
        return details
    said, own_performers = details["chance"], max(own_performers, 1)
    per_file = chance.per_file(details["normalised_score"], said["turns"] * own_performers)
    return details | {"chance": said | {"per_file": float(f"{per_file:.3g}"), "performers": own_performers,
                                        "text": chance_words(per_file, own_performers, said["turns"])}}
