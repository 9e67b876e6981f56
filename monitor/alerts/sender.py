"""The sender: due deliveries, one message per recipient (a digest when several), retried with back-off.

Run by ``likeness run`` every ``alerts.send_every_s`` and at the end of ``likeness crawl`` and
``likeness scan``. Pending deliveries are grouped by recipient; each group is claimed (so two
processes never send the same one), rendered, sent, and its outcome written in one transaction:

* delivered → "sent", with the message's id (a digest's deliveries share it);
* a temporary failure (server down, timeout, 4xx) → tried again after ``alerts.retry_first_s``,
  doubling up to ``alerts.retry_max_s``; given up ("failed") once the alert is older than
  ``alerts.give_up_after_s``; a permanent failure (address refused, bad URL) → "failed" at once;
* a recipient who had ``alerts.max_per_recipient_per_hour`` messages in the last hour waits: nothing
  is dropped.

Delivery is at least once: a crash between the server's acceptance and the commit sends that message
again on the next run, with the same Message-ID, which mail clients use to drop the copy.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from enrollment.errors import LikenessError, unexpected
from enrollment.models import utc_now
from monitor.alerts.findings import findings_for
from monitor.alerts.outbox import settle
from monitor.config import Config
from monitor.storage import custody
from monitor.storage.models import Alert, Delivery, Media

logger = logging.getLogger(__name__)

CLAIM_S = 300.0  # a group being sent is hidden from other senders this long (longer than any send can take)


@dataclass
class SendReport:
    """``messages``: messages delivered (a digest counts once); ``deliveries``: alert deliveries they made;
    ``retrying`` / ``failed`` / ``deferred``: deliveries now waiting to retry, given up, held by the hourly cap.
    ``errors``: one line per failed message attempt."""

    messages: int = 0
    deliveries: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"messages": self.messages, "deliveries": self.deliveries, "retrying": self.retrying,
                "failed": self.failed, "deferred": self.deferred, "errors": self.errors}


def send_due(config: Config, sessions: sessionmaker[Session], now: datetime | None = None) -> SendReport:
    """Send every delivery that is due at ``now`` (UTC; default: the present)."""
    now = now or utc_now()
    report = SendReport()
    with sessions() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.channel, Delivery.recipient)
            .where(_due(now)).order_by(Delivery.id)).all()
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for delivery_id, channel, recipient in rows:
        groups[(channel, recipient)].append(delivery_id)
    findings: dict[int, list] = {}  # per alert id: the artist and the agent get the same pictures, made once
    for (channel, recipient), ids in groups.items():
        try:
            _send_group(config, sessions, channel, recipient, ids, now, report, findings)
        except Exception as error:  # one recipient's bug must not stop the others
            if os.environ.get("LIKENESS_DEBUG"):
                raise
            logger.debug("sending to %s failed", recipient, exc_info=True)
            report.errors.append(f"{recipient}: {unexpected(error)}")
    return report


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(Delivery.status == "pending", or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now))


def _send_group(config: Config, sessions: sessionmaker[Session], channel: str, recipient: str, ids: list[int],
                now: datetime, report: SendReport, findings_of: dict[int, list]) -> None:
    if (wait_until := _capped_until(sessions, config, channel, recipient, now)) is not None:
        with sessions.begin() as session:
            session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(next_attempt_at=wait_until))
        report.deferred += len(ids)
        return
    if not _claim(sessions, ids, now):
        return  # another sender has them
    message_id = _message_id(config, ids)
    try:
        with sessions() as session:
            alerts = list(session.scalars(select(Alert).join(Delivery).where(Delivery.id.in_(ids))
                                          .order_by(Alert.id).distinct()))
            for alert in alerts:
                if alert.id not in findings_of:
                    findings_of[alert.id] = findings_for(session, alert, config)
            findings = [finding for alert in alerts for finding in findings_of[alert.id]]
        _deliver(config, channel, recipient, findings, message_id)
        error = None
    except LikenessError as failure:
        error = failure
    except Exception as failure:  # a bug while rendering: recorded on the deliveries, retried later
        if os.environ.get("LIKENESS_DEBUG"):
            raise
        logger.debug("rendering for %s failed", recipient, exc_info=True)
        error = LikenessError(unexpected(failure))
    _record(config, sessions, ids, now, message_id, error, report)
    if error is not None:
        report.errors.append(f"{recipient}: {error}")


def _deliver(config: Config, channel: str, recipient: str, findings: list, message_id: str) -> None:
    from monitor.alerts.channels import DeliveryError, redact, send_email, send_to_url
    from monitor.alerts.render import compose_email, render

    if channel == "email":
        smtp = config.smtp.effective()
        if not smtp.host:  # before rendering: nothing to do until a server is set
            raise DeliveryError("e-mail is not configured: set smtp.host or LIKENESS_SMTP_HOST")
        send_email(smtp, compose_email(render(findings, config.alerts), smtp.from_address, [recipient], message_id))
        return
    urls = [url for url in config.alerts.all_urls if redact(url) == recipient]
    if not urls:
        raise DeliveryError(f"{recipient}: no longer in alerts.urls or LIKENESS_ALERT_URLS", permanent=True)
    send_to_url(urls[0], render(findings, config.alerts), config.fetch.timeout_s)


def _capped_until(sessions: sessionmaker[Session], config: Config, channel: str, recipient: str,
                  now: datetime) -> datetime | None:
    """When ``recipient`` may get the next message, if the hourly cap holds it back now; else None."""
    hour_ago = now - timedelta(hours=1)
    with sessions() as session:
        sent = session.execute(
            select(Delivery.message_id, func.min(Delivery.sent_at))
            .where(Delivery.channel == channel, Delivery.recipient == recipient, Delivery.status == "sent",
                   Delivery.sent_at > hour_ago)
            .group_by(Delivery.message_id).order_by(func.min(Delivery.sent_at))).all()
    cap = config.alerts.max_per_recipient_per_hour
    if len(sent) < cap:
        return None
    return sent[len(sent) - cap][1] + timedelta(hours=1)  # when the oldest message that counts leaves the hour


class _Taken(Exception):
    """Internal: another sender claimed some of a group first."""


def _claim(sessions: sessionmaker[Session], ids: list[int], now: datetime) -> bool:
    """Hide the group from other senders for CLAIM_S; False (and nothing changed) if one got there first."""
    try:
        with sessions.begin() as session:
            claimed = session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids), _due(now))
                .values(next_attempt_at=now + timedelta(seconds=CLAIM_S)))
            if claimed.rowcount != len(ids):
                raise _Taken
    except _Taken:
        return False
    return True


def _record(config: Config, sessions: sessionmaker[Session], ids: list[int], now: datetime, message_id: str,
            error: LikenessError | None, report: SendReport) -> None:
    settings = config.alerts
    with sessions.begin() as session:
        deliveries = list(session.scalars(select(Delivery).where(Delivery.id.in_(ids))))
        for delivery in deliveries:
            delivery.attempts += 1
            if error is None:
                delivery.status, delivery.sent_at, delivery.message_id = "sent", now, message_id
                delivery.last_error, delivery.next_attempt_at = None, None
                report.deliveries += 1
                custody.record(session, session.get(Media, delivery.alert.media_id), "alerted", {
                    "alert_id": delivery.alert_id, "detection_id": delivery.alert.detection_id,
                    "channel": delivery.channel, "recipient": delivery.recipient, "message_id": message_id},
                    agency_id=delivery.alert.agency_id)
                continue
            delivery.last_error = str(error)
            age_s = (now - delivery.alert.created_at).total_seconds()
            if getattr(error, "permanent", False) or age_s >= settings.give_up_after_s:
                delivery.status, delivery.next_attempt_at = "failed", None
                report.failed += 1
            else:
                wait_s = min(settings.retry_first_s * 2 ** (delivery.attempts - 1), settings.retry_max_s)
                delivery.next_attempt_at = now + timedelta(seconds=wait_s)
                report.retrying += 1
        for alert in {delivery.alert for delivery in deliveries}:
            settle(alert)
    report.messages += error is None


def _message_id(config: Config, ids: list[int]) -> str:
    """The same for every attempt at the same group, so that a copy sent twice can be recognised."""
    digest = hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:24]
    domain = parseaddr(config.smtp.from_address)[1].rpartition("@")[2] or socket.getfqdn()
    return f"<likeness-{digest}@{domain}>"
