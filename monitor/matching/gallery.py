"""Comparing found voices and faces with every enrolled performer at once.

The gallery holds one matrix per modality (voiceprints: one row per performer; faces: one row per
reference photo). A scan compares all windows or faces with all rows in one matrix product, and
the per-performer threshold test happens in similarity space, so that only the performers that
match, and the few closest, are looked at one by one.

Scores: ``score = 1 / (1 + exp(-slope × (value − center)))`` in [0, 1], with ``center`` and ``slope``
per modality chosen on real recordings and photos (docs/calibration.md). For faces the value is the
similarity (1 − dlib distance); for voices it is the window's normalised score against the comparison
population (monitor.matching.voice_scores), when the gallery has one, else the raw cosine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment.conditions import VOICE_CONDITIONS, stored_condition_rows
from enrollment.face import EMBEDDING_SIZE as FACE_SIZE
from enrollment.face import face_similarity
from enrollment.models import FaceReference, Performer, Voiceprint, from_blob
from enrollment.voice import EMBEDDING_SIZE as VOICE_SIZE
from monitor.matching.voice_scores import VoicePopulation, build_population

VOICE_TIERS = ("same_voice", "soundalike")


@dataclass(frozen=True)
class Calibration:
    center: float
    slope: float
    threshold: float

    def score(self, similarity: np.ndarray | float) -> np.ndarray | float:
        return 1.0 / (1.0 + np.exp(-self.slope * (np.asarray(similarity, dtype=np.float64) - self.center)))

    @property
    def similarity_threshold(self) -> float:
        """The similarity whose score equals ``threshold``."""
        threshold = min(max(self.threshold, 1e-9), 1 - 1e-9)
        return self.center + float(np.log(threshold / (1 - threshold))) / self.slope


@dataclass
class Gallery:
    """Every enrolled performer's references, as matrices. Loaded once per command."""

    names: dict[int, str]
    voice_ids: np.ndarray  # (P,) performer ids
    voiceprints: np.ndarray  # (P, 256) float32, L2-normalised
    face_ids: np.ndarray  # (G,) performer ids, one per group of reference rows
    face_group_starts: np.ndarray  # (G,) first row of each performer's group in face_references
    face_references: np.ndarray  # (R, 128) float32, grouped by performer
    reference_digest: str = ""
    voice_conditions: np.ndarray | None = None  # (K, P, 256): the voiceprints in every listening condition
    voice_known_conditions: np.ndarray | None = None  # (K, P) bool: False where a voiceprint predates a condition
    voice_population: VoicePopulation | None = None  # set by with_voice_population
    cohort_digest: str = ""
    face_cohort: np.ndarray | None = None  # (C, 128): faces of people not enrolled (monitor.matching.face_cohort)
    face_cohort_digest: str = ""

    @property
    def is_empty(self) -> bool:
        return len(self.voice_ids) == 0 and len(self.face_ids) == 0


def load_gallery(session: Session) -> Gallery:
    names = dict(session.execute(select(Performer.id, Performer.name)).all())
    voice_rows = session.execute(select(Voiceprint.performer_id, Voiceprint.embedding, Voiceprint.updated_at,
                                        Voiceprint.condition_embeddings)
                                 .order_by(Voiceprint.performer_id)).all()
    face_rows = session.execute(select(FaceReference.performer_id, FaceReference.id, FaceReference.embedding)
                                .order_by(FaceReference.performer_id, FaceReference.id)).all()
    voice_ids = np.array([row[0] for row in voice_rows], dtype=np.int64)
    voiceprints = _matrix([row[1] for row in voice_rows], VOICE_SIZE)
    face_row_ids = np.array([row[0] for row in face_rows], dtype=np.int64)
    face_references = _matrix([row[2] for row in face_rows], FACE_SIZE)
    starts = np.flatnonzero(np.r_[True, face_row_ids[1:] != face_row_ids[:-1]]) if len(face_rows) else np.zeros(0, int)
    digest = hashlib.sha256(json.dumps({
        "voice": [[row[0], str(row[2])] for row in voice_rows],
        "face": [row[1] for row in face_rows],
    }).encode()).hexdigest()
    conditions, known = _voice_conditions(voiceprints, [row[3] for row in voice_rows])
    return Gallery(names, voice_ids, voiceprints, face_row_ids[starts], starts, face_references, digest, conditions,
                   voice_known_conditions=known)


