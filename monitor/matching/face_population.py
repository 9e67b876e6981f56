"""Where a matched face falls among other people's faces: "closer to Ada's face than 99 % of 60 others".

The population is every face of the face cohort (monitor.matching.face_cohort) and every other enrolled
performer (their closest reference photo). For a face matched to performer P with similarity ``s``
(1 − dlib distance to P's closest reference photo), each population member's similarity to P is
measured the same way, and the match records how many of them ``s`` beats, and ``s`` as a z-score
against them (the performer-side half of s-norm: how unusual it is for anyone to come this close).

Decisions stay on the similarity itself: dlib's descriptor was trained so that one distance separates
people across millions of faces, which is what the voice encoder lacks and s-norm supplies; with the
small populations an agency starts with, a face z-score would be noisier than the distance it normalises.
"""

from __future__ import annotations

import numpy as np

from enrollment.face import face_similarity
from monitor.matching.gallery import Gallery, Match
from monitor.matching.voice_scores import rank_among

MIN_FOR_Z_SCORE = 10  # fewer members give a mean and spread too rough to report


def face_population(gallery: Gallery, performer_id: int, similarity: float) -> dict:
    """Where ``similarity`` to the performer falls among the population's: ``{"population": {"compared",
    "closer_than", "percentile" (0-100)}, "normalised_score"}``, as a voice match's details say it; empty
    with no one to compare with, and no ``normalised_score`` below MIN_FOR_Z_SCORE members."""
    members = _member_similarities(gallery, performer_id)
    if members.size == 0:
        return {}
    found = {"population": rank_among(similarity, members)}
    spread = float(members.std())
    if members.size >= MIN_FOR_Z_SCORE and spread > 0:
        found["normalised_score"] = round((similarity - float(members.mean())) / spread, 3)
    return found


def add_face_populations(matches: list[Match], gallery: Gallery) -> None:
    """Adds :func:`face_population` to each face match's details."""
    for match in matches:
        if match.modality == "face":
            match.details = {**(match.details or {}), **face_population(gallery, match.performer_id,
                                                                         match.similarity)}


def _member_similarities(gallery: Gallery, performer_id: int) -> np.ndarray:
    """(M,) each population member's similarity to the performer's closest reference photo."""
    groups = np.flatnonzero(gallery.face_ids == performer_id)
    if groups.size == 0:
        return np.zeros(0, np.float32)
    group = int(groups[0])
    starts = gallery.face_group_starts
    end = int(starts[group + 1]) if group + 1 < len(starts) else len(gallery.face_references)
    own = gallery.face_references[int(starts[group]):end]  # (r, 128)
    performers = np.maximum.reduceat(face_similarity(gallery.face_references, own).max(axis=1), starts)  # (G,)
    others = np.delete(performers, group)
    cohort = gallery.face_cohort
    if cohort is None or len(cohort) == 0:
        return others
    return np.concatenate([others, face_similarity(cohort, own).max(axis=1)])
