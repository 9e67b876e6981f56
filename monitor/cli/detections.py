"""``likeness detections list|review``: the review queue at the command line."""

from __future__ import annotations

import click

from monitor.cli.common import App, emit, json_option

REVIEW_CHOICES = ("confirmed", "dismissed", "authorized")
STATUS_CHOICES = ("new", *REVIEW_CHOICES)


@click.group()
def detections() -> None:
    """List and review detections."""


@detections.command("list")
@click.option("--performer", "performer_id", type=int, default=None, help="Only this performer's.")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default=None, help="Only those with this status.")
@json_option
@click.pass_obj
def detections_list(app: App, performer_id: int | None, status: str | None, as_json: bool) -> None:
    """List detections, newest first."""
    from monitor.services.detections import list_detections

    rows = list_detections(app.context, performer_id, status)

    def human() -> None:
        for d in rows:
            click.echo(f"{d['id']:>5}  {d['status']:<10} {d['performer_name']:<24} {d['modality']:<5} "
                       f"score {d['score']:.2f}  {d['media']['source']}")
        if not rows:
            click.echo("no detections")

    emit(rows, as_json, human)


@detections.command("review")
@click.argument("detection_id", type=int)
@click.argument("status", type=click.Choice(REVIEW_CHOICES))
@click.option("--note", default=None, help="Why: kept with the decision.")
@click.option("--by", "reviewed_by", default=None, help="Who decided (default: the system user).")
@json_option
@click.pass_obj
def detections_review(app: App, detection_id: int, status: str, note: str | None, reviewed_by: str | None,
                      as_json: bool) -> None:
    """Record a decision: confirmed (a clone), dismissed (not them) or authorized (licensed use)."""
    from monitor.services.detections import review

    data = review(app.context, detection_id, status, note, reviewed_by or _system_user())
    emit(data, as_json, lambda: click.echo(f"detection {detection_id}: {status}"))


def _system_user() -> str | None:
    """The login name of who runs the command, as reviews have always named it (None where it is unknown)."""
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return None
