"""The faces of the comparison population: photos of people who are not enrolled, as descriptors only.

Two places feed it: photos added with ``likeness cohort add`` or found in ``face.cohort_dir`` (each
photo embedded once, stored in ``cohort_members``; its largest face is the member), and, at
scoring time, every other enrolled performer (monitor.matching.face_population). Nothing is shipped: no face
set we could find may be redistributed, even as descriptors, and be found offline. Only members
embedded with the current face model are used.

Shapes: one stored row per photo holds its face's descriptor, (1, 128) float32 (rows are read as (F, 128),
so that a later rule may keep more faces of a photo).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment import face
from enrollment.errors import LikenessError
from enrollment.media import load_image, probe, sha256_file
from enrollment.models import from_blob, to_blob
from enrollment.settings import FaceSettings, MediaLimits
from monitor.storage.models import ALREADY_STORED, CohortMember

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def image_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def stored_face_cohort(session: Session) -> np.ndarray:
    """Every stored member's face under the current model: (C, 128) float32 (C may be 0)."""
    blobs = session.scalars(select(CohortMember.embeddings)
                            .where(CohortMember.modality == "face", CohortMember.embeddings.is_not(None),
                                   CohortMember.model_version == face.face_model_version())
                            .order_by(CohortMember.id)).all()
    if not blobs:
        return np.zeros((0, face.EMBEDDING_SIZE), np.float32)
    return np.concatenate([from_blob(blob).reshape(-1, face.EMBEDDING_SIZE) for blob in blobs])


def embed_face_photo(path: Path, settings: FaceSettings, limits: MediaLimits) -> np.ndarray:
    """A photo's largest face, if at least ``min_face_px`` on its shorter side as for a reference photo:
    (1, 128) float32, or (0, 128). One person per photo, as a label says: the detector's other finds in a
    portrait are mostly false faces (a shirt's pattern, a badge)."""
    rgb = load_image(path, limits)
    boxes = face.detect_faces_adaptive(rgb, settings.upsample, detector=settings.detector)[:1]  # largest first
    return face.encode_faces(rgb, [box for box in boxes if box.size_px >= settings.min_face_px])


def add_face_files(session: Session, paths: list[Path], settings: FaceSettings, limits: MediaLimits,
                   label_from_folder: bool = False) -> list[dict]:
    """Embed and store photos not stored yet (by content). One row per file: ``{"file", "added", "reason",
    "faces"}`` (faces: 0 or 1). A member's label is its folder's name with ``label_from_folder``, else the
    photo's stem."""
    model_version = face.face_model_version()
    known = set(session.scalars(select(CohortMember.source_sha256).where(
        CohortMember.modality == "face", CohortMember.model_version == model_version)))
    rows = []
    for path in paths:
        row = {"file": str(path), "added": False, "reason": None, "faces": 0}
        try:
            sha256 = sha256_file(path)
            if sha256 in known:
                row["reason"] = ALREADY_STORED
            elif probe(path, limits).media_type != "image":
                row["reason"] = "not a photo"
            else:
                found = embed_face_photo(path, settings, limits)
                session.add(CohortMember(
                    modality="face", source_sha256=sha256, source_name=path.name,
                    label=path.parent.name if label_from_folder else path.stem,
                    embeddings=to_blob(found) if len(found) else None, model_version=model_version))
                session.flush()
                known.add(sha256)
                row["added"], row["faces"] = bool(len(found)), len(found)
                row["reason"] = None if len(found) else "no face found (kept as seen, not used)"
        except (LikenessError, OSError) as error:
            row["reason"] = str(error)
        rows.append(row)
    return rows


def sync_face_cohort_dir(session: Session, settings: FaceSettings, limits: MediaLimits) -> list[dict]:
    """Store the photos of ``face.cohort_dir`` not stored yet (see monitor.matching.voice_cohort.sync_cohort_dir)."""
    if not settings.cohort_dir:
        return []
    folder = Path(settings.cohort_dir).expanduser()
    if not folder.is_dir():
        raise LikenessError(f"face.cohort_dir {folder} is not a folder")
    return [row for row in add_face_files(session, image_files(folder), settings, limits)
            if row["reason"] != ALREADY_STORED]
