"""The comparison population (cohort): voices of people who are not enrolled, as embeddings only.

Three places feed it: the cohort shipped with the project (``monitor/data/voice_cohort.npz``, 125
LibriSpeech speakers, CC BY 4.0, see ``monitor/data/README.md``), files added with ``likeness cohort
add`` or found in ``voice.cohort_dir`` (embedded once, stored in ``cohort_members``), and, at scoring
time, every other enrolled performer (monitor.matching.voice_scores). Only members embedded with the current
voice model are used.

Shapes: voice embeddings (K conditions, C members, 256) float32, K and order as
``enrollment.conditions.VOICE_CONDITIONS``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment import voice
from enrollment.conditions import VOICE_CONDITIONS
from enrollment.errors import LikenessError
from enrollment.media import decode_audio, probe, sha256_file
from enrollment.models import from_blob, to_blob
from enrollment.settings import MediaLimits, VoiceSettings
from monitor.matching.face_cohort import stored_face_cohort
from monitor.matching.gallery import Gallery, load_gallery, with_voice_population
from monitor.storage.models import ALREADY_STORED, CohortMember

SHIPPED_VOICE_COHORT = Path(__file__).resolve().parents[1] / "data" / "voice_cohort.npz"
AUDIO_SUFFIXES = {".flac", ".wav", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".webm", ".mp4", ".mkv"}


@dataclass(frozen=True)
class VoiceCohort:
    """``embeddings`` (K, C, 256); ``labels`` (C,) who each member is; ``sha256`` (C,) of its source file."""

    embeddings: np.ndarray
    labels: np.ndarray
    sha256: np.ndarray

    @classmethod
    def empty(cls) -> VoiceCohort:
        k = len(VOICE_CONDITIONS)
        return cls(np.zeros((k, 0, voice.EMBEDDING_SIZE), np.float32), np.array([], str), np.array([], str))

    def __len__(self) -> int:
        return len(self.labels)

    def __add__(self, other: VoiceCohort) -> VoiceCohort:
        return VoiceCohort(np.concatenate([self.embeddings, other.embeddings], axis=1),
                           np.concatenate([self.labels, other.labels]), np.concatenate([self.sha256, other.sha256]))

    def digest(self) -> str:
        """Identifies the members (an analysis under another cohort is another analysis)."""
        return hashlib.sha256("\n".join(sorted(self.sha256.tolist())).encode()).hexdigest()


def shipped_voice_cohort() -> VoiceCohort:
    """The cohort shipped with the project, if it was made with the installed voice model."""
    if not SHIPPED_VOICE_COHORT.is_file():
        return VoiceCohort.empty()
    with np.load(SHIPPED_VOICE_COHORT) as data:
        if str(data["model_version"]) != voice.voice_model_version() or \
                list(data["conditions"]) != list(VOICE_CONDITIONS):
            return VoiceCohort.empty()
        return VoiceCohort(data["embeddings"].astype(np.float32), data["labels"].astype(str),
                           data["sha256"].astype(str))


def stored_voice_cohort(session: Session) -> VoiceCohort:
    rows = session.execute(select(CohortMember.label, CohortMember.source_sha256, CohortMember.embeddings)
                           .where(CohortMember.modality == "voice", CohortMember.embeddings.is_not(None),
                                  CohortMember.model_version == voice.voice_model_version())
                           .order_by(CohortMember.id)).all()
    rows = [row for row in rows if _complete(row[2])]  # the others wait to be added again (add_voice_files)
    if not rows:
        return VoiceCohort.empty()
    embeddings = np.stack([from_blob(row[2]).reshape(len(VOICE_CONDITIONS), -1) for row in rows], axis=1)
    return VoiceCohort(embeddings, np.array([row[0] for row in rows]), np.array([row[1] for row in rows]))


def _complete(blob: bytes | None) -> bool:
    """Whether a member was embedded in every current condition (not before one was added)."""
    return blob is not None and len(blob) == len(VOICE_CONDITIONS) * voice.EMBEDDING_SIZE * 4


def voice_cohort(session: Session, settings: VoiceSettings) -> VoiceCohort:
    """The population a scan compares with: the stored members, and the shipped ones unless turned off."""
    cohort = stored_voice_cohort(session)
    return shipped_voice_cohort() + cohort if settings.shipped_cohort else cohort


def embed_voice_file(path: Path, settings: VoiceSettings, limits: MediaLimits) -> np.ndarray | None:
    """A recording's (K, 256) embeddings in every condition; None when it holds too little speech."""
    wav = decode_audio(path, limits)
    partials = voice.embed_partials(voice.find_speech(wav, settings), settings)
    return voice.embeddings_in_conditions(wav, partials, settings) if len(partials) else None


