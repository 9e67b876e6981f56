"""From an alert in the database to the findings a message tells: its detections, where and when, pictures."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from enrollment.errors import LikenessError
from enrollment.models import FaceReference
from monitor.alerts.message import Finding
from monitor.alerts.outbox import alert_threshold
from monitor.config import Config
from monitor.storage.content_store import content_store
from monitor.storage.models import Alert, AlertPreference, Detection, Media, Sighting, Source

logger = logging.getLogger(__name__)


def findings_for(session: Session, alert: Alert, config: Config) -> list[Finding]:
    """One finding per detection of the alert's (performer, media) pair, best first (voice and face alike)."""
    media = session.get(Media, alert.media_id)
    detections = session.scalars(
        select(Detection).options(selectinload(Detection.performer))
        .where(Detection.performer_id == alert.performer_id, Detection.media_id == alert.media_id)
        .order_by(Detection.score.desc(), Detection.id)).all()
    # the first place the alert's agency saw it: the sighting that raised the alert
    sighting = session.scalar(select(Sighting).where(Sighting.media_id == media.id,
                                                     Sighting.agency_id == alert.agency_id)
                              .order_by(Sighting.first_seen_at, Sighting.id).limit(1))
    source = session.get(Source, sighting.source_id) if sighting is not None and sighting.source_id else None
    preference = session.get(AlertPreference, alert.performer_id)
    findings = []
    for detection in detections:
        details = detection.details or {}
        findings.append(Finding(
            detection_id=detection.id, performer_id=detection.performer_id, performer_name=detection.performer.name,
            modality=detection.modality, score=detection.score, similarity=detection.similarity,
            threshold=alert_threshold(config, preference, detection.modality), segments=detection.segments,
            found_url=sighting.source if sighting is not None else media.sha256,
            found_at=sighting.first_seen_at if sighting is not None else alert.created_at,
            media_sha256=media.sha256, media_type=media.media_type, duration_s=media.duration_s,
            page_url=sighting.page_url if sighting is not None else None,
            page_title=sighting.page_title if sighting is not None else None,
            source_name=(source.name or source.url) if source is not None else None,
            curve=[(float(t), float(score)) for t, score in detection.curve or []] or None,
            tier=details.get("tier"), **_population(details), content_credentials=media.content_credentials,
            chance_text=(details.get("chance") or {}).get("text"), reupload_of=detection.reupload_of_id,
            found_face_jpeg=found_face(config, media, details) if detection.modality == "face" else None,
            reference_face_jpeg=reference_face(session, config, alert.performer_id) if detection.modality == "face"
            else None,
        ))
    return findings


def _population(details: dict) -> dict:
    """``population_rank`` (0 to 1) and ``population_size`` from a detection's details, when measured."""
    population = details.get("population") or {}
    if not population.get("compared"):
        return {}
    return {"population_rank": population["closer_than"] / population["compared"],
            "population_size": population["compared"]}


def reference_face(session: Session, config: Config, performer_id: int) -> bytes | None:
    """A small JPEG of the performer's first reference photo whose file the store holds (kept at enrolment)."""
    from enrollment.media import load_image
    from monitor.alerts.pictures import crop_jpeg

    store = content_store(config)
    for reference in session.scalars(select(FaceReference).where(FaceReference.performer_id == performer_id)
                                     .order_by(FaceReference.id)):
        path = store.path_for(reference.source_sha256)
        if path.is_file() and "box" in reference.quality:
            try:
                return crop_jpeg(load_image(path, config.media), tuple(reference.quality["box"]))
            except (LikenessError, OSError, ValueError) as error:
                logger.info("no reference picture from %s: %s", reference.source_name, error)
    return None


def found_face(config: Config, media: Media, details: dict) -> bytes | None:
    """A small JPEG of the best matching face, cut from the stored media; None when it cannot be had."""
    from monitor.alerts.pictures import crop_jpeg

    rgb = analysed_frame(config, media, details) if "box" in details else None
    try:
        return crop_jpeg(rgb, tuple(details["box"])) if rgb is not None else None
    except ValueError as error:  # no picture is better than no alert
        logger.info("no face picture for media %s: %s", media.sha256[:12], error)
        return None


def analysed_frame(config: Config, media: Media, details: dict):  # -> np.ndarray (H, W, 3) uint8 | None
    """The picture a face detection was made on: the image, or the sampled video frame at ``details["time_s"]``,
    decoded and scaled as the analysis did (so the stored box fits it); None when it cannot be had."""
    from enrollment.media import load_image
    from enrollment.video_frames import iter_video_frames

    path = content_store(config).path_for(media.sha256)
    try:
        if media.media_type == "image":
            return load_image(path, config.media)
        wanted_s, rgb = details.get("time_s", 0.0), None
        for time_s, frame in iter_video_frames(path, config.media):
            rgb = frame
            if time_s >= wanted_s - 1e-6:
                break
        return rgb
    except (LikenessError, OSError) as error:
        logger.info("no frame of media %s: %s", media.sha256[:12], error)
        return None
