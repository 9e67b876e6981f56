"""YuNet face detection (libfacedetection's CNN, through the ``yuface`` wheel), boxed as dlib's HOG boxes faces.

YuNet finds faces from about 14 px up, tilted, turned or partly covered, where dlib's HOG detector (an 80 px
window, upright faces) needs about 40 px at upsample 1. Each face is then handed to the same dlib 5-point
landmarks and 128-d descriptor as HOG's faces (enrollment.face), so references, the face population and
found faces are described alike whichever detector found them.

- **Input**: uint8 RGB (height, width, 3) or grey (height, width); YuNet wants contiguous BGR, and grey
  is stacked to three equal channels. It finds a third fewer faces on grey than on colour (91 against
  133 of 240 upright-only on bench.face_detection's scenes), so the video path gives it RGB.
- **Scale**: YuNet runs on the picture at its own size (its cost grows with the pixels: about 0.11 s for
  1280 × 720 on one core), so small faces are not lost to scaling down. It is sure of faces up to about
  ``LARGEST_FACE_PX``; above, its confidence falls (0.72 for a 580 px face) and its boxes shrink. A picture
  whose shorter side exceeds that is searched again halved, and so on (a quarter of the cost each time);
  a face found at two scales is kept once, from the scale it was surer of.
- **Tilt**: YuNet finds few faces tilted more than about 30°. A picture is also searched turned 40° either
  way (``TURNS_DEG``), where such faces are upright; ``turned=False`` skips that (the video path).
- **Boxes**: YuNet's box runs from the hairline to the chin, and its top jumps with the hairline (by 10 px
  between frames of a still face on the tests' video). On the photos of ``../shared/data/faces`` it
  is 0.91 × as wide and 1.26 × as tall as HOG's square box of the same face. Each face is given HOG's
  square instead: 1.1 × YuNet's width, centred across on YuNet's box and down on the mean of its five
  landmarks, which do not follow the hairline. dlib's descriptor on it is 0.047 (median; 0.11 at most)
  from the descriptor on HOG's own box of the same photo, less than two frames of a still face differ,
  and the nearest other person is 0.76 away (0.77 on HOG's boxes). On YuNet's raw box the descriptor is
  0.085 (0.19 at most) from HOG's and the nearest other person 0.73 away. Below 40 px the box matters
  little: the face's few pixels do (0.19 from the full-size descriptor at 40 px, 0.40 at 20 px, on any
  box). A square centred on the landmarks alone describes as well (0.035) but identifies 4 fewer of the
  197 faces of bench.face_detection; centred on the box alone, a still face's descriptor is recomputed
  more often in video (the tests' video: 18 descriptors computed, against 12). HOG's shape also keeps the
  project's sizes meaningful (``face.min_face_px``, alert crops, the video path's face sizes).

Weights are compiled into the wheel; its version names them (in the analysis key: monitor.video.faces.METHOD).
``yuface`` is imported on first use: its OpenMP runtime reads ``OMP_NUM_THREADS`` when it loads, which an
analysis worker sets to 1 first (monitor.analysis.worker_process.one_thread).
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from enrollment.errors import ModelUnavailable

# A face is kept when YuNet's confidence (0-1) is above this. True faces of 16 px or more mostly score 0.85-0.95;
# on the benchmark's scenes (bench.face_detection) 0.8 rather than yuface's 0.5 loses 14 of 220 faces found (4 of
# 150 identified: the rest were too small or too covered to describe) and 21 of 22 boxes on no face, one of which
# matched a performer; the false faces in ../shared/data/faces (a painting, a chandelier) score 0.55-0.70.
MIN_CONFIDENCE = 0.8
# YuNet's confidence stays at 0.85 or more for faces up to about this (px); larger ones are searched for in
# the picture halved (see the module's docstring).
LARGEST_FACE_PX = 400
# Pictures with a side under this are not searched (no face YuNet finds fits): a 1 × 1 or 5 × 3 image.
SMALLEST_PICTURE_PX = 8
# Two finds overlapping by at least this (intersection over union) are one face.
SAME_FACE_IOU = 0.3
# YuNet's box of width w → HOG's square: its side BOX_SIDE_PER_WIDTH × w (the median over ../shared/data/faces:
# 1.10, from 0.98 to 1.24), centred across on YuNet's box and down on its landmarks' mean (the medians of HOG's
# centre: 0.01 w and 0.013 w from them).
BOX_SIDE_PER_WIDTH = 1.1
# Pictures are also searched turned by these angles (counter-clockwise; whole, so about 2.2× the pixels each).
# Upright only, YuNet finds 43 of 78 faces tilted 20-40° on bench.face_detection's scenes and 20 of 81 tilted
# 40-60° (HOG: 52 and 19); with these turns, 65 and 71, and 70 of 81 within 20° (as upright only).
TURNS_DEG = (40.0, -40.0)
# A picture whose longer side exceeds this (yuface's own advice for its input) is halved until it does not before
# it is searched turned: the turned passes then cost at most about 0.8 s of one core (a 960 × 960 picture), where a
# 2560 × 2560 photo turned at its own size took 9 s (its upright pass: 1.5 s). Only tilted faces under twice the
# smallest YuNet finds are lost to it.
TURNED_MAX_SIDE_PX = 960
# A region is searched with this much of the picture around it (a face at its very edge is missed without),
# and keeps the faces whose centre lies in the region itself.
REGION_CONTEXT_PX = 8
# What decides YuNet's finds, for the analysis key (monitor.video.faces.METHOD, with yuface's version).
SETTINGS = {"min_confidence": MIN_CONFIDENCE, "largest_face_px": LARGEST_FACE_PX, "same_face_iou": SAME_FACE_IOU,
            "box": [BOX_SIDE_PER_WIDTH, "box x, landmarks y"], "turns_deg": TURNS_DEG,
            "turned_max_side_px": TURNED_MAX_SIDE_PX, "region_context_px": REGION_CONTEXT_PX}

Box = tuple[int, int, int, int]  # top, right, bottom, left in pixels


@functools.cache
def yunet_detect():  # -> yuface.detect
    """``yuface.detect``, imported on first use; ModelUnavailable (one line) when it does not import."""
    try:
        import yuface
    except Exception as error:
        raise ModelUnavailable(f"yuface does not import ({error}); run `make install`, "
                               "or set face.detector = \"hog\"") from None
    return yuface.detect


def yunet_version() -> str:
    """``yuface <version>``, or ``yuface absent`` (then only ``face.detector = "hog"`` works)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"yuface {version('yuface')}"
    except PackageNotFoundError:
        return "yuface absent"


