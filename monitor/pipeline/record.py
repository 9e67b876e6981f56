"""Recording what a scan saw and found: the media row, where it was seen (with its custody entries), and
one detection per (performer, media, modality)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from enrollment.models import Performer, utc_now
from monitor.config import Config
from monitor.fetch.download import is_url
from monitor.matching.gallery import Match
from monitor.pipeline.allowed import found_outside_licence
from monitor.storage import custody
from monitor.storage.analysed_news import announce_analysed
from monitor.storage.models import Detection, Media, Sighting


@dataclass(frozen=True)
class Seen:
    """Where content was found, and by which agency: the file path or media URL, and for a crawl its source and
    page."""

    source: str
    source_id: int | None = None
    page_url: str | None = None
    page_title: str | None = None
    agency_id: int | None = None  # always given by the time a sighting is recorded


def record_sighting(session: Session, sha256: str, size_bytes: int, seen: Seen, fetched: dict | None = None,
                    actor: str | None = None, config: Config | None = None) -> Media:
    """The media row for this content (created if new) and ``seen.agency_id``'s sighting at ``seen``, in
    ``session``.

    A first sighting at a place starts or extends the agency's chain of custody of the media: "fetched" with
    ``fetched`` (what the exchange was) for a URL, "read" with the file's path, size and times for a
    local file; new content is also "hashed". ``actor``: who the entries name (default: this process's user@host).
    ``config``: a detection of it that a licence authorised is new again, and alerted, once the media is seen
    where no licence allows it (:mod:`monitor.pipeline.allowed`).
    """
    if seen.agency_id is None:
        raise ValueError("a sighting belongs to an agency")
    media = session.scalar(select(Media).where(Media.sha256 == sha256))
    if media is None:
        media = Media(sha256=sha256, size_bytes=size_bytes)
        session.add(media)
        session.flush()
    sightings = select(Sighting).where(Sighting.media_id == media.id, Sighting.agency_id == seen.agency_id)
    is_new_to_agency = session.scalar(sightings.limit(1)) is None
    sighting = session.scalar(sightings.where(Sighting.source == seen.source))
    if sighting is None:
        sighting = Sighting(agency_id=seen.agency_id, media_id=media.id, source=seen.source)
        session.add(sighting)
        _record_found(session, media, seen, fetched, actor)
        if is_new_to_agency:  # the agency sees its detections of this media from now on
            session.execute(update(Detection).where(Detection.media_id == media.id,
                                                    Detection.agency_id == seen.agency_id).values(sighted=True))
            custody.record(session, media, "hashed", {"algorithm": "sha256", "sha256": sha256,
                                                      "size_bytes": size_bytes}, agency_id=seen.agency_id,
                           actor=actor)
        elif config is not None:
            session.flush()
            found_outside_licence(session, config, media, seen.agency_id, actor)
    sighting.last_seen_at = utc_now()
    sighting.source_id = seen.source_id or sighting.source_id
    sighting.page_url = seen.page_url or sighting.page_url
    sighting.page_title = seen.page_title or sighting.page_title
    return media


def _record_found(session: Session, media: Media, seen: Seen, fetched: dict | None, actor: str | None) -> None:
    where = {"source_id": seen.source_id, "page_url": seen.page_url, "page_title": seen.page_title}
    if is_url(seen.source):
        custody.record(session, media, "fetched", {"url": seen.source, **where, **(fetched or {})},
                       agency_id=seen.agency_id, actor=actor)
        return
    path = Path(seen.source)
    details = custody.local_file_details(path) if path.exists() else {"path": seen.source}
    custody.record(session, media, "read", {**details, **where}, agency_id=seen.agency_id, actor=actor)


def save_match(session: Session, media: Media, match: Match, threshold: float, model_version: str) -> Detection:
    """Insert the detection, or update the scores of the one already there (its review stays)."""
    detection = session.scalar(select(Detection).where(
        Detection.performer_id == match.performer_id,
        Detection.media_id == media.id,
        Detection.modality == match.modality,
    ))
    details = dict(match.details or {})
    curve = details.pop("curve", None)  # kept apart: a list of detections never loads it
    values = {"score": match.score, "similarity": match.similarity, "segments": match.segments,
              "details": details or None, "curve": curve, "threshold": threshold, "model_version": model_version}
    if detection is None:
        agency_id = session.scalar(select(Performer.agency_id).where(Performer.id == match.performer_id))
        sighted = session.scalar(select(Sighting.id).where(Sighting.media_id == media.id,
                                                           Sighting.agency_id == agency_id).limit(1)) is not None
        detection = Detection(agency_id=agency_id, performer_id=match.performer_id, media_id=media.id,
                              modality=match.modality, sighted=sighted, **values)
        session.add(detection)
    else:
        for key, value in values.items():
            setattr(detection, key, value)
    session.flush()
    return detection


def record_given_up(session: Session, sha256: str, analysis_key: str, reason: str) -> None:
    """Store ``reason`` as the analysis of ``sha256`` under ``analysis_key`` (not tried again under it), and
    remove the claim its lost holder left; nothing where it is analysed under that key already."""
    from monitor.storage import claims

    media = session.scalar(select(Media).where(Media.sha256 == sha256))
    if media is not None and media.analysis_key != analysis_key:
        media.error, media.analysis_key, media.analysed_at = reason, analysis_key, utc_now()
        announce_analysed(session, sha256)
    claims.release_lost(session, sha256, analysis_key)


def record_not_analysed(session: Session, sha256: str, analysis_key: str, reason: str) -> None:
    """Tell whoever waits for the analysis of ``sha256`` under ``analysis_key`` why a worker did not: ``reason``
    becomes the media's error, now its analysis time, while its analysis key stays as it was (a worker able to
    analyse it still will, and the next crawl pass asks again where it was never analysed)."""
    media = session.scalar(select(Media).where(Media.sha256 == sha256))
    if media is not None and media.analysis_key != analysis_key:
        media.error, media.analysed_at = reason, utc_now()
        announce_analysed(session, sha256)
