"""``likeness cohort add|list``: the comparison population voices are scored against and faces ranked among."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from enrollment.errors import shown_name
from monitor.cli.common import App, emit, json_option, warn


@click.group()
def cohort() -> None:
    """The comparison population: recordings and photos of people who are not enrolled (embeddings only are
    kept)."""


@cohort.command("add")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--by-folder", is_flag=True, help="Each folder holds one person (labels members with its name).")
@json_option
@click.pass_obj
def cohort_add(app: App, paths: tuple[Path, ...], by_folder: bool, as_json: bool) -> None:
    """Add recordings and photos (files or folders of them) to the population; files already in it are skipped.

    Recordings join the voices, photos the faces (a photo's largest face is its member)."""
    from monitor.services.cohort import add_to_cohort
    from monitor.storage.models import ALREADY_STORED

    rows = add_to_cohort(app.context, list(paths), by_folder)

    def human() -> None:
        added = sum(row["added"] for row in rows)
        for row in rows:
            if not row["added"]:
                warn(f"{shown_name(row['file'])}: {row['reason']}", "skipped", item=True)
        click.echo(f"{added} of {len(rows)} files added to the comparison population")

    emit(rows, as_json, human)
    if rows and not any(row["added"] or row["reason"] == ALREADY_STORED for row in rows):
        sys.exit(1)


@cohort.command("list")
@json_option
@click.pass_obj
def cohort_list(app: App, as_json: bool) -> None:
    """How many voices and faces the population holds, by origin."""
    from monitor.services.cohort import cohort_counts

    counts = cohort_counts(app.context)
    voice, face = counts["voice"], counts["face"]

    def human() -> None:
        click.echo(f"voice: {voice['shipped']} shipped + {voice['added']} added + {voice['enrolled_performers']} "
                   f"enrolled performers = {voice['total']} voices (each performer is compared with all the others)")
        click.echo(f"face: {face['added']} added + {face['enrolled_performers']} enrolled performers = "
                   f"{face['total']} faces")

    emit(counts, as_json, human)
