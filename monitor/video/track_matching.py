"""Face tracks of a video against every enrolled performer: one detection per performer, a segment per track.

Each track (monitor.video.face_tracks) is compared with every reference photo in one product, through its
mean descriptor and through each of its faces; a performer's similarity to a track is

    max(similarity of the track's mean descriptor, GLIMPSE_FACES-th best similarity of its faces)

- The mean descriptor is the steady evidence: Euclidean distance is convex, so it is at least as
  close to the performer's references as the track's faces are on average, and frame noise cancels.
- The GLIMPSE_FACES-th best face keeps a short clear glimpse: a long track whose faces are mostly
  turned or blurred still matches when two sampled frames (a second or more on screen) show the
  performer clearly on their own. One stray frame of a long track of someone else does not, where
  scoring faces one by one would store it. A track of one face is scored on that face.

A match's segments are the spans of its matching tracks (first to last face), merged where they
overlap or nearly touch; its ``details`` keep the time and box of the best matching face (what the
alert picture and the evidence show) and how many tracks matched.
"""

from __future__ import annotations

import numpy as np

from enrollment.face import face_similarity
from monitor.matching.gallery import Calibration, Gallery, Match, ModalityResult, merge_segments
from monitor.video.face_tracks import FaceTrack

# A track also matches on this many of its faces matching on their own (see the module docstring).
GLIMPSE_FACES = 2


def match_face_tracks(
    tracks: list[FaceTrack], gallery: Gallery, calibration: Calibration, merge_gap_s: float, n_closest: int,
) -> ModalityResult:
    """Tracks against every reference photo (best photo per performer); matches and the closest performers.

    ``merge_gap_s``: matching tracks of one performer less than this many seconds apart make one segment.
    """
    if not tracks or len(gallery.face_ids) == 0:
        return ModalityResult([], [])
    sizes = np.array([len(track) for track in tracks])
    per_face = _per_performer(np.concatenate([track.encodings for track in tracks]), gallery)  # (N, G)
    per_descriptor = _per_performer(np.stack([track.descriptor() for track in tracks]), gallery)  # (T, G)
    similarity = np.maximum(per_descriptor, _kth_best(per_face, sizes, GLIMPSE_FACES))  # (T, G)
    best = similarity.max(axis=0)  # (G,)

    track_of_face = np.repeat(np.arange(len(tracks)), sizes)  # (N,)
    time_s = np.concatenate([track.time_s for track in tracks])  # (N,)
    boxes = np.concatenate([track.boxes for track in tracks])  # (N, 4)
    start_s = np.array([track.start_s for track in tracks])
    end_s = np.array([track.end_s for track in tracks])
    threshold = calibration.similarity_threshold
    matches = []
    matched = np.flatnonzero(best >= threshold)
    for column in matched[np.argsort(-best[matched])]:
        hit = similarity[:, column] >= threshold  # (T,) the performer's tracks
        segments = merge_segments(start_s, end_s, calibration.score(similarity[:, column]), hit, merge_gap_s)
        faces = np.flatnonzero(hit[track_of_face])
        face = faces[np.argmax(per_face[faces, column])]
        details = {"time_s": round(float(time_s[face]), 2), "box": [int(value) for value in boxes[face]],
                   "tracks": int(hit.sum())}
        matches.append(Match(int(gallery.face_ids[column]), "face", float(calibration.score(best[column])),
                             float(best[column]), segments, details))
    closest = [{
        "performer_id": int(gallery.face_ids[column]),
        "performer_name": gallery.names.get(int(gallery.face_ids[column])),
        "modality": "face",
        "score": round(float(calibration.score(best[column])), 4),
        "similarity": round(float(best[column]), 4),
    } for column in np.argsort(-best)[:n_closest]]
    return ModalityResult(matches, closest)


def _per_performer(encodings: np.ndarray, gallery: Gallery) -> np.ndarray:
    """(N, 128) descriptors → (N, G) similarity to each performer's best reference photo."""
    per_reference = face_similarity(encodings, gallery.face_references)  # (N, R)
    return np.maximum.reduceat(per_reference, gallery.face_group_starts, axis=1)


def _kth_best(per_face: np.ndarray, sizes: np.ndarray, k: int) -> np.ndarray:
    """(N, G) faces' similarities, grouped in runs of ``sizes`` (T,) → (T, G): each run's k-th best
    per column (its worst when the run is shorter than k)."""
    result = np.empty((len(sizes), per_face.shape[1]), dtype=per_face.dtype)
    for track, rows in enumerate(np.split(per_face, np.cumsum(sizes)[:-1])):
        rank = len(rows) - min(k, len(rows))
        result[track] = np.partition(rows, rank, axis=0)[rank]
    return result
