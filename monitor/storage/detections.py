"""Detection rows read back: the DETECTION object of the CLI contract, with the population and credentials
sentences.

Recorded by :mod:`monitor.pipeline.record`; listed and reviewed by :mod:`monitor.services.detections`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from monitor.storage.models import Detection, Sighting


def latest_sighting(session: Session, media_id: int, agency_id: int) -> Sighting | None:
    """Where ``agency_id`` saw the media last: its URL or path, the page it was on, when first seen there."""
    return session.scalar(select(Sighting).where(Sighting.media_id == media_id, Sighting.agency_id == agency_id)
                          .order_by(Sighting.last_seen_at.desc(), Sighting.id.desc()).limit(1))


def latest_source(session: Session, media_id: int, agency_id: int) -> str | None:
    """Where ``agency_id`` saw the media last (a URL or a path)."""
    seen = latest_sighting(session, media_id, agency_id)
    return seen.source if seen is not None else None


def latest_sources(session: Session, detections: list[Detection]) -> dict[tuple[int, int], str]:
    """Where each detection's agency saw its media last, for many at once: {(media_id, agency_id): source}."""
    wanted = {(d.media_id, d.agency_id) for d in detections}
    rows = session.execute(select(Sighting.media_id, Sighting.agency_id, Sighting.source)
                           .where(Sighting.media_id.in_({media_id for media_id, _agency in wanted}))
                           .order_by(Sighting.last_seen_at.desc(), Sighting.id.desc())) if wanted else []
    found: dict[tuple[int, int], str] = {}
    for media_id, agency_id, source in rows:
        if (media_id, agency_id) in wanted:
            found.setdefault((media_id, agency_id), source)
    return found


def detection_json(detection: Detection, source: str | None = None) -> dict:
    """The DETECTION object of the CLI contract."""
    media = detection.media
    return {
        "id": detection.id,
        "performer_id": detection.performer_id,
        "performer_name": detection.performer.name,
        "modality": detection.modality,
        "score": round(detection.score, 4),
        "similarity": round(detection.similarity, 4),
        "media": {
            "sha256": media.sha256,
            "source": source,
            "media_type": media.media_type,
            "duration_s": round(media.duration_s, 2) if media.duration_s is not None else None,
            "content_credentials": media.content_credentials,
        },
        "segments": detection.segments,
        "status": detection.status,
        "allowed_by_rule_id": detection.allowed_by_rule_id,
        "reupload_of": detection.reupload_of_id,
        "created_at": detection.created_at.isoformat(timespec="seconds"),
        "credentials_text": credentials_text(media.content_credentials),
    } | _population(detection)


def _population(detection: Detection) -> dict:
    """A voice detection's tier, and where a detection falls among other people's voices or faces (absent
    for detections made before populations)."""
    details = detection.details or {}
    found = {"tier": details["tier"]} if detection.modality == "voice" and "tier" in details else {}
    if "population" in details or found:
        found |= {"normalised_score": details.get("normalised_score"), "population": details.get("population"),
                  "population_text": population_text(detection)}
    if "chance" in details:  # voice detections decided on speaker turns against the roster
        found |= {"chance": details["chance"], "chance_text": details["chance"].get("text")}
    return found


def population_text(detection: Detection) -> str | None:
    """"closer to Ada's voiceprint than 99.2 % of 130 other voices" ("…Ada's face than … other faces"), or
    None when not measured."""
    population = (detection.details or {}).get("population") or {}
    if not population.get("compared"):
        return None
    name, compared = detection.performer.name, population["compared"]
    whose, others = ("voiceprint", "voices") if detection.modality == "voice" else ("face", "faces")
    if population["closer_than"] == compared:
        return f"closer to {name}'s {whose} than all {compared} other {others} compared"
    return f"closer to {name}'s {whose} than {population['percentile']:.1f} % of {compared} other {others}"


def credentials_text(credentials: dict | None) -> str | None:
    """One sentence on what a media's Content Credentials declare and how far they can be believed, or None
    without any: "Content Credentials signed by OpenAI (OpenAI), a signer your trust anchors vouch for, declare it
    AI-generated (trainedAlgorithmicMedia)"."""
    if not credentials:
        return None
    signer = credentials.get("signer") or "an unnamed signer"
    state = credentials.get("validation_state")
    if state == "trusted":
        how = f"signed by {signer}, a signer your trust anchors vouch for,"
    elif state == "valid":
        how = f"signed by {signer} (intact, but not a signer your trust anchors vouch for)"
    else:
        failures = credentials.get("failures") or ["unreadable"]
        how = f"that fail their check ({failures[0]}: changed after signing, or not signed as they claim)"
    if not credentials.get("ai_generated"):
        return f"Content Credentials {how} do not declare it AI-generated"
    kinds = sorted({a["digital_source_type"] for a in credentials.get("actions", []) if a.get("digital_source_type")})
    return f"Content Credentials {how} declare it AI-generated" + (f" ({', '.join(kinds)})" if kinds else "")


def detections_for_media(session: Session, media_id: int) -> list[Detection]:
    return list(session.scalars(
        select(Detection).where(Detection.media_id == media_id)
        .options(selectinload(Detection.performer), selectinload(Detection.media))
        .order_by(Detection.score.desc(), Detection.id)
    ))
