"""A video's faces: sampled frames → faces → tracks → matches against the gallery.

The video is sampled every ``media.frame_every_s`` seconds (enrollment.video_frames). Each
sampled frame gets the faces the plain way would give it (the configured detector, ``face.detector``,
on the whole frame, then a descriptor for every face), but without redoing what a second of video did
not change:

- **HOG on grey.** HOG runs on the frame's luma plane, not on RGB: its gradients come from one
  channel instead of the strongest of three (1.5× faster; the same faces on the benchmark video).
  YuNet runs on RGB, as for photos: on grey it finds a third fewer faces (91 against 133 of 240 on
  bench.face_detection's scenes). What changed is always measured on grey.
- **Upright faces.** YuNet searches frames as they are, not also turned 40° either way as it searches
  a photo (enrollment.face_yunet.TURNS_DEG): that would cost about 5× per frame, and a track needs its
  face in some of its frames, not all. Upright only, YuNet finds more small and upright faces than
  HOG and fewer tilted 20-40° (43 against 52 of 78 on bench.face_detection's scenes; 133 against 125
  of 240 in all).
- **Only what changed is searched.** The frame is compared, tile by tile, with what its faces were
  last searched in (monitor.video.frame_changes). Faces in unchanged parts are kept as they were, with
  their descriptors; changed parts, and the surroundings of known faces that they touch, are
  searched again; when most of the frame changed (a cut), all of it is. A pan or a shaking camera
  moves the picture as a whole, a fade changes its brightness by one gain, a zoom scales it: the
  comparison then allows for the shift, the gain or the scale and shift (monitor.video.frame_changes),
  and the known faces move with the picture. A face kept through a fade keeps the descriptor of
  the frame it was described in.
- **Known large faces are followed cheaply.** A known face of at least ``FOLLOW_MIN_FACE_PX`` that
  touches a change is looked for again around where it was (HOG: at upsample 0, a quarter of the cost
  per pixel); the changes around it are then accounted for. Only when it is not found there is its
  surrounding searched as any other change.
- **A descriptor is computed again only when the face changed.** A face found again where a face
  was a second before is aligned as the descriptor network sees it (a 150 px chip). When a 15 × 15
  thumbnail of that chip differs from the one the known face's descriptor came from by at most
  ``CHIP_CHANGE_LEVEL`` on average, the descriptor is reused. The thumbnail, not the chip: the
  landmarks that align a chip jitter by a pixel from frame to frame, which changes a sharp chip by
  8-12 levels while its descriptor moves by 0.04-0.10, the plain way's own spread between two frames
  of one still face. On the benchmark video (bench.video_throughput) a face's descriptor is within
  0.13 of the plain way's for 9 faces in 10 (0.19 at most; the boxes differ a little too), and the
  detections are the same, with similarities within 0.02.

Faces are then linked into tracks and matched on each track's mean descriptor or its second-best
face (monitor.video.face_tracks, monitor.video.track_matching), as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from enrollment import face, face_yunet
from enrollment.video_frames import SampledFrame, sample_video_frames
from monitor.config import Config
from monitor.matching.gallery import Calibration, Gallery, Match, ModalityResult
from monitor.video import frame_changes
from monitor.video.face_tracks import box_iou, link_tracks
from monitor.video.frame_changes import (
    SHIFT_TRY_FRACTION,
    WHOLE_FRAME_FRACTION,
    ZOOM_TRY_MAX_FRACTION,
    boxes_touching,
    changed_tiles,
    estimate_gain,
    estimate_shift,
    estimate_zoom,
    grown,
    relit,
    search_regions,
    shifted,
    tiles_within,
    zoom_boxes,
    zoomed,
)
from monitor.video.track_matching import match_face_tracks

# A re-found face reuses a known face's descriptor when their chips' thumbnails (10 × 10 px block means of
# the 150 px chip: 15 × 15 × 3) differ by at most this mean absolute difference (levels of 255), and
# their boxes overlap by at least MIN_SAME_FACE_IOU.
CHIP_CHANGE_LEVEL = 4.0
THUMBNAIL_BLOCK_PX = 10
MIN_SAME_FACE_IOU = 0.3
# A known face at least this large (its box's shorter side, px) that touches a change is looked for again
# around where it was (monitor.video.frame_changes.grown); HOG at upsample 0, which finds faces down to 65-80 px.
FOLLOW_MIN_FACE_PX = 100
# After a frame that no zoom explained, this many sampled frames are not searched for one (40 ms each): a
# person walking changes as much of a frame as a zoom does. A whole-frame search (a new shot) ends the rest.
ZOOM_REST_FRAMES = 3
# What decides a video's faces (and YuNet's, a photo's too), for the analysis key (monitor.analysis.analyse): changing
# any of it redoes analyses.
METHOD = {"detector": "HOG on grey, YuNet on RGB, changed tiles only, camera shift, fades and zooms allowed for",
          "yunet": [face_yunet.yunet_version(), face_yunet.SETTINGS], "changes": frame_changes.SETTINGS,
          "reuse": [CHIP_CHANGE_LEVEL, THUMBNAIL_BLOCK_PX, MIN_SAME_FACE_IOU], "follow_min_face_px": FOLLOW_MIN_FACE_PX,
          "zoom_rest_frames": ZOOM_REST_FRAMES}


def _rows(boxes: list[face.FaceBox]) -> np.ndarray:
    """Face boxes → (N, 4) int64 rows, top, right, bottom, left."""
    return np.array([box.as_list() for box in boxes], dtype=np.int64).reshape(-1, 4)


def _distinct(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) boxes without the copies that overlapping searches give: of boxes overlapping by
    MIN_SAME_FACE_IOU or more, the first (the larger: detect_faces_in sorts them) is kept."""
    keep: list[int] = []
    for row in range(len(boxes)):
        if not keep or box_iou(boxes[row:row + 1], boxes[keep]).max() < MIN_SAME_FACE_IOU:
            keep.append(row)
    return boxes[keep]


