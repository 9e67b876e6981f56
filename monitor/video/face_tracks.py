"""Faces found in sampled video frames → tracks: one person's face followed from frame to frame.

A scan samples a video every ``media.frame_every_s`` seconds and finds every face in each sampled
frame. Linking those faces into tracks makes a person seen for a minute one detection with a time
span rather than sixty, and gives each track a steadier descriptor than any one frame: the mean of
its faces' dlib descriptors (noise of pose, blur and compression averages out).

Linking is by looks first: dlib descriptors of one person sit within distance ~0.6 of each other,
of different people mostly beyond it. Where the face is in the frame is only a second cue (a tie-
breaker, and a little more tolerance for a face at the same place in the next frame), because cuts,
split screens and camera moves put other people where the last one was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enrollment.face import EMBEDDING_SIZE

# A face joins a track on looks alone when its dlib distance (1 − similarity) to the track is at most
# this: stricter than dlib's usual same-person limit (0.6), because a wrong link blends two people.
MAX_LINK_DISTANCE = 0.5
# ...or up to dlib's usual limit when its box also overlaps the track's last box at least this much
# (intersection over union): the same place a moment later is strong evidence of the same person.
MAX_LINK_DISTANCE_SAME_PLACE = 0.6
MIN_SAME_PLACE_IOU = 0.3
# Tie-breaker between candidate tracks: cost = distance − this × IoU (distance units; an IoU of 1 is
# worth 0.1 of distance, so looks still decide between two tracks that differ clearly).
IOU_WEIGHT = 0.1
_INFEASIBLE = 1e6  # cost of a pair that may not be linked; larger than any sum of feasible costs


@dataclass
class FaceTrack:
    """One person's face followed across sampled frames, in time order (at most one face per frame)."""

    time_s: np.ndarray  # (n,) float, seconds from the start of the media
    boxes: np.ndarray  # (n, 4) int, top, right, bottom, left in pixels of the sampled frame
    encodings: np.ndarray  # (n, 128) float32 dlib descriptors
    face_index: np.ndarray  # (n,) int, each face's row in the arrays given to link_tracks

    def __len__(self) -> int:
        return len(self.time_s)

    @property
    def start_s(self) -> float:
        return float(self.time_s[0])

    @property
    def end_s(self) -> float:
        """When the face was last seen (a sampled frame's time, not extended to the next sample)."""
        return float(self.time_s[-1])

    def descriptor(self) -> np.ndarray:
        """(128,) float32: the mean of the faces' descriptors.

        Euclidean distance is convex, so the mean's distance to any reference is at most the mean of
        the faces' distances: averaging one person's descriptors can only bring them closer to that
        person's references on the whole, and frame-to-frame noise cancels.
        """
        return self.encodings.mean(axis=0).astype(np.float32)


def link_tracks(
    time_s: np.ndarray, boxes: np.ndarray, encodings: np.ndarray, max_gap_s: float,
    max_distance: float = MAX_LINK_DISTANCE,
) -> list[FaceTrack]:
    """Faces of sampled frames → tracks, in order of their first face.

    ``time_s`` (N,) seconds of each face's frame (faces of one frame share the exact value);
    ``boxes`` (N, 4) top, right, bottom, left in pixels; ``encodings`` (N, 128) dlib descriptors.

    Frames are taken in time order. A face may join an open track, one whose last face is at most
    ``max_gap_s`` seconds earlier, when its distance to the track (the nearer of the track's mean
    descriptor and its last face) is at most ``max_distance``, or at most
    ``MAX_LINK_DISTANCE_SAME_PLACE`` with boxes overlapping by ``MIN_SAME_PLACE_IOU``. The faces of
    one frame and the open tracks are then paired by least total cost (Hungarian assignment), so
    two faces of one frame never join the same track; a face left over starts a new track.
    """
    from scipy.optimize import linear_sum_assignment  # scipy only when there is a video to link

    time_s = np.asarray(time_s, dtype=np.float64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    encodings = np.asarray(encodings, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
    if len(boxes) != len(time_s) or len(encodings) != len(time_s):
        raise ValueError(f"{len(time_s)} times, {len(boxes)} boxes and {len(encodings)} encodings: one per face")

    if len(time_s) == 0:
        return []

    members: list[list[int]] = []  # face indices of each track, in time order
    sums: list[np.ndarray] = []  # running sum of each track's descriptors (for its mean)
    open_tracks: list[int] = []  # tracks whose last face is within max_gap_s of the current frame
    order = np.argsort(time_s, kind="stable")
    frame_starts = np.flatnonzero(np.r_[True, np.diff(time_s[order]) != 0])
    for frame in np.split(order, frame_starts[1:]):
        now_s = time_s[frame[0]]
        # a small tolerance: sampled times are decoded timestamps, 2.0000001 s after 1.0 is one second
        open_tracks = [track for track in open_tracks if now_s - time_s[members[track][-1]] <= max_gap_s + 1e-6]
        pairs: list[tuple[int, int]] = []
        if open_tracks:
            cost = _link_costs(frame, open_tracks, members, sums, boxes, encodings, max_distance)
            rows, columns = linear_sum_assignment(cost)
            pairs = [(row, column) for row, column in zip(rows, columns, strict=True)
                     if cost[row, column] < _INFEASIBLE]
        joined = {row for row, _ in pairs}
        for row, column in pairs:
            track = open_tracks[column]
            members[track].append(int(frame[row]))
            sums[track] = sums[track] + encodings[frame[row]]
        for row, face in enumerate(frame):
            if row not in joined:
                members.append([int(face)])
                sums.append(encodings[face].astype(np.float64))
                open_tracks.append(len(members) - 1)
    return [FaceTrack(time_s[faces], boxes[faces], encodings[faces], np.asarray(faces, dtype=np.int64))
            for faces in map(np.asarray, members)]


def _link_costs(
    frame: np.ndarray, open_tracks: list[int], members: list[list[int]], sums: list[np.ndarray],
    boxes: np.ndarray, encodings: np.ndarray, max_distance: float,
) -> np.ndarray:
    """(F, T) cost of joining each face of the frame to each open track; ``_INFEASIBLE`` where it may not."""
    last = np.array([members[track][-1] for track in open_tracks])
    means = np.stack([sums[track] / len(members[track]) for track in open_tracks]).astype(np.float32)
    faces = encodings[frame]
    # the nearer of the mean (steady) and the last face (follows a slow turn of the head or change of light)
    distance = np.minimum(_distances(faces, means), _distances(faces, encodings[last]))  # (F, T)
    iou = box_iou(boxes[frame], boxes[last])  # (F, T)
    feasible = (distance <= max_distance) | ((distance <= MAX_LINK_DISTANCE_SAME_PLACE) & (iou >= MIN_SAME_PLACE_IOU))
    return np.where(feasible, distance - IOU_WEIGHT * iou, _INFEASIBLE)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (A, B) between rows of ``a`` (A, D) and ``b`` (B, D)."""
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union (A, B) in [0, 1] of boxes ``a`` (A, 4) and ``b`` (B, 4): top, right, bottom, left."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None, :]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None, :, :]
    height = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    width = np.clip(np.minimum(a[..., 1], b[..., 1]) - np.maximum(a[..., 3], b[..., 3]), 0, None)
    intersection = height * width
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 1] - a[..., 3])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 1] - b[..., 3])
    union = area_a + area_b - intersection
    return np.where(union > 0, intersection / np.where(union > 0, union, 1), 0.0)
