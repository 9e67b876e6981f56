"""Recording what a scan saw and found: the media row, where it was seen (with its custody entries), and
one detection per (performer, media, modality)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment.models import utc_now
from monitor.fetch.download import is_url
from monitor.matching.gallery import Match
from monitor.storage import custody
from monitor.storage.models import Detection, Media, Sighting


@dataclass(frozen=True)
class Seen:
    """Where content was found: the file path or media URL, and for a crawl its source and page."""

    source: str
    source_id: int | None = None
    page_url: str | None = None
    page_title: str | None = None


def record_sighting(session: Session, sha256: str, size_bytes: int, seen: Seen, fetched: dict | None = None,
                    actor: str | None = None) -> Media:
    """The media row for this content (created if new) and its sighting at ``seen``, in ``session``.

    A first sighting at a place starts or extends the media's chain of custody: "fetched" with
    ``fetched`` (what the exchange was) for a URL, "read" with the file's path, size and times for a
    local file; new content is also "hashed". ``actor``: who the entries name (default: this process's user@host).
    """
    media = session.scalar(select(Media).where(Media.sha256 == sha256))
    is_new_media = media is None
    if is_new_media:
        media = Media(sha256=sha256, size_bytes=size_bytes)
        session.add(media)
        session.flush()
    sighting = session.scalar(select(Sighting).where(Sighting.media_id == media.id, Sighting.source == seen.source))
    if sighting is None:
        sighting = Sighting(media_id=media.id, source=seen.source)
        session.add(sighting)
        _record_found(session, media, seen, fetched, actor)
        if is_new_media:
            custody.record(session, media, "hashed", {"algorithm": "sha256", "sha256": sha256,
                                                      "size_bytes": size_bytes}, actor=actor)
    sighting.last_seen_at = utc_now()
    sighting.source_id = seen.source_id or sighting.source_id
    sighting.page_url = seen.page_url or sighting.page_url
    sighting.page_title = seen.page_title or sighting.page_title
    return media


def _record_found(session: Session, media: Media, seen: Seen, fetched: dict | None, actor: str | None) -> None:
    where = {"source_id": seen.source_id, "page_url": seen.page_url, "page_title": seen.page_title}
    if is_url(seen.source):
        custody.record(session, media, "fetched", {"url": seen.source, **where, **(fetched or {})}, actor=actor)
        return
    path = Path(seen.source)
    details = custody.local_file_details(path) if path.exists() else {"path": seen.source}
    custody.record(session, media, "read", {**details, **where}, actor=actor)


def save_match(session: Session, media: Media, match: Match, threshold: float, model_version: str) -> Detection:
    """Insert the detection, or update the scores of the one already there (its review stays)."""
    detection = session.scalar(select(Detection).where(
        Detection.performer_id == match.performer_id,
        Detection.media_id == media.id,
        Detection.modality == match.modality,
    ))
    values = {"score": match.score, "similarity": match.similarity, "segments": match.segments,
              "details": match.details, "threshold": threshold, "model_version": model_version}
    if detection is None:
        detection = Detection(performer_id=match.performer_id, media_id=media.id, modality=match.modality,
                              **values)
        session.add(detection)
    else:
        for key, value in values.items():
            setattr(detection, key, value)
    session.flush()
    return detection


