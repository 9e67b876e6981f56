"""``likeness alerts list|send|test``: the outbox of alerts about detections."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit, json_option

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
    from monitor.services.alerts import list_alerts

    rows = list_alerts(app.context, status)

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
    from monitor.services.alerts import send_due_alerts

    report = send_due_alerts(app.context)
    emit(report, as_json, lambda: click.echo(
        f"{report['messages']} messages sent ({report['deliveries']} deliveries), {report['retrying']} waiting to "
        f"retry, {report['failed']} failed, {report['deferred']} held by the hourly cap"))


@alerts.command("test")
@click.option("--to", "to", required=True, help="The e-mail address to send a test message to.")
@json_option
@click.pass_obj
def alerts_test(app: App, to: str, as_json: bool) -> None:
    """Send a test e-mail with the current SMTP settings (nothing is stored)."""
    from monitor.services.alerts import send_test_email

    data = send_test_email(app.context, to)
    emit(data, as_json, lambda: click.echo(f"test message sent to {to} through {data['server']}"))
