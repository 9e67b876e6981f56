"""Alerts: the outbox listed, due alerts sent, a test e-mail, and each performer's alert preferences."""

from __future__ import annotations

from enrollment.errors import NotFound
from monitor.services import audit
from monitor.services.context import Context


def list_alerts(ctx: Context, status: str | None = None) -> list[dict]:
    """Every alert of the agency, newest first, with its recipients, attempts and last error; only ``status``
    when given."""
    from monitor.alerts.outbox import list_alerts as outbox_alerts

    ctx.require("read")
    with ctx.reading() as session:
        return outbox_alerts(session, status, ctx.scoped_agency_id(), ctx.performer_ids)


def send_due_alerts(ctx: Context) -> dict:
    """Deliver the alerts that are due now → counts (``messages``, ``deliveries``, ``retrying``, ``failed``,
    ``deferred``) and ``errors``, one line each."""
    from monitor.alerts.sender import send_due

    ctx.require("install")
    return send_due(ctx.config, ctx.sessions).as_json()


def send_test_email(ctx: Context, to: str) -> dict:
    """Send a test e-mail with the current SMTP settings (nothing is stored) → ``{"to", "sent", "server"}``.
    A delivery failure raises one line."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from monitor.alerts.channels import send_email

    smtp = ctx.config.smtp.effective()
    message = EmailMessage()
    message["From"], message["To"] = smtp.from_address, to
    message["Subject"] = "Likeness Monitor: test message"
    message["Date"], message["Message-ID"] = formatdate(localtime=False, usegmt=True), make_msgid("likeness-test")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"This is a test message from Likeness Monitor ({ctx.config.home.resolve()}).\n"
                        f"Alerts about detections will come from {smtp.from_address} through "
                        f"{smtp.host}:{smtp.port} ({smtp.security}).\n")
    send_email(smtp, message)  # a DeliveryError is a LikenessError: one line
    return {"to": to, "sent": True, "server": f"{smtp.host}:{smtp.port}"}


def set_alert_preferences(ctx: Context, performer_id: int, muted: bool | None = None,
                          voice_threshold: float | None = None, face_threshold: float | None = None) -> dict:
    """Change what is given (nothing: only show) → ``{"performer_id", "muted", "voice_threshold",
    "face_threshold"}``, the thresholds in effect (the performer's own, else ``alerts.*_threshold``)."""
    from enrollment.service import get_performer
    from monitor.alerts.outbox import alert_threshold, set_preference

    changes = {name: value for name, value in (("muted", muted), ("voice_threshold", voice_threshold),
                                               ("face_threshold", face_threshold)) if value is not None}
    ctx.require("performers" if changes else "read")
    with ctx.sessions.begin() as session:
        performer = get_performer(session, performer_id, ctx.scoped_agency_id())  # NotFound: one line
        if not ctx.sees_performer(performer_id):
            raise NotFound(f"no performer with id {performer_id} (see `likeness performer list`)")
        preference = set_preference(session, performer_id, **changes)
        data = {"performer_id": performer_id, "muted": preference.muted,
                "voice_threshold": alert_threshold(ctx.config, preference, "voice"),
                "face_threshold": alert_threshold(ctx.config, preference, "face")}
        if changes:
            audit.record(ctx, "alerts.preferences", f"performer {performer_id}", session=session,
                         agency_id=performer.agency_id, **changes)
    return data
