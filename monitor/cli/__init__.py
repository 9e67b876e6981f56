"""The ``likeness`` command line: the contract outside tools build on (README, "CLI").

``--json`` prints machine-readable JSON on stdout. Failures print one line on stderr and exit
non-zero; in commands over several files, each refused file gets its own line and the others go
on (exit status 1 when any was refused). Heavy libraries are imported inside the commands, so
``likeness --help`` answers at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from enrollment.errors import LikenessError, unexpected
from monitor.cli.alerts import alerts, performer_alerts, performer_mute, performer_unmute, send_after_command
from monitor.cli.cohort import cohort
from monitor.cli.common import App, emit, json_option, warn
from monitor.cli.eval import eval_command
from monitor.cli.evidence import evidence
from monitor.cli.sources import crawl, run, source, workers_option

REVIEW_CHOICES = ("confirmed", "dismissed", "authorized")
STATUS_CHOICES = ("new", *REVIEW_CHOICES)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), default=None,
              help="Folder of the database, media store and config (default $LIKENESS_HOME or ./likeness-data).")
@click.version_option(package_name="likeness-monitor")
@click.pass_context
def cli(ctx: click.Context, home: str | None) -> None:
    """Likeness Monitor: find unauthorised clones of enrolled performers' voices and faces."""
    ctx.obj = App(home)


@cli.command()
@json_option
@click.pass_obj
def init(app: App, as_json: bool) -> None:
    """Create the home folder, its config file and the database (safe to run again)."""
    config = app.config
    config.store_dir.mkdir(parents=True, exist_ok=True)
    if not config.user_config_path.exists():
        config.user_config_path.write_text(
            "# Settings for this installation. Any setting of config/default.toml may be overridden\n"
            "# here, in the same [section]; for example:\n# [voice]\n# threshold = 0.6\n"
        )
    app.sessions  # noqa: B018  (creates and migrates the database)
    from sqlalchemy.engine import make_url

    from monitor.evidence.keys import ensure_key, fingerprint, load_key

    ensure_key(config.keys_dir)  # signs evidence bundles; kept if it exists
    database = make_url(config.database_url).render_as_string(hide_password=True)
    data = {"home": str(config.home.resolve()), "database": database, "config": str(config.user_config_path),
            "signing_key_fingerprint": fingerprint(load_key(config.keys_dir).public_key())}
    emit(data, as_json, lambda: click.echo(f"initialised {data['home']}"))


@cli.group()
def performer() -> None:
    """Add, list and remove performers (with their consent)."""


def _store_document(app: App, document: str | None) -> tuple[str | None, str | None]:
    if document is None:
        return None, None
    from monitor.storage.content_store import ContentStore

    sha256, _size = ContentStore(app.config.store_dir).add_file(Path(document), app.config.media.max_file_bytes)
    return Path(document).name, sha256


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
    from enrollment.service import add_performer

    document_name, document_sha256 = _store_document(app, consent_document)
    try:
        with app.sessions.begin() as session:
            added = add_performer(session, name, consent_by, emails, agency, document_name, document_sha256)
            data = {"id": added.id, "name": added.name}
    except ValueError as error:
        raise LikenessError(str(error)) from None
    emit(data, as_json, lambda: click.echo(f"performer {data['id']}: {data['name']}"))


@performer.command("consent")
@click.argument("performer_id", type=int)
@click.option("--by", "consented_by", required=True, help="Who gave consent.")
@click.option("--document", type=click.Path(exists=True, dir_okay=False), default=None, help="The signed form.")
@click.pass_obj
def performer_consent(app: App, performer_id: int, consented_by: str, document: str | None) -> None:
    """Record a further consent for an existing performer."""
    from enrollment.service import get_performer, record_consent

    document_name, document_sha256 = _store_document(app, document)
    with app.sessions.begin() as session:
        record_consent(session, get_performer(session, performer_id), consented_by, document_name, document_sha256)
    click.echo(f"consent recorded for performer {performer_id}")


@performer.command("list")
@json_option
@click.pass_obj
def performer_list(app: App, as_json: bool) -> None:
    """List performers with their references."""
    from enrollment.service import list_performers

    with app.sessions() as session:
        rows = [{
            "id": p.id,
            "name": p.name,
            "agency": p.agency.name if p.agency else None,
            "emails": [contact.email for contact in p.contacts],
            "voice_clips": len(p.voice_references),
            "voice_speech_s": round(sum(ref.speech_s for ref in p.voice_references), 1),
            "face_photos": len(p.face_references),
            "consents": [{"by": c.consented_by, "at": c.consented_at.isoformat(timespec="seconds"),
                          "document_sha256": c.document_sha256} for c in p.consents],
        } for p in list_performers(session)]

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
    from enrollment.service import remove_performer

    with app.sessions.begin() as session:
        remove_performer(session, performer_id)
    emit({"id": performer_id, "removed": True}, as_json, lambda: click.echo(f"performer {performer_id} removed"))


@cli.group()
def enroll() -> None:
    """Add reference recordings and photos to a performer."""


