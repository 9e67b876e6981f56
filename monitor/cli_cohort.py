"""``likeness cohort add|list``: the comparison population voices are scored against."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli_common import App, emit, json_option, warn


@click.group()
def cohort() -> None:
    """The comparison population: recordings of people who are not enrolled (embeddings only are kept)."""


@cohort.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--by-folder", is_flag=True, help="Each folder holds one person (labels members with its name).")
@json_option
@click.pass_obj
def cohort_add(app: App, paths: tuple[Path, ...], by_folder: bool, as_json: bool) -> None:
    """Add recordings (files or folders of them) to the population; files already in it are skipped."""
    from monitor.cohort import ALREADY_STORED, add_voice_files, audio_files

    files = [found for path in paths for found in (audio_files(path) if path.is_dir() else [path])]
    config = app.config
    rows = []
    for path in files:  # one transaction per file: a bad file leaves nothing behind and stops nothing
        with app.sessions.begin() as session:
            rows += add_voice_files(session, [path], config.voice, config.media, label_from_folder=by_folder)

    def human() -> None:
        added = sum(row["added"] for row in rows)
        for row in rows:
            if not row["added"]:
                warn(f"{row['file']}: {row['reason']}", "skipped")
        click.echo(f"{added} of {len(rows)} recordings added to the comparison population")

    emit(rows, as_json, human)
    if files and not any(row["added"] or row["reason"] == ALREADY_STORED for row in rows):
        sys.exit(1)


@cohort.command("list")
@json_option
@click.pass_obj
def cohort_list(app: App, as_json: bool) -> None:
    """How many voices the population holds, by origin."""
    from monitor.cohort import shipped_voice_cohort, stored_voice_cohort
    from monitor.matching import load_gallery

    with app.sessions() as session:
        stored = len(stored_voice_cohort(session))
        performers = len(load_gallery(session).voice_ids)
    shipped = len(shipped_voice_cohort()) if app.config.voice.shipped_cohort else 0
    counts = {"voice": {"shipped": shipped, "added": stored, "enrolled_performers": performers,
                        "total": shipped + stored + performers}}
    emit(counts, as_json, lambda: click.echo(
        f"voice: {shipped} shipped + {stored} added + {performers} enrolled performers = "
        f"{counts['voice']['total']} voices (each performer is compared with all the others)"))
