"""Face embeddings: dlib's detector and its 128-d ResNet descriptor, through face_recognition.

Reference photos and scanned frames go through the same two calls. Descriptors are compared by
Euclidean distance (dlib's metric: 0.6 is its usual same-person limit); ``similarity = 1 - distance``.

face_recognition calls ``quit()`` when its model package fails to import, hiding the cause; the
loader here imports the pieces one by one and raises :class:`ModelUnavailable` naming the real one.
"""

from __future__ import annotations

import functools
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from enrollment.errors import ModelUnavailable

EMBEDDING_SIZE = 128


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


def detect_faces(rgb: np.ndarray, upsample: int) -> list[FaceBox]:
    """Faces in an image, uint8 RGB of shape (height, width, 3); largest first.

    ``upsample`` doubles the image that many times before detection (finds smaller faces, slower).
    """
    boxes = [FaceBox(*box) for box in face_api().face_locations(rgb, number_of_times_to_upsample=upsample)]
    return sorted(boxes, key=lambda box: box.size_px, reverse=True)


def encode_faces(rgb: np.ndarray, boxes: list[FaceBox]) -> np.ndarray:
    """128-d descriptors of the given faces: float32 of shape (len(boxes), 128)."""
    if not boxes:
        return np.zeros((0, EMBEDDING_SIZE), np.float32)
    encodings = face_api().face_encodings(rgb, [box.as_list() for box in boxes])
    return np.asarray(encodings, dtype=np.float32).reshape(len(boxes), EMBEDDING_SIZE)


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
    """``face_recognition <version> dlib <version> weights:<sha256 prefix of the descriptor model>``."""
    from importlib.metadata import version

    from enrollment.media import sha256_file

    face_api()  # imports face_recognition_models with its pkg_resources warning silenced
    weights = sys.modules["face_recognition_models"].face_recognition_model_location()
    return (
        f"face_recognition {version('face-recognition')} dlib {version('dlib-bin')} "
        f"weights:{sha256_file(weights)[:12]}"
    )