def _thumbnails(chips: np.ndarray) -> np.ndarray:
    """(N, 150, 150, 3) uint8 chips → (N, 15, 15, 3) float32 means of THUMBNAIL_BLOCK_PX-square blocks."""
    n, side = len(chips), face.CHIP_SIZE_PX // THUMBNAIL_BLOCK_PX
    return chips.reshape(n, side, THUMBNAIL_BLOCK_PX, side, THUMBNAIL_BLOCK_PX, 3).mean(axis=(2, 4), dtype=np.float32)


@dataclass
class VideoFaces:
    """What a video's faces gave: the time of its last sampled frame (s), the faces seen in all its
    sampled frames (None when no frame was sampled) and the performers they matched."""

    last_frame_s: float = 0.0
    faces_seen: int | None = None
    matches: list[Match] = field(default_factory=list)
    closest: list[dict] = field(default_factory=list)


def analyse_video_faces(path: Path, config: Config, gallery: Gallery, calibration: Calibration) -> VideoFaces | None:
    """Every sampled frame's faces → tracks → matches. None for an empty face gallery (nothing is decoded)."""
    if len(gallery.face_ids) == 0:
        return None
    finder = VideoFaceFinder(config.face.upsample, config.face.detector)
    encodings, boxes, times = [], [], []
    found_faces = VideoFaces()
    for frame in sample_video_frames(path, config.media):
        # no upsampled retry here (as photos get): it would double the cost of every frame without a
        # face, and a face missed in one frame is often found in the next
        found_boxes, found = finder.faces(frame)
        encodings.append(found)
        boxes.append(found_boxes)
        times.append(np.full(len(found), frame.time_s))
        found_faces.last_frame_s = frame.time_s
    if encodings:
        decided = face_track_matches(np.concatenate(encodings), np.concatenate(times), np.concatenate(boxes), config,
                                     gallery, calibration)
        found_faces.faces_seen = sum(len(rows) for rows in encodings)
        found_faces.matches, found_faces.closest = decided.matches, decided.closest
    return found_faces


def face_track_matches(encodings: np.ndarray, time_s: np.ndarray, boxes: np.ndarray, config: Config,
                       gallery: Gallery, calibration: Calibration) -> ModalityResult:
    """Faces of sampled frames (N, 128), their times (N,) s and boxes (N, 4) → tracks → matches.

    A performer's detection's segments are the spans of its matching tracks (monitor.video.track_matching).
    """
    # frames are frame_every_s apart: a face in consecutive sampled frames is one track, and one that
    # goes missing for up to merge_gap_s (a turned head, a frame the detector missed) is still the same
    gap_s = config.scan.merge_gap_s + config.media.frame_every_s
    tracks = link_tracks(time_s, boxes, encodings, gap_s)
    return match_face_tracks(tracks, gallery, calibration, gap_s, config.scan.closest_per_modality)


@dataclass
class _Known:
    """The faces of the last sampled frame, as arrays (N rows)."""

    boxes: np.ndarray  # (N, 4) int64, top, right, bottom, left px
    descriptors: np.ndarray  # (N, 128) float32
    thumbnails: np.ndarray  # (N, 15, 15, 3) float32: of the chip each descriptor was computed from

    @classmethod
    def none(cls) -> _Known:
        side = face.CHIP_SIZE_PX // THUMBNAIL_BLOCK_PX
        return cls(np.zeros((0, 4), np.int64), np.zeros((0, face.EMBEDDING_SIZE), np.float32),
                   np.zeros((0, side, side, 3), np.float32))

    def take(self, rows: np.ndarray) -> _Known:
        return _Known(self.boxes[rows], self.descriptors[rows], self.thumbnails[rows])