def find_faces(image: np.ndarray, turned: bool = True) -> np.ndarray:
    """Faces in a picture: (N, 4) int64 boxes (top, right, bottom, left) in its pixels, HOG's shape, within it.

    ``image`` uint8 (height, width, 3) RGB or (height, width) grey, any size (a picture with a side under
    SMALLEST_PICTURE_PX has none). ``turned``: also search the picture turned by each of TURNS_DEG, for faces
    tilted 20-60° (about 5× the cost; halved first while its longer side exceeds TURNED_MAX_SIDE_PX). Rows are
    in no particular order.
    """
    height, width = image.shape[:2]
    if min(height, width) < SMALLEST_PICTURE_PX:
        return np.zeros((0, 4), np.int64)
    bgr = _bgr(image)
    finds = [_squares(bgr)]
    if turned:
        smaller, scale = bgr, 1
        while max(smaller.shape[:2]) > TURNED_MAX_SIDE_PX:
            smaller, scale = _halved(smaller), scale * 2
        for angle in TURNS_DEG:
            squares = _turned_squares(smaller, angle)
            finds.append(np.column_stack([squares[:, :1], squares[:, 1:] * scale]))
    kept = _distinct(np.concatenate(finds))
    return np.array([_box(x, y, side, (height, width)) for _, x, y, side in kept], np.int64).reshape(-1, 4)


def find_faces_in(image: np.ndarray, regions: list[Box], turned: bool = True) -> np.ndarray:
    """:func:`find_faces` in each region (top, right, bottom, left in ``image``'s pixels), searched with
    REGION_CONTEXT_PX around it: (N, 4) int64 boxes in ``image``'s pixels of the faces centred in a region."""
    height, width = image.shape[:2]
    found = []
    for region_top, region_right, region_bottom, region_left in regions:
        top, bottom = max(region_top - REGION_CONTEXT_PX, 0), min(region_bottom + REGION_CONTEXT_PX, height)
        left, right = max(region_left - REGION_CONTEXT_PX, 0), min(region_right + REGION_CONTEXT_PX, width)
        if bottom <= top or right <= left:
            continue
        crop = np.ascontiguousarray(image[top:bottom, left:right])
        boxes = find_faces(crop, turned) + np.array([top, left, top, left])
        centre_y, centre_x = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        found.append(boxes[(centre_y >= region_top) & (centre_y < region_bottom)
                           & (centre_x >= region_left) & (centre_x < region_right)])
    return np.concatenate(found) if found else np.zeros((0, 4), np.int64)


