"""The comparison population: recordings and photos of people who are not enrolled (embeddings only are kept)."""

from __future__ import annotations

from pathlib import Path

from monitor.services import audit
from monitor.services.context import Context


def add_to_cohort(ctx: Context, paths: list[Path], by_folder: bool = False) -> list[dict]:
    """Add recordings (to the voices) and photos (to the faces), files or folders of them; one row per file
    (``file``, ``added``, ``reason``). Files already in the population are skipped, one transaction each."""
    from monitor.matching.face_cohort import IMAGE_SUFFIXES, add_face_files, image_files
    from monitor.matching.voice_cohort import add_voice_files, audio_files

    ctx.require("install")
    files = [found for path in paths
             for found in (sorted({*audio_files(path), *image_files(path)}) if path.is_dir() else [path])]
    config = ctx.config
    rows: list[dict] = []
    for path in files:  # one transaction per file: a bad file leaves nothing behind and stops nothing
        with ctx.sessions.begin() as session:
            if path.suffix.lower() in IMAGE_SUFFIXES:
                rows += add_face_files(session, [path], config.face, config.media, label_from_folder=by_folder)
            else:
                rows += add_voice_files(session, [path], config.voice, config.media, label_from_folder=by_folder)
    added = sum(row["added"] for row in rows)
    if added:
        audit.record(ctx, "cohort.add", f"{added} files", files=[row["file"] for row in rows if row["added"]])
    return rows


def cohort_counts(ctx: Context) -> dict:
    """How many voices and faces the population holds, by origin (``voice``: shipped, added,
    enrolled_performers, total; ``face``: added, enrolled_performers, total)."""
    from monitor.matching.face_cohort import stored_face_cohort
    from monitor.matching.gallery import load_gallery
    from monitor.matching.voice_cohort import shipped_voice_cohort, stored_voice_cohort

    with ctx.reading() as session:
        stored = len(stored_voice_cohort(session))
        gallery = load_gallery(session)
        faces = len(stored_face_cohort(session))
    performers, face_performers = len(gallery.voice_ids), len(gallery.face_ids)
    shipped = len(shipped_voice_cohort()) if ctx.config.voice.shipped_cohort else 0
    return {"voice": {"shipped": shipped, "added": stored, "enrolled_performers": performers,
                      "total": shipped + stored + performers},
            "face": {"added": faces, "enrolled_performers": face_performers, "total": faces + face_performers}}
