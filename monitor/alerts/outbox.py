"""The outbox: alerts written with their detections, in the same transaction, and what the CLI shows of them.

An alert is one (performer, media) pair, created once ever (a unique constraint): a re-scan, a second
modality or a restart never raises it again. Its deliveries (one per contact e-mail address and per
configured URL) are made later by :mod:`monitor.alerts.sender`; if the process dies before they are
made, they are still in the database, pending.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from enrollment.errors import LikenessError
from enrollment.models import Contact
from monitor.config import Config
from monitor.storage.models import ALERT_STATUSES, DELIVERY_STATUSES, Alert, AlertPreference, Delivery, Detection


def alert_threshold(config: Config, preference: AlertPreference | None, modality: str) -> float:
    """The score a detection of ``modality`` must reach to alert: the performer's own, else the config's."""
    own = getattr(preference, f"{modality}_threshold", None) if preference is not None else None
    return own if own is not None else getattr(config.alerts, f"{modality}_threshold")


def enqueue(session: Session, detection: Detection, config: Config) -> Alert | None:
    """Write the alert for ``detection`` in ``session`` (the detection's own transaction), or None when it
    does not alert: below the threshold, already reviewed, or its (performer, media) pair has alerted before.
    """
    preference = session.get(AlertPreference, detection.performer_id)
    if detection.status != "new" or detection.score < alert_threshold(config, preference, detection.modality):
        return None
    exists = session.scalar(select(Alert.id).where(Alert.performer_id == detection.performer_id,
                                                   Alert.media_id == detection.media_id))
    if exists is not None:
        return None
    alert = Alert(agency_id=detection.agency_id, performer_id=detection.performer_id, media_id=detection.media_id,
                  detection_id=detection.id)
    if preference is not None and preference.muted:
        alert.status = "muted"
    else:
        emails = session.scalars(select(Contact.email).where(Contact.performer_id == detection.performer_id)
                                 .order_by(Contact.id))
        alert.deliveries = [Delivery(channel="email", recipient=email) for email in emails]
        alert.deliveries += [Delivery(channel="url", recipient=recipient) for recipient in url_recipients(config)]
        alert.status = "pending" if alert.deliveries else "unaddressed"
    session.add(alert)
    session.flush()
    return alert


def url_recipients(config: Config) -> list[str]:
    """The configured alert URLs as stored: redacted (tokens never reach the database)."""
    from monitor.alerts.channels import redact

    return list(dict.fromkeys(redact(url) for url in config.alerts.all_urls))


def set_preference(session: Session, performer_id: int, *, muted: bool | None = None,
                   voice_threshold: float | None = None, face_threshold: float | None = None) -> AlertPreference:
    """Change a performer's alert settings (None: unchanged). Thresholds are scores in [0, 1]."""
    for name, value in (("voice_threshold", voice_threshold), ("face_threshold", face_threshold)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise LikenessError(f"{name} must be a score between 0 and 1, not {value}")
    preference = session.get(AlertPreference, performer_id) or AlertPreference(performer_id=performer_id,
                                                                              muted=False)
    session.add(preference)
    if muted is not None:
        preference.muted = muted
    preference.voice_threshold = voice_threshold if voice_threshold is not None else preference.voice_threshold
    preference.face_threshold = face_threshold if face_threshold is not None else preference.face_threshold
    session.flush()
    return preference


def list_alerts(session: Session, status: str | None = None, agency_id: int | None = None,
                performer_ids: frozenset[int] | None = None) -> list[dict]:
    """Every alert (of ``agency_id``, of ``performer_ids`` when given), newest first, with its deliveries;
    ``status`` filters alerts (see ALERT_STATUSES)."""
    if status is not None and status not in ALERT_STATUSES:
        raise LikenessError(f"status must be one of {', '.join(ALERT_STATUSES)}")
    query = select(Alert).options(selectinload(Alert.deliveries), selectinload(Alert.performer))
    if status is not None:
        query = query.where(Alert.status == status)
    if agency_id is not None:
        query = query.where(Alert.agency_id == agency_id)
    if performer_ids is not None:
        query = query.where(Alert.performer_id.in_(performer_ids))
    return [alert_json(alert) for alert in session.scalars(query.order_by(Alert.created_at.desc(), Alert.id.desc()))]


def alert_json(alert: Alert) -> dict:
    return {
        "id": alert.id,
        "status": alert.status,
        "performer_id": alert.performer_id,
        "performer_name": alert.performer.name,
        "media_id": alert.media_id,
        "detection_id": alert.detection_id,
        "created_at": alert.created_at.isoformat(timespec="seconds"),
        "recipients": [{
            "channel": d.channel,
            "recipient": d.recipient,
            "status": d.status,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "next_attempt_at": d.next_attempt_at.isoformat(timespec="seconds") if d.next_attempt_at else None,
            "sent_at": d.sent_at.isoformat(timespec="seconds") if d.sent_at else None,
        } for d in alert.deliveries],
    }


def settle(alert: Alert) -> None:
    """The alert's status from its deliveries' (after a delivery changed)."""
    if alert.status in ("muted", "unaddressed"):
        return
    statuses = {d.status for d in alert.deliveries}
    assert statuses <= set(DELIVERY_STATUSES)
    alert.status = "pending" if "pending" in statuses else "failed" if "failed" in statuses else "sent"