def audio_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES)


def add_voice_files(session: Session, paths: list[Path], settings: VoiceSettings, limits: MediaLimits,
                    label_from_folder: bool = False) -> list[dict]:
    """Embed and store recordings not stored yet (by content). One row per file: ``{"file", "added", "reason"}``.

    A member's label is its folder's name with ``label_from_folder`` (one folder per person), else its stem.
    """
    model_version = voice.voice_model_version()
    stored = {member.source_sha256: member for member in session.scalars(select(CohortMember).where(
        CohortMember.modality == "voice", CohortMember.model_version == model_version))}
    # a member embedded before a condition existed is embedded again (a file with too little speech is not)
    known = {sha256 for sha256, member in stored.items() if member.embeddings is None or _complete(member.embeddings)}
    rows = []
    for path in paths:
        row = {"file": str(path), "added": False, "reason": None}
        try:
            sha256 = sha256_file(path)
            if sha256 in known:
                row["reason"] = ALREADY_STORED
            elif probe(path, limits).media_type == "image":
                row["reason"] = "an image, not a recording"
            else:
                embeddings = embed_voice_file(path, settings, limits)
                member = stored.get(sha256) or CohortMember(modality="voice", source_sha256=sha256,
                                                             model_version=model_version)
                member.source_name = path.name
                member.label = path.parent.name if label_from_folder else path.stem
                member.embeddings = to_blob(embeddings) if embeddings is not None else None
                session.add(member)
                session.flush()
                known.add(sha256)
                row["added"] = embeddings is not None
                row["reason"] = None if embeddings is not None else "too little speech (kept as seen, not used)"
        except (LikenessError, OSError) as error:
            row["reason"] = str(error)
        rows.append(row)
    return rows


def sync_cohort_dir(session: Session, settings: VoiceSettings, limits: MediaLimits) -> list[dict]:
    """Store the recordings of ``voice.cohort_dir`` not stored yet (each file is embedded once; every file is
    hashed at each call, which is what a scan's start pays for a configured folder)."""
    if not settings.cohort_dir:
        return []
    folder = Path(settings.cohort_dir).expanduser()
    if not folder.is_dir():
        raise LikenessError(f"voice.cohort_dir {folder} is not a folder")
    rows = add_voice_files(session, audio_files(folder), settings, limits)
    return [row for row in rows if row["reason"] != ALREADY_STORED]


def scoring_gallery(session: Session, settings: VoiceSettings) -> Gallery:
    """Every performer's references, with the voices normalised against the whole population, and the faces
    of the face cohort to rank face matches among (monitor.matching.face_population)."""
    cohort = voice_cohort(session, settings)
    gallery = with_voice_population(load_gallery(session), cohort.embeddings, cohort.digest(),
                                    settings.cohort_top_n)
    gallery.face_cohort = stored_face_cohort(session) if len(gallery.face_ids) else None
    if gallery.face_cohort is not None:
        gallery.face_cohort_digest = hashlib.sha256(gallery.face_cohort.tobytes()).hexdigest()
    return gallery