@dataclass
class FinderStats:
    """What a :class:`VideoFaceFinder` did: for benchmarks and tests."""

    frames: int = 0
    whole_frame_searches: int = 0
    unchanged_frames: int = 0  # nothing changed: no search at all
    camera_moves: int = 0  # frames compared with the reference shifted (a pan or a shake)
    fades: int = 0  # frames compared with the reference relit (a fade)
    zooms: int = 0  # frames compared with the reference scaled, then shifted (a zoom)
    searched_fraction: list[float] = field(default_factory=list)  # per frame, of its pixels
    faces_kept: int = 0  # kept from the last frame, unchanged
    descriptors_computed: int = 0
    descriptors_reused: int = 0  # a re-found face whose chip had not changed


class VideoFaceFinder:
    """The faces of one video's sampled frames, given in time order."""

    def __init__(self, upsample: int, detector: str = "yunet") -> None:
        self.upsample = upsample  # HOG's (enrollment.face.detect_faces)
        self.detector = detector
        self.stats = FinderStats()
        self._reference: np.ndarray | None = None  # grey (height, width): what each part was last searched in
        self._known = _Known.none()
        self._zoom_rest = 0  # sampled frames to go before a zoom is looked for again, after one was not found

    def faces(self, frame: SampledFrame) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4: top, right, bottom, left px of the sampled frame) and descriptors (N, 128) float32."""
        grey = frame.grey()
        # what the detector searches; RGB is converted only when something is searched
        picture = (lambda: grey) if self.detector == "hog" else frame.rgb
        self.stats.frames += 1
        found, kept = None, _Known.none()
        if self._reference is not None and self._reference.shape == grey.shape:
            found, kept = self._search_changes(grey, picture)
        if found is None:  # the first frame, a new size, or most of the frame changed
            kept = _Known.none()
            found = _rows(face.detect_faces(picture(), self.upsample, self.detector, turned=False))
            self._reference = grey.copy()
            self._zoom_rest = 0  # a new shot may zoom from its start
            self.stats.whole_frame_searches += 1
            self.stats.searched_fraction.append(1.0)
        if len(kept.boxes) and len(found):
            # a kept face inside a searched margin is found again: it is already known
            found = found[box_iou(found, kept.boxes).max(axis=1) < MIN_SAME_FACE_IOU]
        new = self._describe(frame, found)
        self.stats.faces_kept += len(kept.boxes)
        self._known = _Known(np.concatenate([kept.boxes, new.boxes]),
                             np.concatenate([kept.descriptors, new.descriptors]),
                             np.concatenate([kept.thumbnails, new.thumbnails]))
        return self._known.boxes.copy(), self._known.descriptors.copy()

    def _search_changes(self, grey: np.ndarray,
                        picture: Callable[[], np.ndarray]) -> tuple[np.ndarray | None, _Known]:
        """Faces found in ``picture()`` (the frame as the detector reads it) where ``grey`` changed (None:
        search the whole frame), and the known faces kept."""
        changed = changed_tiles(self._reference, grey)
        if changed.mean() > SHIFT_TRY_FRACTION:
            changed = self._follow_camera(grey, changed)
        if changed.mean() > WHOLE_FRAME_FRACTION:  # a cut: following known faces first would be wasted
            return None, _Known.none()
        touched = boxes_touching(changed, self._known.boxes)
        kept = self._known.take(~touched)
        explained = np.zeros_like(changed)
        found, followed, lost = [], [], []
        for box in self._known.boxes[touched]:
            around = grown(box, grey.shape)
            # a large face is looked for again around where it was; HOG at upsample 0 (faces down to 65-80 px):
            # a quarter of the configured search's cost per pixel. The changes inside are then accounted for
            if min(box[2] - box[0], box[1] - box[3]) >= FOLLOW_MIN_FACE_PX:
                again = face.detect_faces_in(picture(), 0, [around], self.detector, turned=False)
                if again:
                    found += again
                    followed.append(around)
                    explained |= tiles_within(around, changed.shape)
                    continue
            lost.append(box)  # small, or not found so: searched as any change, at the configured upsample
        regions = search_regions(changed & ~explained, grey.shape, np.asarray(lost, dtype=np.int64))
        if regions is None:
            return None, _Known.none()
        if regions:
            found += face.detect_faces_in(picture(), self.upsample, regions, self.detector, turned=False)
        for top, right, bottom, left in regions + followed:
            self._reference[top:bottom, left:right] = grey[top:bottom, left:right]
        self.stats.unchanged_frames += not regions and not followed
        self.stats.searched_fraction.append(
            sum((b - t) * (r - lft) for t, r, b, lft in regions) / grey.size)
        return _distinct(_rows(found)), kept

    def _follow_camera(self, grey: np.ndarray, changed: np.ndarray) -> np.ndarray:
        """Where ``grey`` changed once the whole picture's change is allowed for: a pan or a shaking camera
        (a shift), a fade (a gain), a zoom (a scale, then a shift). The reference and the known faces
        follow it, and only what it does not explain (and what it uncovered) is searched again. Tried in
        that order, cheapest first; the first that leaves at most half as many changed tiles is taken.
        ``changed`` as it is when none does."""
        for kind, explain in (("camera_moves", self._shift), ("fades", self._fade), ("zooms", self._zoom)):
            explained = explain(grey, changed)
            if explained is not None:
                self._reference, changed_there, self._known.boxes = explained
                setattr(self.stats, kind, getattr(self.stats, kind) + 1)
                return changed_there
        return changed

    @staticmethod
    def _explains(changed_there: np.ndarray, changed: np.ndarray) -> bool:
        """Whether a model of the picture's change leaves at most half as many tiles changed."""
        return bool(changed_there.sum() <= 0.5 * changed.sum())

    def _shift(self, grey: np.ndarray, changed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The reference shifted as the picture moved, the tiles still changed, the known boxes moved; None
        when no shift explains the change."""
        dy, dx = estimate_shift(self._reference, grey)
        if (dy, dx) == (0, 0):
            return None
        moved, uncovered = shifted(self._reference, dy, dx)
        changed_there = changed_tiles(moved, grey, moved=True) | uncovered
        if not self._explains(changed_there, changed):
            return None
        return moved, changed_there, self._known.boxes + np.array([dy, dx, dy, dx], dtype=np.int64)

    def _fade(self, grey: np.ndarray, changed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The reference relit by the picture's gain, the tiles still changed, the known boxes as they were;
        None when no gain explains the change."""
        fitted = estimate_gain(self._reference, grey)
        if fitted is None:
            return None
        reference = relit(self._reference, *fitted)
        changed_there = changed_tiles(reference, grey)
        return (reference, changed_there, self._known.boxes) if self._explains(changed_there, changed) else None

    def _zoom(self, grey: np.ndarray, changed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The reference scaled and shifted as the picture was, the tiles still changed, the known boxes moved;
        None when no zoom explains the change, or none is looked for (a cut; resting after a miss)."""
        if self._zoom_rest > 0 or changed.mean() > ZOOM_TRY_MAX_FRACTION:
            self._zoom_rest = max(self._zoom_rest - 1, 0)
            return None
        factor = estimate_zoom(self._reference, grey)
        if factor != 1.0:
            dy, dx = estimate_shift(zoomed(self._reference, factor)[0], grey)
            moved, outside = zoomed(self._reference, factor, dy, dx)
            changed_there = changed_tiles(moved, grey, moved=True) | outside
            if self._explains(changed_there, changed):
                return moved, changed_there, zoom_boxes(self._known.boxes, factor, grey.shape, dy, dx)
        self._zoom_rest = ZOOM_REST_FRAMES
        return None

    def _describe(self, frame: SampledFrame, boxes: np.ndarray) -> _Known:
        """Descriptors of newly found faces: a known face's where its chip has not changed, else computed."""
        if len(boxes) == 0:
            return _Known.none()
        face_boxes = [face.FaceBox(*map(int, box)) for box in boxes]
        chips = face.face_chips(frame.rgb(), face_boxes)
        thumbnails = _thumbnails(chips)
        descriptors = np.zeros((len(boxes), face.EMBEDDING_SIZE), np.float32)
        fresh = np.ones(len(boxes), bool)
        if len(self._known.boxes):
            overlap = box_iou(boxes, self._known.boxes)  # (new, known)
            for row in range(len(boxes)):
                column = int(np.argmax(overlap[row]))
                if overlap[row, column] < MIN_SAME_FACE_IOU:
                    continue
                if np.abs(thumbnails[row] - self._known.thumbnails[column]).mean() <= CHIP_CHANGE_LEVEL:
                    # reused with the thumbnail it came from, so that slow changes add up to a new descriptor
                    descriptors[row], thumbnails[row] = self._known.descriptors[column], self._known.thumbnails[column]
                    fresh[row] = False
        descriptors[fresh] = face.encode_chips(chips[fresh])
        self.stats.descriptors_computed += int(fresh.sum())
        self.stats.descriptors_reused += int((~fresh).sum())
        return _Known(boxes, descriptors, thumbnails)