def _enrol_files(app: App, files: tuple[str, ...], as_json: bool, enrol_one: Callable) -> None:
    from monitor.storage.content_store import ContentStore

    rows = []
    for file in files:
        with app.sessions.begin() as session:
            result = enrol_one(session, Path(file))
        if result.accepted:  # kept, for alerts and evidence reports to show the reference beside what was found
            ContentStore(app.config.store_dir).add_file(Path(file), app.config.media.max_file_bytes)
        rows.append(result.as_json())
        if not result.accepted:
            warn(f"{file}: {result.reason}")

    def human() -> None:
        for row in rows:
            if row["accepted"]:
                speech = f" ({row['speech_s']:.1f} s of speech)" if row["speech_s"] is not None else ""
                click.echo(f"accepted {row['file']}{speech}")

    emit(rows, as_json, human)
    if any(not row["accepted"] for row in rows):
        sys.exit(1)


@enroll.command("voice")
@click.argument("performer_id", type=int)
@click.argument("files", nargs=-1, required=True)
@json_option
@click.pass_obj
def enroll_voice(app: App, performer_id: int, files: tuple[str, ...], as_json: bool) -> None:
    """Enrol reference recordings (at least 5 s of one person's speech each)."""
    from enrollment.service import enroll_voice as enrol

    config = app.config
    _enrol_files(app, files, as_json, lambda s, path: enrol(s, performer_id, path, config.voice, config.media))


@enroll.command("face")
@click.argument("performer_id", type=int)
@click.argument("images", nargs=-1, required=True)
@click.option("--pick", type=click.Choice(["largest"]), default=None,
              help="With several faces in a photo, enrol the largest instead of refusing it.")
@json_option
@click.pass_obj
def enroll_face(app: App, performer_id: int, images: tuple[str, ...], pick: str | None, as_json: bool) -> None:
    """Enrol reference photos (exactly one face of at least 80 px each)."""
    from enrollment.service import enroll_face as enrol
    config = app.config
    _enrol_files(app, images, as_json,
                 lambda s, path: enrol(s, performer_id, path, config.face, config.media, pick == "largest"))


@cli.command()
@click.argument("targets", nargs=-1, required=True, metavar="PATH_OR_URL...")
@workers_option
@json_option
@click.pass_obj
def scan(app: App, targets: tuple[str, ...], workers: int | None, as_json: bool) -> None:
    """Scan audio, video and image files or URLs for every enrolled performer."""
    from monitor.cli.progress import progress_bar
    from monitor.pipeline.scan import Scanner

    scanner = Scanner(app.config, app.sessions, workers)
    if scanner.gallery.is_empty:
        warn("no performer has references yet: nothing can match (likeness enroll voice|face ...)", "warning")
    with progress_bar(len(targets), enabled=not as_json and len(targets) > 1) as advance:
        rows = scanner.scan_all(targets, on_done=lambda row: advance(row.source))
    for row in rows:
        if row.error:
            warn(f"{row.source}: {row.error}")
    emit([row.as_json() for row in rows], as_json, lambda: _print_scan(rows))
    send_after_command(app)
    if any(row.error for row in rows):
        sys.exit(1)


def _print_scan(rows) -> None:
    for row in rows:
        if row.error:
            continue
        length = f"{row.duration_s:.1f} s " if row.duration_s else ""
        click.echo(f"{row.source}: {length}{row.media_type}")
        for d in row.detections or []:
            spans = ", ".join(f"{s['start_s']:.1f}-{s['end_s']:.1f} s" for s in d["segments"])
            click.echo(f"  DETECTION {d['id']}: {d['performer_name']} ({d['modality']}) "
                       f"score {d['score']:.2f} similarity {d['similarity']:.3f} at {spans}")
        if not row.detections:
            nearest = ", ".join(f"{c['performer_name']} {c['modality']} {c['score']:.2f}" for c in row.closest or [])
            click.echo(f"  nothing found{f' (closest: {nearest})' if nearest else ''}")


@cli.group()
def detections() -> None:
    """List and review detections."""


@detections.command("list")
@click.option("--performer", "performer_id", type=int, default=None, help="Only this performer's.")
@click.option("--status", type=click.Choice(STATUS_CHOICES), default=None, help="Only those with this status.")
@json_option
@click.pass_obj
def detections_list(app: App, performer_id: int | None, status: str | None, as_json: bool) -> None:
    """List detections, newest first."""
    from monitor.storage.detections import list_detections

    with app.sessions() as session:
        rows = list_detections(session, performer_id, status)

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
    from monitor.storage.detections import detection_json, latest_source, review

    with app.sessions.begin() as session:
        detection = review(session, detection_id, status, note, reviewed_by or _system_user())
        data = detection_json(detection, latest_source(session, detection.media_id))
    emit(data, as_json, lambda: click.echo(f"detection {detection_id}: {status}"))


def _system_user() -> str | None:
    try:
        import getpass

        return getpass.getuser()
    except (OSError, KeyError):
        return None


cli.add_command(source)
cli.add_command(crawl)
cli.add_command(run)
cli.add_command(alerts)
cli.add_command(evidence)
cli.add_command(eval_command)
cli.add_command(cohort)
for command in (performer_mute, performer_unmute, performer_alerts):
    performer.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line on stderr and a non-zero exit for every failure, never a traceback."""
    try:
        cli.main(args=argv, prog_name="likeness", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    except LikenessError as error:
        warn(str(error))
        sys.exit(1)
    except Exception as error:  # the last line of defence: still one line, with a way to see more
        if os.environ.get("LIKENESS_DEBUG"):
            raise
        warn(f"{unexpected(error)} (set LIKENESS_DEBUG=1 for the traceback)")
        sys.exit(1)


if __name__ == "__main__":
    main()
