"""Face embeddings: a face detector, then dlib's 5-point landmarks and 128-d ResNet descriptor.

Two detectors, chosen by ``face.detector``: YuNet (``"yunet"``, enrollment.face_yunet: faces from about
14 px, tilted or partly covered) and dlib's HOG detector through face_recognition (``"hog"``: upright
faces from about 40 px at upsample 1). Both give the same square boxes, which dlib's landmarks and
descriptor then describe alike. Reference photos and scanned frames go through the same calls with the
same detector. Descriptors are compared by Euclidean distance (dlib's metric: 0.6 is its usual
same-person limit); ``similarity = 1 - distance``.

face_recognition calls ``quit()`` when its model package fails to import, hiding the cause; the
loader here imports the pieces one by one and raises :class:`ModelUnavailable` naming the real one.
"""

from __future__ import annotations

import functools
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from enrollment import face_yunet
from enrollment.errors import ModelUnavailable
from enrollment.settings import FACE_DETECTORS

EMBEDDING_SIZE = 128
# dlib's HOG detector slides an 80 × 80 px window: it finds faces down to about 80 px at upsample 0,
# ~40 px at upsample 1 and ~20 px at 2. Each doubling halves the smallest face and quadruples the cost.
# A picture with no face is searched once more at upsample + 1 when its longer side, after the
# configured upsampling, is at most this: small pictures are where faces are missed, and cheap to double.
# ``upsample`` and this retry are HOG's: YuNet searches every picture at its own size (enrollment.face_yunet).
RETRY_MAX_SIDE_PX = 1000
# face_recognition's face_encodings crops each face to dlib's defaults: 150 px, 25 % padding
CHIP_SIZE_PX = 150
CHIP_PADDING = 0.25


