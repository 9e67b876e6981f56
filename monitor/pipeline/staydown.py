"""Staydown: a confirmed clone's fingerprint kept, and its re-uploads known again wherever they turn up.

:func:`keep_print` runs when a detection is confirmed; :func:`reupload_of` when a detection is told to its
agency (:mod:`monitor.pipeline.tenants`): a detection of the same performer, for the same agency, in media whose
fingerprint matches a kept one is a re-upload of that confirmed case. It is linked to it, confirmed in the
case's name (a review by ``staydown``), and alerted like any detection. A file missing from this machine's
store, or without sound or picture to fingerprint, is simply not linked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.config import Config
from monitor.storage import custody
from monitor.storage.models import Detection, Media, Review
from monitor.storage.staydown import StaydownPrint

logger = logging.getLogger(__name__)


def media_print(config: Config, media: Media) -> tuple[str, list[int] | str | dict] | None:
    """(kind, fingerprint) of a stored media: ``audio`` its sound, ``image`` its picture, ``video`` both its
    sound and its frames (``{"audio": [...] | None, "frames": [...] | None}``); None where there is none (the
    reason logged)."""
    from monitor.enforcement.fingerprints import NoFingerprint, audio_print, frame_prints, image_print
    from monitor.storage.content_store import content_store

    path = content_store(config).path_for(media.sha256)
    try:
        if not path.exists():
            raise NoFingerprint("not in this machine's store")
        if media.media_type == "image":
            return "image", image_print(path)
        if media.media_type == "audio":
            return "audio", audio_print(path)
        if media.media_type == "video":
            parts = {"audio": _or_none(audio_print, path), "frames": _or_none(frame_prints, path, config.media)}
            if not any(parts.values()):
                raise NoFingerprint("neither sound nor pictures to fingerprint")
            return "video", parts
        raise NoFingerprint(f"a {media.media_type or 'media'} file")
    except (NoFingerprint, ImportError, OSError) as why:  # ImportError: pyacoustid or libchromaprint missing
        logger.info("no staydown fingerprint of %s: %s", media.sha256[:12], why)
        return None


def _or_none(fingerprint: Callable[..., list], *arguments: object) -> list | None:
    """A part of a video's fingerprint, or None where it has none (its sound, its pictures)."""
    from monitor.enforcement.fingerprints import NoFingerprint

    try:
        return fingerprint(*arguments)
    except (NoFingerprint, ImportError) as why:
        logger.info("a part of a video not fingerprinted: %s", why)
        return None


def _parts(kind: str, data: list[int] | str | dict) -> dict:
    """A kept fingerprint as the parts ``same_media`` of :mod:`monitor.enforcement.fingerprints` compares."""
    return data if kind == "video" else {kind: data}


def keep_print(session: Session, config: Config, detection: Detection) -> bool:
    """Keep the confirmed detection's fingerprint (once) → whether one was kept."""
    if session.scalar(select(StaydownPrint.id).where(StaydownPrint.detection_id == detection.id)) is not None:
        return True
    found = media_print(config, detection.media)
    if found is not None:
        session.add(StaydownPrint(agency_id=detection.agency_id, performer_id=detection.performer_id,
                                  detection_id=detection.id, kind=found[0], print_data=found[1]))
    return found is not None


def reupload_of(session: Session, config: Config, detection: Detection, prints: dict) -> tuple[int, str] | None:
    """The confirmed case whose fingerprint a new detection's media matches → (its id, how it matched), or None.
    ``prints``: the media's fingerprint once worked out, shared by the media's detections ({} at first)."""
    from monitor.enforcement import fingerprints

    if detection.status != "new" or detection.reupload_of_id is not None:
        return None
    kept = list(session.scalars(select(StaydownPrint).where(
        StaydownPrint.agency_id == detection.agency_id, StaydownPrint.performer_id == detection.performer_id,
        StaydownPrint.detection_id != detection.id).order_by(StaydownPrint.id)))
    if not kept:
        return None
    if "found" not in prints:
        prints["found"] = media_print(config, detection.media or session.get(Media, detection.media_id))
    if prints["found"] is None:
        return None
    found = _parts(*prints["found"])
    for case in kept:
        how = fingerprints.same_media(_parts(case.kind, case.print_data), found)
        if how is not None:
            return case.detection_id, how
    return None


def confirm_reupload(session: Session, detection: Detection, case_id: int, how: str, actor: str | None) -> None:
    """Link the detection to the case it re-uploads, confirmed in the case's name (a review by staydown)."""
    note = f"re-upload of confirmed case {case_id} ({how})"
    detection.reupload_of_id, detection.status = case_id, "confirmed"
    detection.reviews.append(Review(status="confirmed", note=note, reviewed_by="staydown"))
    custody.record(session, detection.media or session.get(Media, detection.media_id), "reviewed",
                   {"detection_id": detection.id, "status": "confirmed", "note": note, "reupload_of": case_id},
                   agency_id=detection.agency_id, actor=actor)
