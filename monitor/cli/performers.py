"""``likeness performer add|consent|list|remove|mute|unmute|alerts`` and ``likeness enroll voice|face``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from enrollment.errors import shown_name
from monitor.cli.common import App, emit, json_option, warn


@click.group()
def performer() -> None:
    """Add, list and remove performers (with their consent)."""


@performer.command("add")
@click.argument("name")
@click.option("--email", "emails", multiple=True, help="A contact told of detections (repeatable).")
@click.option("--agency", default=None, help="The agency that represents the performer.")
@click.option("--consent-by", required=True, help="Who gave consent to monitoring (the performer or their agent).")
@click.option("--consent-document", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The signed consent form; kept in the store, its sha256 recorded.")
@json_option
@click.pass_obj
def performer_add(app: App, name: str, emails: tuple[str, ...], agency: str | None, consent_by: str,
                  consent_document: str | None, as_json: bool) -> None:
    """Add a performer, recording who consented to the monitoring."""
    from monitor.services.performers import add_performer

    data = add_performer(app.context, name, consent_by, emails, agency,
                         Path(consent_document) if consent_document else None)
    emit(data, as_json, lambda: click.echo(f"performer {data['id']}: {data['name']}"))


@performer.command("consent")
@click.argument("performer_id", type=int)
@click.option("--by", "consented_by", required=True, help="Who gave consent.")
@click.option("--document", type=click.Path(exists=True, dir_okay=False), default=None, help="The signed form.")
@click.pass_obj
def performer_consent(app: App, performer_id: int, consented_by: str, document: str | None) -> None:
    """Record a further consent for an existing performer."""
    from monitor.services.performers import record_consent

    record_consent(app.context, performer_id, consented_by, Path(document) if document else None)
    click.echo(f"consent recorded for performer {performer_id}")


@performer.command("list")
@json_option
@click.pass_obj
def performer_list(app: App, as_json: bool) -> None:
    """List performers with their references."""
    from monitor.services.performers import list_performers

    rows = list_performers(app.context)

    def human() -> None:
        for row in rows:
            click.echo(f"{row['id']:>5}  {row['name']:<30} voice clips: {row['voice_clips']:<3} "
                       f"faces: {row['face_photos']:<3} {row['agency'] or ''}")
        if not rows:
            click.echo("no performers yet: likeness performer add NAME --consent-by NAME")

    emit(rows, as_json, human)


@performer.command("remove")
@click.argument("performer_id", type=int)
@json_option
@click.pass_obj
def performer_remove(app: App, performer_id: int, as_json: bool) -> None:
    """Erase a performer with every reference, embedding and detection."""
    from monitor.services.performers import remove_performer

    data = remove_performer(app.context, performer_id)
    emit(data, as_json, lambda: click.echo(f"performer {performer_id} removed"))


@performer.command("mute")
@click.argument("performer_id", type=int)
@json_option
@click.pass_obj
def performer_mute(app: App, performer_id: int, as_json: bool) -> None:
    """Stop alerts about this performer (detections are still recorded)."""
    _alert_preferences(app, performer_id, as_json, muted=True)


@performer.command("unmute")
@click.argument("performer_id", type=int)
@json_option
@click.pass_obj
def performer_unmute(app: App, performer_id: int, as_json: bool) -> None:
    """Alert about this performer again (from the next detection on)."""
    _alert_preferences(app, performer_id, as_json, muted=False)


@performer.command("alerts")
@click.argument("performer_id", type=int)
@click.option("--voice-threshold", type=click.FloatRange(0, 1), default=None, help="Score a voice must reach.")
@click.option("--face-threshold", type=click.FloatRange(0, 1), default=None, help="Score a face must reach.")
@json_option
@click.pass_obj
def performer_alerts(app: App, performer_id: int, voice_threshold: float | None, face_threshold: float | None,
                     as_json: bool) -> None:
    """Show or set this performer's own alert thresholds (default: alerts.voice_threshold, face_threshold)."""
    _alert_preferences(app, performer_id, as_json, voice_threshold=voice_threshold, face_threshold=face_threshold)


def _alert_preferences(app: App, performer_id: int, as_json: bool, **changes: bool | float | None) -> None:
    from monitor.services.alerts import set_alert_preferences

    data = set_alert_preferences(app.context, performer_id, **changes)
    emit(data, as_json, lambda: click.echo(
        f"performer {performer_id}: alerts {'muted' if data['muted'] else 'on'}, voice threshold "
        f"{data['voice_threshold']:.2f}, face threshold {data['face_threshold']:.2f}"))


@click.group()
def enroll() -> None:
    """Add reference recordings and photos to a performer."""


@enroll.command("voice")
@click.argument("performer_id", type=int)
@click.argument("files", nargs=-1, required=True)
@json_option
@click.pass_obj
def enroll_voice(app: App, performer_id: int, files: tuple[str, ...], as_json: bool) -> None:
    """Enrol reference recordings (at least 5 s of one person's speech each)."""
    from monitor.services.performers import enrol_voice

    _print_enrolled(enrol_voice(app.context, performer_id, list(files), on_refused=_refused), as_json)


@enroll.command("face")
@click.argument("performer_id", type=int)
@click.argument("images", nargs=-1, required=True)
@click.option("--pick", type=click.Choice(["largest"]), default=None,
              help="With several faces in a photo, enrol the largest instead of refusing it.")
@json_option
@click.pass_obj
def enroll_face(app: App, performer_id: int, images: tuple[str, ...], pick: str | None, as_json: bool) -> None:
    """Enrol reference photos (exactly one face of at least 80 px each)."""
    from monitor.services.performers import enrol_face

    _print_enrolled(enrol_face(app.context, performer_id, list(images), pick == "largest", on_refused=_refused),
                    as_json)


def _refused(file: str | Path, reason: str) -> None:
    warn(f"{shown_name(file)}: {reason}", item=True)


def _print_enrolled(rows: list[dict], as_json: bool) -> None:
    def human() -> None:
        for row in rows:
            if row["accepted"]:
                speech = f" ({row['speech_s']:.1f} s of speech)" if row["speech_s"] is not None else ""
                click.echo(f"accepted {row['file']}{speech}")

    emit(rows, as_json, human)
    if any(not row["accepted"] for row in rows):
        sys.exit(1)
