"""Allow-lists applied: a detection found only where its performer's licence allows is ``authorized`` under
that rule (no alert, no notice); when the rule ends (its window passes, or it is revoked) the detections it
covered are new again, and alerted then. Rules are kept in :mod:`monitor.storage.allow_rules`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment.models import utc_now
from monitor.alerts.outbox import enqueue
from monitor.config import Config
from monitor.storage import custody
from monitor.storage.allow_rules import AllowRule
from monitor.storage.models import Detection, Media, Sighting


def authorize_if_allowed(session: Session, detection: Detection, now: datetime, actor: str | None) -> bool:
    """Mark a new detection ``authorized`` by the rule it was found under, if one → whether it was."""
    if detection.status != "new":
        return False
    media = detection.media or session.get(Media, detection.media_id)
    signer = (media.content_credentials or {}).get("signer")
    rule = covering_rule(session, detection.performer_id, detection.agency_id, detection.media_id, signer, now)
    if rule is None:
        return False
    detection.status, detection.allowed_by_rule_id = "authorized", rule.id
    custody.record(session, media, "authorized", {"detection_id": detection.id, "rule_id": rule.id,
                                                  "kind": rule.kind, "value": rule.value},
                   agency_id=detection.agency_id, actor=actor)
    return True


def apply_rule(session: Session, rule: AllowRule, now: datetime, actor: str) -> list[int]:
    """A new rule authorises the performer's new detections it covers → their ids."""
    detections = session.scalars(select(Detection).where(
        Detection.performer_id == rule.performer_id, Detection.agency_id == rule.agency_id,
        Detection.sighted, Detection.status == "new").order_by(Detection.id))
    return [d.id for d in detections
            if authorize_if_allowed(session, d, now, actor) and d.allowed_by_rule_id == rule.id]


def release(session: Session, config: Config, rule: AllowRule, why: str, actor: str) -> list[int]:
    """The detections ``rule`` authorised are new again, each alerted now (its outbox entry written) → ids."""
    released = session.scalars(select(Detection).where(Detection.allowed_by_rule_id == rule.id,
                                                       Detection.status == "authorized").order_by(Detection.id))
    return [_give_back(session, config, detection, why, actor) for detection in released]


def found_outside_licence(session: Session, config: Config, media: Media, agency_id: int,
                          actor: str | None) -> list[int]:
    """After a new sighting: the agency's detections of ``media`` that a rule authorised but that are now also
    seen where no rule allows are new again, and alerted → their ids."""
    signer = (media.content_credentials or {}).get("signer")
    authorised = session.scalars(select(Detection).where(
        Detection.media_id == media.id, Detection.agency_id == agency_id, Detection.status == "authorized",
        Detection.allowed_by_rule_id.is_not(None)).order_by(Detection.id))
    return [_give_back(session, config, detection, "found also where no licence allows it", actor)
            for detection in authorised
            if covering_rule(session, detection.performer_id, agency_id, media.id, signer, utc_now()) is None]


def _give_back(session: Session, config: Config, detection: Detection, why: str, actor: str | None) -> int:
    rule_id, detection.status, detection.allowed_by_rule_id = detection.allowed_by_rule_id, "new", None
    custody.record(session, session.get(Media, detection.media_id), "unauthorized",
                   {"detection_id": detection.id, "rule_id": rule_id, "why": why},
                   agency_id=detection.agency_id, actor=actor)
    enqueue(session, detection, config)
    return detection.id


def end_expired_rules(session: Session, config: Config, now: datetime, actor: str) -> dict[int, list[int]]:
    """Rules whose window has passed give their detections back (once each) → {rule id: detection ids}."""
    ended = {}
    for rule in session.scalars(select(AllowRule).where(AllowRule.valid_until <= now, AllowRule.ended_at.is_(None),
                                                        AllowRule.revoked_at.is_(None)).order_by(AllowRule.id)):
        ended[rule.id] = release(session, config, rule, f"the licence ended on {rule.valid_until.isoformat()}", actor)
        rule.ended_at = now
    return ended


def covering_rule(session: Session, performer_id: int, agency_id: int, media_id: int, signer: str | None,
                  now: datetime) -> AllowRule | None:
    """The performer's active rule under which every sighting of the media by ``agency_id`` falls, or None."""
    rules = [rule for rule in session.scalars(select(AllowRule).where(
        AllowRule.performer_id == performer_id, AllowRule.agency_id == agency_id).order_by(AllowRule.id))
        if rule.active(now)]
    if not rules:  # most performers: one query, on the way of every detection told
        return None
    sightings = session.execute(select(Sighting.source, Sighting.page_url, Sighting.page_title)
                                .where(Sighting.media_id == media_id, Sighting.agency_id == agency_id)).all()
    return next((rule for rule in rules
                 if sightings and all(rule.covers(source, page, title, signer) for source, page, title in sightings)),
                None)
