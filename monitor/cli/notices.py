"""``likeness notice draft|send|list|show|mark|recheck|stats``: takedown notices for confirmed detections."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit, json_option

# monitor.storage.notices.BASES and STATUSES, spelled out: `likeness --help` must not import the storage
BASIS_CHOICES = ("dmca", "take-it-down", "publicity", "platform")
STATUS_CHOICES = ("drafted", "sent", "acknowledged", "removed", "still_up", "refused", "withdrawn")


@click.group()
def notice() -> None:
    """Takedown notices: drafted from confirmed detections, then tracked until the material is gone."""


@notice.command("draft")
@click.argument("detection_ids", nargs=-1, required=True, type=click.IntRange(min=1), metavar="DETECTION_ID...")
@click.option("--basis", required=True, type=click.Choice(BASIS_CHOICES),
              help="The law it invokes: dmca (§512(c)(3)), take-it-down (intimate images, 48 h), publicity "
                   "(voice and likeness), platform (the fields of a platform's form).")
@click.option("--signer", "signer_email", metavar="EMAIL",
              help="Who signs it: an owner, admin or legal user of the agency.")
@click.option("--signer-name", metavar="NAME", help="The name they sign with.")
@click.option("--to", "recipient", metavar="ADDRESS_OR_URL",
              help="Where it goes: an e-mail address or a form's https:// URL (default: [notices.contacts]).")
@click.option("--work", metavar="TEXT", help="dmca: the copyrighted work (default: the performers' own "
                                             "recordings and images).")
@json_option
@click.pass_obj
def notice_draft(app: App, detection_ids: tuple[int, ...], basis: str, signer_email: str | None,
                 signer_name: str | None, recipient: str | None, work: str | None, as_json: bool) -> None:
    """Draft a notice (text and PDF, with the evidence bundle it cites) for confirmed detections."""
    from monitor.services.notices import draft_notice

    data = draft_notice(app.context, list(detection_ids), basis, signer_email, signer_name, recipient, work)
    emit(data, as_json, lambda: click.echo(
        f"notice {data['id']} ({data['basis']}) drafted for {data['to']}\n  {data['pdf']}"))


@notice.command("send")
@click.argument("notice_id", type=click.IntRange(min=1))
@json_option
@click.pass_obj
def notice_send(app: App, notice_id: int, as_json: bool) -> None:
    """E-mail a notice to its recipient (its PDF attached) and record it sent."""
    from monitor.services.notices import send_notice

    data = send_notice(app.context, notice_id)
    emit(data, as_json, lambda: click.echo(f"notice {data['id']}: {data['history'][-1]['note']}"))


@notice.command("list")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default=None, help="Only notices with this status.")
@click.option("--detection", "detection_id", type=click.IntRange(min=1), default=None, metavar="DETECTION_ID",
              help="Only notices naming this detection.")
@json_option
@click.pass_obj
def notice_list(app: App, status: str | None, detection_id: int | None, as_json: bool) -> None:
    """List the notices, newest first."""
    from monitor.services.notices import list_notices

    rows = list_notices(app.context, status, detection_id)

    def human() -> None:
        for row in rows:
            click.echo(f"{row['id']:>5}  {row['status']:<12} {row['basis']:<12} {row['updated_at'][:10]}  "
                       f"{row['to']}  detections {', '.join(map(str, row['detection_ids']))}")
        if not rows:
            click.echo("no notices" + (f" {status}" if status else "") + ": likeness notice draft DETECTION_ID "
                       "--basis … --signer EMAIL --signer-name NAME")

    emit(rows, as_json, human)


@notice.command("show")
@click.argument("notice_id", type=click.IntRange(min=1))
@json_option
@click.pass_obj
def notice_show(app: App, notice_id: int, as_json: bool) -> None:
    """Show a notice: its text, files and history."""
    from monitor.services.notices import get_notice

    data = get_notice(app.context, notice_id)

    def human() -> None:
        click.echo(data["text"])
        click.echo(f"PDF: {data['pdf']}\nEvidence bundle: {data['evidence']['bundle']} "
                   f"(SHA-256 {data['evidence']['sha256']})")
        for step in data["history"]:
            click.echo(f"{step['at']}  {step['status']:<12} {step['actor']}" + (f"  {step['note']}"
                                                                                 if step["note"] else ""))

    emit(data, as_json, human)


@notice.command("mark")
@click.argument("notice_id", type=click.IntRange(min=1))
@click.argument("status", type=click.Choice(STATUS_CHOICES[1:]))
@click.option("--note", default=None, help="Why, or what the platform said.")
@json_option
@click.pass_obj
def notice_mark(app: App, notice_id: int, status: str, note: str | None, as_json: bool) -> None:
    """Record what became of a notice: sent, acknowledged, removed, still_up, refused or withdrawn."""
    from monitor.services.notices import mark_notice

    data = mark_notice(app.context, notice_id, status, note)
    emit(data, as_json, lambda: click.echo(f"notice {data['id']}: {data['status']}"))


@notice.command("recheck")
@click.argument("notice_id", type=click.IntRange(min=1), required=False)
@click.option("--now", is_flag=True, help="Every sent notice (or NOTICE_ID) at once, not only those due.")
@json_option
@click.pass_obj
def notice_recheck(app: App, notice_id: int | None, now: bool, as_json: bool) -> None:
    """Capture again what sent notices name, and judge whether it was removed."""
    from monitor.services.notice_checks import recheck_notices

    rows = recheck_notices(app.context, notice_id, now)

    def human() -> None:
        for row in rows:
            why = f" ({row['error']})" if row["error"] else ""
            click.echo(f"notice {row['notice_id']}: {row['kind']} {row['verdict']}{why}  {row['url']}")
        if not rows:
            click.echo("nothing to recheck" + ("" if now else " yet (--now: every sent notice at once)"))

    emit(rows, as_json, human)


@notice.command("stats")
@json_option
@click.pass_obj
def notice_stats_command(app: App, as_json: bool) -> None:
    """Per host: notices sent, removed, and the median time to removal."""
    from monitor.services.notice_checks import notice_stats

    rows = notice_stats(app.context)

    def human() -> None:
        for row in rows:
            median = f"{row['median_hours_to_removal']} h" if row["median_hours_to_removal"] is not None else "-"
            click.echo(f"{row['host']:<40} sent {row['sent']:>4}  removed {row['removed']:>4} "
                       f"({100 * row['removal_rate']:.0f} %)  median to removal {median}")
        if not rows:
            click.echo("no notices sent yet")

    emit(rows, as_json, human)