@dataclass(frozen=True)
class FaceBox:
    """A face's box in pixels of the image it was found in (face_recognition's css order)."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def size_px(self) -> int:
        """The shorter side of the box."""
        return min(self.right - self.left, self.bottom - self.top)

    def as_list(self) -> list[int]:
        return [self.top, self.right, self.bottom, self.left]


@functools.cache
def face_api():  # -> the face_recognition module
    """face_recognition, imported on first use with its real import error surfaced."""
    try:
        with warnings.catch_warnings():  # it imports pkg_resources, deprecated but present (setuptools<81)
            warnings.simplefilter("ignore", UserWarning)
            import face_recognition_models  # noqa: F401  (the weights; face_recognition quit()s without)
    except Exception as error:
        raise ModelUnavailable(
            f"face_recognition_models does not import ({error}); run `make install`"
        ) from None
    try:
        import dlib  # noqa: F401
    except Exception as error:
        raise ModelUnavailable(f"dlib does not import ({error}); install the dlib-bin wheel") from None
    try:
        import face_recognition
    except Exception as error:
        raise ModelUnavailable(f"face_recognition does not import ({error}); run `make install`") from None
    return face_recognition


def _api_module():  # -> face_recognition.api, which holds the loaded dlib models
    face_api()
    return sys.modules["face_recognition.api"]


def detect_faces(rgb: np.ndarray, upsample: int, detector: str = "yunet", turned: bool = True) -> list[FaceBox]:
    """Faces in an image, uint8 RGB of shape (height, width, 3) or grey (height, width); largest first.

    ``detector``: ``"yunet"`` or ``"hog"`` (``face.detector``). ``upsample`` is HOG's: it doubles the image
    that many times before detection (finds smaller faces, slower); YuNet ignores it. ``turned`` is
    YuNet's: it also searches the image turned 40° either way, for tilted faces (about 5× the cost; HOG
    ignores it). On grey HOG's gradients come from one channel instead of the strongest of three (about
    1.5× faster, the same faces on the benchmark video, bench.video_throughput); YuNet reads grey as three
    equal channels, and finds a third fewer faces than on RGB.
    """
    if _checked(detector) == "yunet":
        boxes = [FaceBox(*map(int, row)) for row in face_yunet.find_faces(rgb, turned)]
    else:
        boxes = [FaceBox(*box) for box in face_api().face_locations(rgb, number_of_times_to_upsample=upsample)]
    return sorted(boxes, key=lambda box: box.size_px, reverse=True)


def detect_faces_in(image: np.ndarray, upsample: int, regions: list[tuple[int, int, int, int]],
                    detector: str = "yunet", turned: bool = True) -> list[FaceBox]:
    """:func:`detect_faces` run on each region (top, right, bottom, left in ``image``'s pixels) instead
    of the whole image.

    ``image`` uint8 (height, width, 3) or (height, width). Boxes come back in ``image``'s pixels,
    largest first. A face is found when it lies inside a region with a little context around it, as
    HOG's 80 px window (at the region's pyramid levels) needs; YuNet searches each region with
    face_yunet.REGION_CONTEXT_PX more around it and keeps the faces centred in the region. Regions should
    not overlap, or a face in both is returned twice.
    """
    if _checked(detector) == "yunet":
        found = [FaceBox(*map(int, row)) for row in face_yunet.find_faces_in(image, regions, turned)]
        return sorted(found, key=lambda box: box.size_px, reverse=True)
    height, width = image.shape[:2]
    found = []
    for region_top, region_right, region_bottom, region_left in regions:
        top, bottom = max(region_top, 0), min(region_bottom, height)
        left, right = max(region_left, 0), min(region_right, width)
        if bottom - top < 16 or right - left < 16:  # nothing the detector could find a face in
            continue
        crop = np.ascontiguousarray(image[top:bottom, left:right])
        found += [FaceBox(box.top + top, box.right + left, box.bottom + top, box.left + left)
                  for box in detect_faces(crop, upsample, "hog")]
    return sorted(found, key=lambda box: box.size_px, reverse=True)


def detect_faces_adaptive(rgb: np.ndarray, upsample: int, retry_max_side_px: int = RETRY_MAX_SIDE_PX,
                          detector: str = "yunet") -> list[FaceBox]:
    """:func:`detect_faces`, tried once more at ``upsample + 1`` when HOG finds no face in a small picture.

    ``rgb`` uint8 (height, width, 3). The retry happens only when the picture's longer side, doubled
    ``upsample`` times, is at most ``retry_max_side_px`` (0: never), so the retry costs at most a
    detection on a picture of twice that side (0.12 s for a 400 × 300 picture at upsample 1, on 2 cores).
    YuNet is not retried: it already finds faces down to about 14 px, and smaller ones would not be
    described usefully. Boxes are in ``rgb``'s pixels.
    """
    boxes = detect_faces(rgb, upsample, detector)
    if detector == "hog" and not boxes and max(rgb.shape[:2]) * 2**upsample <= retry_max_side_px:
        boxes = detect_faces(rgb, upsample + 1, detector)
    return boxes


def _checked(detector: str) -> str:
    """``detector`` if it is one of FACE_DETECTORS; ValueError otherwise (the config refuses it first)."""
    if detector not in FACE_DETECTORS:
        raise ValueError(f"face detector must be one of {', '.join(FACE_DETECTORS)}, not {detector!r}")
    return detector


def encode_faces(rgb: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
    """128-d descriptors of the given faces: float32 of shape (len(boxes), 128)."""
    if not boxes:
        return np.zeros((0, EMBEDDING_SIZE), np.float32)
    encodings = face_api().face_encodings(rgb, [box.as_list() for box in boxes])
    return np.asarray(encodings, dtype=np.float32).reshape(len(boxes), EMBEDDING_SIZE)


def face_chips(rgb: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
    """The aligned face images the descriptor network sees: uint8 (len(boxes), 150, 150, 3).

    ``rgb`` uint8 (height, width, 3). The same 5-point landmarks, size and padding as
    face_recognition's ``face_encodings``, so ``encode_chips(face_chips(rgb, boxes))`` equals
    ``encode_faces(rgb, boxes)`` exactly: the chip is all the descriptor depends on, and two chips
    that barely differ have descriptors that barely differ.
    """
    if not boxes:
        return np.zeros((0, CHIP_SIZE_PX, CHIP_SIZE_PX, 3), np.uint8)
    import dlib

    api = _api_module()
    shapes = dlib.full_object_detections([
        api.pose_predictor_5_point(rgb, dlib.rectangle(box.left, box.top, box.right, box.bottom)) for box in boxes])
    return np.stack(dlib.get_face_chips(rgb, shapes, size=CHIP_SIZE_PX, padding=CHIP_PADDING))


def encode_chips(chips: np.ndarray) -> np.ndarray:
    """128-d descriptors of aligned face chips (N, 150, 150, 3) uint8 → float32 (N, 128)."""
    if len(chips) == 0:
        return np.zeros((0, EMBEDDING_SIZE), np.float32)
    encodings = _api_module().face_encoder.compute_face_descriptor(list(np.ascontiguousarray(chips)))
    return np.asarray(encodings, dtype=np.float32).reshape(len(chips), EMBEDDING_SIZE)


def face_similarity(found: np.ndarray, references: np.ndarray) -> np.ndarray:
    """``1 - euclidean distance`` between every found face and every reference, in one product.

    ``found`` (F, 128), ``references`` (R, 128) → (F, R) float32; 1.0 is identical, and dlib's
    usual same-person limit (distance 0.6) is 0.4.
    """
    found = np.asarray(found, dtype=np.float32)
    references = np.asarray(references, dtype=np.float32)
    squared = (
        np.square(found).sum(axis=1)[:, None]
        + np.square(references).sum(axis=1)[None, :]
        - 2.0 * found @ references.T
    )
    return (1.0 - np.sqrt(np.maximum(squared, 0.0))).astype(np.float32)


@functools.cache
def face_model_version() -> str:
    """``face_recognition <version> dlib <version> weights:<sha256 prefix of the descriptor model>``.

    The descriptor's: what stored descriptors (references, the face population) depend on. The detector
    only chooses the box the landmarks start from; descriptors on YuNet's and on HOG's boxes of a face are
    0.05 apart (median, at most 0.11: enrollment.face_yunet), so they stay comparable. The detector and
    yuface's version are in the analysis key instead (monitor.analysis.analyse, monitor.video.faces.METHOD).
    """
    from importlib.metadata import version

    from enrollment.media import sha256_file
    from enrollment.voice import package_folder

    # face_recognition_models' own face_recognition_model_location(), without importing it (dlib, pkg_resources)
    weights = package_folder("face_recognition_models") / "models" / "dlib_face_recognition_resnet_model_v1.dat"
    return (
        f"face_recognition {version('face-recognition')} dlib {version('dlib-bin')} "
        f"weights:{sha256_file(weights)[:12]}"
    )
