"""``likeness alerts list|send|test`` and ``likeness performer mute|unmute|alerts``."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit, json_option, warn

ALERT_STATUS_CHOICES = ("pending", "sent", "failed", "muted", "unaddressed")


@click.group()
def alerts() -> None:
    """See and send the alerts e-mailed (and posted) about detections."""


@alerts.command("list")
@click.option("--status", type=click.Choice(ALERT_STATUS_CHOICES), default=None, help="Only alerts with this status.")
@json_option
@click.pass_obj
def alerts_list(app: App, status: str | None, as_json: bool) -> None:
    """Every alert, newest first, with its recipients, attempts and last error."""
    from monitor.alerts.outbox import list_alerts

    with app.sessions() as session:
        rows = list_alerts(session, status)

    def human() -> None:
        if not rows:
            click.echo("no alerts")
        for row in rows:
            click.echo(f"alert {row['id']}: {row['status']}, {row['performer_name']}, detection {row['detection_id']}, "
                       f"{row['created_at']}")
            for r in row["recipients"]:
                error = f", last error: {r['last_error']}" if r["last_error"] else ""
                attempts = f"{r['attempts']} attempt{'' if r['attempts'] == 1 else 's'}"
                click.echo(f"  {r['channel']} {r['recipient']}: {r['status']} after {attempts}{error}")

    emit(rows, as_json, human)


@alerts.command("send")
@json_option
@click.pass_obj
def alerts_send(app: App, as_json: bool) -> None:
    """Deliver the alerts that are due now (`likeness run` does this on its own)."""
    report = send_now(app)
    emit(report.as_json(), as_json, lambda: click.echo(
        f"{report.messages} messages sent ({report.deliveries} deliveries), {report.retrying} waiting to retry, "
        f"{report.failed} failed, {report.deferred} held by the hourly cap"))


@alerts.command("test")
@click.option("--to", "to", required=True, help="The e-mail address to send a test message to.")
@json_option
@click.pass_obj
def alerts_test(app: App, to: str, as_json: bool) -> None:
    """Send a test e-mail with the current SMTP settings (nothing is stored)."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    from monitor.alerts.channels import send_email

    smtp = app.config.smtp.effective()
    message = EmailMessage()
    message["From"], message["To"] = smtp.from_address, to
    message["Subject"] = "Likeness Monitor: test message"
    message["Date"], message["Message-ID"] = formatdate(localtime=False, usegmt=True), make_msgid("likeness-test")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(f"This is a test message from Likeness Monitor ({app.config.home.resolve()}).\n"
                        f"Alerts about detections will come from {smtp.from_address} through "
                        f"{smtp.host}:{smtp.port} ({smtp.security}).\n")
    send_email(smtp, message)  # a DeliveryError is a LikenessError: one line and exit 1
    emit({"to": to, "sent": True, "server": f"{smtp.host}:{smtp.port}"}, as_json,
         lambda: click.echo(f"test message sent to {to} through {smtp.host}:{smtp.port}"))


def send_now(app: App):  # -> monitor.alerts.sender.SendReport
    from monitor.alerts.sender import send_due

    return send_due(app.config, app.sessions)


def send_after_command(app: App) -> None:
    """At the end of `scan` and `crawl`: deliver what is due; problems are one line each on stderr."""
    report = send_now(app)
    for error in report.errors[:5]:
        warn(f"alert not delivered yet: {error}", "warning")
    if len(report.errors) > 5:
        warn(f"{len(report.errors) - 5} more alerts not delivered (likeness alerts list --status pending)", "warning")


@click.command("mute")
@click.argument("performer_id", type=int)
@json_option
@click.pass_obj
def performer_mute(app: App, performer_id: int, as_json: bool) -> None:
    """Stop alerts about this performer (detections are still recorded)."""
    _set(app, performer_id, as_json, muted=True)


@click.command("unmute")
@click.argument("performer_id", type=int)
@json_option
@click.pass_obj
def performer_unmute(app: App, performer_id: int, as_json: bool) -> None:
    """Alert about this performer again (from the next detection on)."""
    _set(app, performer_id, as_json, muted=False)


@click.command("alerts")
@click.argument("performer_id", type=int)
@click.option("--voice-threshold", type=click.FloatRange(0, 1), default=None, help="Score a voice must reach.")
@click.option("--face-threshold", type=click.FloatRange(0, 1), default=None, help="Score a face must reach.")
@json_option
@click.pass_obj
def performer_alerts(app: App, performer_id: int, voice_threshold: float | None, face_threshold: float | None,
                     as_json: bool) -> None:
    """Show or set this performer's own alert thresholds (default: alerts.voice_threshold, face_threshold)."""
    _set(app, performer_id, as_json, voice_threshold=voice_threshold, face_threshold=face_threshold)


def _set(app: App, performer_id: int, as_json: bool, **changes) -> None:
    from enrollment.service import get_performer
    from monitor.alerts.outbox import alert_threshold, set_preference

    with app.sessions.begin() as session:
        get_performer(session, performer_id)  # NotFound: one line
        preference = set_preference(session, performer_id, **changes)
        data = {"performer_id": performer_id, "muted": preference.muted,
                "voice_threshold": alert_threshold(app.config, preference, "voice"),
                "face_threshold": alert_threshold(app.config, preference, "face")}
    emit(data, as_json, lambda: click.echo(
        f"performer {performer_id}: alerts {'muted' if data['muted'] else 'on'}, voice threshold "
        f"{data['voice_threshold']:.2f}, face threshold {data['face_threshold']:.2f}"))