def _squares(bgr: np.ndarray) -> np.ndarray:
    """YuNet at every scale of ``bgr``'s pyramid: (N, 4) rows of confidence, centre x, centre y, side (px of
    ``bgr``): each face as the square dlib's HOG detector would give it (see the module's docstring)."""
    finds, scale = [], 1
    while True:
        confidence, width, centre_x, centre_y = _detect(bgr).T
        finds.append(np.column_stack([confidence, scale * centre_x, scale * centre_y,
                                      scale * BOX_SIDE_PER_WIDTH * width]))
        if min(bgr.shape[:2]) <= LARGEST_FACE_PX:
            return np.concatenate(finds)
        bgr, scale = _halved(bgr), scale * 2


def _turned_squares(bgr: np.ndarray, angle_deg: float) -> np.ndarray:
    """:func:`_squares` of ``bgr`` turned by ``angle_deg`` (counter-clockwise, whole: the turned picture is
    larger), their centres turned back into ``bgr``'s pixels; those off ``bgr`` (in the corners the turn
    added) dropped. A face tilted by about ``angle_deg`` is upright in the turned picture."""
    from PIL import Image

    turned = np.asarray(Image.fromarray(bgr).rotate(angle_deg, resample=Image.Resampling.BILINEAR, expand=True))
    squares = _squares(np.ascontiguousarray(turned))
    theta = np.deg2rad(angle_deg)
    dx, dy = squares[:, 1] - turned.shape[1] / 2, squares[:, 2] - turned.shape[0] / 2
    squares[:, 1] = np.cos(theta) * dx - np.sin(theta) * dy + bgr.shape[1] / 2
    squares[:, 2] = np.sin(theta) * dx + np.cos(theta) * dy + bgr.shape[0] / 2
    height, width = bgr.shape[:2]
    return squares[(squares[:, 1] >= 0) & (squares[:, 1] < width) & (squares[:, 2] >= 0) & (squares[:, 2] < height)]


def _box(x: float, y: float, side: float, shape: tuple[int, int]) -> Box:
    """A square (centre x, centre y, side px) as (top, right, bottom, left), clipped to a picture of ``shape``
    (height, width) as face_recognition clips HOG's boxes."""
    height, width = shape
    return (max(round(y - side / 2), 0), min(round(x + side / 2), width), min(round(y + side / 2), height),
            max(round(x - side / 2), 0))


def _bgr(image: np.ndarray) -> np.ndarray:
    """uint8 RGB (h, w, 3) or grey (h, w) → contiguous BGR (h, w, 3), as YuNet reads it."""
    if image.ndim == 2:
        return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2))
    return np.ascontiguousarray(image[:, :, ::-1])


def _halved(bgr: np.ndarray) -> np.ndarray:
    """(h, w, 3) uint8 → (h // 2, w // 2, 3): means of 2 × 2 blocks (Pillow's reduce)."""
    from PIL import Image

    return np.asarray(Image.fromarray(bgr).reduce(2))


def _detect(bgr: np.ndarray) -> np.ndarray:
    """One YuNet pass: (N, 4) float64 rows of confidence (0-1), box width, the box's centre x and the mean y of
    its five landmarks (eyes, nose tip, mouth corners), px of ``bgr``: where HOG's square would be centred."""
    detect = yunet_detect()
    with warnings.catch_warnings():  # yuface warns of pictures over 960 px, whose large faces we find halved
        warnings.simplefilter("ignore", UserWarning)
        confidences, boxes, landmarks = detect(bgr, conf=MIN_CONFIDENCE)
    # int16 from yuface: widened before any arithmetic (a 400 px face's area overflows it)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    landmarks_y = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)[:, :, 1].mean(axis=1)
    return np.column_stack([np.asarray(confidences, np.float64) / 100, boxes[:, 2], boxes[:, 0] + boxes[:, 2] / 2,
                            landmarks_y]).reshape(-1, 4)


def _distinct(finds: np.ndarray) -> np.ndarray:
    """(N, 4) squares (confidence, centre x, centre y, side) without the copies that several scales and turns
    give: of squares overlapping by SAME_FACE_IOU or more, the most confident is kept."""
    finds = finds[np.argsort(-finds[:, 0], kind="stable")]
    keep: list[int] = []
    for row in range(len(finds)):
        if all(_iou(finds[row, 1:], finds[other, 1:]) < SAME_FACE_IOU for other in keep):
            keep.append(row)
    return finds[keep]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two squares (centre x, centre y, side)."""
    across = max(0.0, min(a[0] + a[2] / 2, b[0] + b[2] / 2) - max(a[0] - a[2] / 2, b[0] - b[2] / 2))
    down = max(0.0, min(a[1] + a[2] / 2, b[1] + b[2] / 2) - max(a[1] - a[2] / 2, b[1] - b[2] / 2))
    union = a[2] ** 2 + b[2] ** 2 - across * down
    return float(across * down / union) if union > 0 else 0.0
