"""``likeness cohort add|list``: the comparison population voices are scored against and faces ranked among."""

from __future__ import annotations

import sys
from pathlib import Path

import click

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
    from monitor.matching.face_cohort import IMAGE_SUFFIXES, add_face_files, image_files
    from monitor.matching.voice_cohort import add_voice_files, audio_files
    from monitor.storage.models import ALREADY_STORED

    files = [found for path in paths
             for found in (sorted({*audio_files(path), *image_files(path)}) if path.is_dir() else [path])]
    config = app.config
    rows = []
    for path in files:  # one transaction per file: a bad file leaves nothing behind and stops nothing
        with app.sessions.begin() as session:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                rows += add_face_files(session, [path], config.face, config.media, label_from_folder=by_folder)
            else:
                rows += add_voice_files(session, [path], config.voice, config.media, label_from_folder=by_folder)

    def human() -> None:
        added = sum(row["added"] for row in rows)
        for row in rows:
            if not row["added"]:
                warn(f"{row['file']}: {row['reason']}", "skipped")
        click.echo(f"{added} of {len(rows)} files added to the comparison population")

    emit(rows, as_json, human)
    if files and not any(row["added"] or row["reason"] == ALREADY_STORED for row in rows):
        sys.exit(1)


@cohort.command("list")
@json_option
@click.pass_obj
def cohort_list(app: App, as_json: bool) -> None:
    """How many voices and faces the population holds, by origin."""
    from monitor.matching.face_cohort import stored_face_cohort
    from monitor.matching.gallery import load_gallery
    from monitor.matching.voice_cohort import shipped_voice_cohort, stored_voice_cohort

    with app.sessions() as session:
        stored = len(stored_voice_cohort(session))
        gallery = load_gallery(session)
        faces = len(stored_face_cohort(session))
    performers, face_performers = len(gallery.voice_ids), len(gallery.face_ids)
    shipped = len(shipped_voice_cohort()) if app.config.voice.shipped_cohort else 0
    counts = {"voice": {"shipped": shipped, "added": stored, "enrolled_performers": performers,
                        "total": shipped + stored + performers},
              "face": {"added": faces, "enrolled_performers": face_performers, "total": faces + face_performers}}

    def human() -> None:
        click.echo(f"voice: {shipped} shipped + {stored} added + {performers} enrolled performers = "
                   f"{counts['voice']['total']} voices (each performer is compared with all the others)")
        click.echo(f"face: {faces} added + {face_performers} enrolled performers = {counts['face']['total']} faces")

    emit(counts, as_json, human)
