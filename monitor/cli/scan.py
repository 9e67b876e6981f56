"""``likeness scan``: files and URLs against every enrolled performer, now."""

from __future__ import annotations

import sys

import click

from enrollment.errors import shown_name
from monitor.cli.common import App, emit, json_option, send_after_command, warn, workers_option


@click.command()
@click.argument("targets", nargs=-1, required=True, metavar="PATH_OR_URL...")
@workers_option
@json_option
@click.pass_obj
def scan(app: App, targets: tuple[str, ...], workers: int | None, as_json: bool) -> None:
    """Scan audio, video and image files or URLs for every enrolled performer."""
    from monitor.cli.progress import progress_bar
    from monitor.services.scans import scan as scan_targets

    with progress_bar(len(targets), enabled=not as_json and len(targets) > 1) as advance:
        rows = scan_targets(app.context, list(targets), workers, on_done=lambda row: advance(row["source"]),
                            on_warning=lambda text: warn(text, "warning"))
    for row in rows:
        if row["error"]:
            warn(f"{shown_name(row['source'])}: {row['error']}", item=True)
    emit(rows, as_json, lambda: _print_scan(rows))
    send_after_command(app)
    if any(row["error"] for row in rows):
        sys.exit(1)


def _print_scan(rows: list[dict]) -> None:
    from monitor.storage.detections import credentials_text

    for row in rows:
        if row["error"]:
            continue
        length = f"{row['duration_s']:.1f} s " if row["duration_s"] else ""
        click.echo(f"{row['source']}: {length}{row['media_type']}")
        if row["content_credentials"]:
            click.echo(f"  {credentials_text(row['content_credentials'])}")
        for d in row["detections"]:
            spans = ", ".join(f"{s['start_s']:.1f}-{s['end_s']:.1f} s" for s in d["segments"])
            click.echo(f"  DETECTION {d['id']}: {d['performer_name']} ({d['modality']}) "
                       f"score {d['score']:.2f} similarity {d['similarity']:.3f} at {spans}")
        if not row["detections"]:
            nearest = ", ".join(f"{c['performer_name']} {c['modality']} {c['score']:.2f}" for c in row["closest"])
            click.echo(f"  nothing found{f' (closest: {nearest})' if nearest else ''}")