def _voice_conditions(voiceprints: np.ndarray, blobs: list[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """The voiceprints (P, 256) in every condition, (K, P, 256), and which of them exist, (K, P) bool: a
    voiceprint made before a condition existed lacks it (its clean print fills the slot, never scored)."""
    n_conditions = len(VOICE_CONDITIONS)
    conditions = np.repeat(voiceprints[None], n_conditions, axis=0)
    known = np.zeros((n_conditions, len(voiceprints)), bool)
    known[0] = True
    for column, blob in enumerate(blobs):
        rows = stored_condition_rows(from_blob(blob) if blob else None, VOICE_SIZE)
        conditions[1 : 1 + len(rows), column] = rows
        known[1 : 1 + len(rows), column] = True
    return conditions, known


def with_voice_population(gallery: Gallery, cohort: np.ndarray, cohort_digest: str, top_n: int) -> Gallery:
    """The gallery with its voices normalised against ``cohort`` (K, C, 256) and the other performers."""
    if gallery.voice_conditions is not None and len(gallery.voice_ids):
        gallery.voice_population = build_population(gallery.voice_conditions, cohort, top_n,
                                                     known=gallery.voice_known_conditions)
    gallery.cohort_digest = cohort_digest
    return gallery


def _matrix(blobs: list[bytes], width: int) -> np.ndarray:
    if not blobs:
        return np.zeros((0, width), np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), width).astype(np.float32)


@dataclass
class Match:
    """One performer found in one media by one modality."""

    performer_id: int
    modality: str
    score: float
    similarity: float
    segments: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # see Detection.details


MAX_CURVE_POINTS = 240  # a voice detection keeps its score over time at this resolution (the alert's picture)


@dataclass
class ModalityResult:
    matches: list[Match]
    closest: list[dict]


def _per_performer_best(similarity: np.ndarray) -> np.ndarray:
    return similarity.max(axis=0) if similarity.size else np.zeros(similarity.shape[1], np.float32)


def match_voice_windows(
    windows: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, gallery: Gallery, calibration: Calibration,
    merge_gap_s: float, n_closest: int,
) -> ModalityResult:
    """Voice windows (W, 256) with their times against every voiceprint, window by window on the raw cosine:
    a gallery without a comparison population (monitor.matching.voice_match decides with one)."""
    if len(windows) == 0 or len(gallery.voice_ids) == 0:
        return ModalityResult([], [])
    similarity = windows @ gallery.voiceprints.T  # (W, P)
    result = _decide("voice", similarity, start_s, end_s, gallery.voice_ids, gallery, calibration, merge_gap_s,
                     n_closest)
    columns = {int(performer_id): column for column, performer_id in enumerate(gallery.voice_ids)}
    for match in result.matches:
        column_scores = calibration.score(similarity[:, columns[match.performer_id]])
        match.details = {"curve": score_curve((start_s + end_s) / 2, column_scores)}
    return result


def score_curve(time_s: np.ndarray, scores: np.ndarray, max_points: int = MAX_CURVE_POINTS) -> list[list[float]]:
    """``[[time_s, score], …]`` in time order, at most ``max_points``: longer series are cut into equal
    runs of windows, each kept as its best score (so a short match in a long file still shows)."""
    order = np.argsort(time_s, kind="stable")
    time_s, scores = np.asarray(time_s)[order], np.asarray(scores)[order]
    if len(scores) > max_points:
        runs = np.array_split(np.arange(len(scores)), max_points)
        time_s = np.array([time_s[run].mean() for run in runs])
        scores = np.array([scores[run].max() for run in runs])
    return [[round(float(t), 2), round(float(score), 4)] for t, score in zip(time_s, scores, strict=True)]


def match_faces(
    encodings: np.ndarray, time_s: np.ndarray, gallery: Gallery,
    calibration: Calibration, merge_gap_s: float, n_closest: int, boxes: np.ndarray | None = None,
) -> ModalityResult:
    """Faces (N, 128) seen at ``time_s`` (N,) against every reference photo; best photo per performer.

    ``boxes``: (N, 4) top, right, bottom, left in pixels of each face's frame, kept for the best face.
    """
    if len(encodings) == 0 or len(gallery.face_ids) == 0:
        return ModalityResult([], [])
    per_reference = face_similarity(encodings, gallery.face_references)  # (N, R)
    similarity = np.maximum.reduceat(per_reference, gallery.face_group_starts, axis=1)  # (N, G)
    result = _decide("face", similarity, time_s, time_s, gallery.face_ids, gallery, calibration,
                     merge_gap_s, n_closest)
    columns = {int(performer_id): column for column, performer_id in enumerate(gallery.face_ids)}
    for match in result.matches:
        best = int(np.argmax(similarity[:, columns[match.performer_id]]))
        match.details = {"time_s": round(float(time_s[best]), 2)}
        if boxes is not None:
            match.details["box"] = [int(value) for value in boxes[best]]
    return result


def _decide(
    modality: str, similarity: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, ids: np.ndarray,
    gallery: Gallery, calibration: Calibration, merge_gap_s: float, n_closest: int,
) -> ModalityResult:
    best = _per_performer_best(similarity)  # (P,)
    matched_columns = np.flatnonzero(best >= calibration.similarity_threshold)
    matches = []
    for column in matched_columns[np.argsort(-best[matched_columns])]:
        column_similarity = similarity[:, column]
        segments = merge_segments(
            start_s, end_s, calibration.score(column_similarity),
            column_similarity >= calibration.similarity_threshold, merge_gap_s,
        )
        matches.append(Match(int(ids[column]), modality, float(calibration.score(best[column])),
                             float(best[column]), segments))
    top = np.argsort(-best)[:n_closest]
    closest = [{
        "performer_id": int(ids[column]),
        "performer_name": gallery.names.get(int(ids[column])),
        "modality": modality,
        "score": round(float(calibration.score(best[column])), 4),
        "similarity": round(float(best[column]), 4),
    } for column in top]
    return ModalityResult(matches, closest)


def merge_segments(
    start_s: np.ndarray, end_s: np.ndarray, scores: np.ndarray, hit: np.ndarray, merge_gap_s: float
) -> list[dict]:
    """Runs of hits (windows or frames) whose gaps are at most ``merge_gap_s``, in time order.

    Each segment is ``{"start_s", "end_s", "score"}``, score being the best hit inside it.
    """
    order = np.argsort(start_s[hit], kind="stable")
    starts, ends, hit_scores = start_s[hit][order], end_s[hit][order], np.asarray(scores)[hit][order]
    segments: list[dict] = []
    for start, end, score in zip(starts, ends, hit_scores, strict=True):
        if segments and start - segments[-1]["end_s"] <= merge_gap_s:
            segments[-1]["end_s"] = max(segments[-1]["end_s"], round(float(end), 2))
            segments[-1]["score"] = max(segments[-1]["score"], round(float(score), 4))
        else:
            segments.append({"start_s": round(float(start), 2), "end_s": round(float(end), 2),
                             "score": round(float(score), 4)})
    return segments
