"""Face detection (``face.detector``): YuNet finds small, tilted and partly covered faces that dlib's HOG detector
misses, dlib's descriptor on its boxes still tells people apart, and ``"hog"`` is the detector it always was.

Scenes are composed from the photos that ship with matplotlib (Grace Hopper) and scikit-image (the astronaut,
Eileen Collins) by bench.face_scenes: Grace Hopper is enrolled from her photo as it is and pasted mirrored, so
that no pasted face is the enrolled picture itself.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from bench import face_scenes
from enrollment import face, face_yunet
from enrollment.errors import ModelUnavailable
from monitor.config import load_config
from monitor.video.face_tracks import box_iou

pytestmark = pytest.mark.slow
LIMITS = load_config(Path("/nonexistent")).media


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, dict[str, face_scenes.Pasted]]:
    """640 × 360 px of scikit-image's coffee with five faces (their side as dlib's HOG box measures it): Grace
    Hopper at 18 px, the astronaut at 24 px, Grace Hopper at 64 px tilted 50°, Grace Hopper at 48 px tilted
    15° with a third of her face covered by gravel, and the astronaut at 56 px tilted 10°."""
    from PIL import Image

    _, (hopper, astronaut), _ = face_scenes.package_people()
    canvas = np.asarray(Image.fromarray(face_scenes.backgrounds()[0]).resize((640, 360))).copy()
    gravel = face_scenes.backgrounds()[8][:64, :64]
    faces = {"small hopper": face_scenes.paste_face(canvas, hopper, 18, 0, (80, 100)),
             "small astronaut": face_scenes.paste_face(canvas, astronaut, 24, 0, (300, 80)),
             "tilted hopper": face_scenes.paste_face(canvas, hopper, 64, 50, (200, 300)),
             "covered hopper": face_scenes.paste_face(canvas, hopper, 48, -15, (100, 520), gravel,
                                                      np.random.default_rng(1)),
             "astronaut": face_scenes.paste_face(canvas, astronaut, 56, 10, (270, 520))}
    return canvas, faces


def _found(boxes: list[face.FaceBox], faces: dict[str, face_scenes.Pasted]) -> dict[str, int]:
    """Each pasted face's index in ``boxes`` (a box overlapping it by IoU ≥ 0.3), for those found."""
    if not boxes:
        return {}
    overlap = box_iou(np.array([p.box for p in faces.values()]), np.array([b.as_list() for b in boxes]))
    return {name: int(np.argmax(row)) for name, row in zip(faces, overlap, strict=True) if row.max() >= 0.3}


def _hopper_reference(grace_hopper_path: Path, detector: str) -> np.ndarray:
    from enrollment.media import load_image

    rgb = load_image(grace_hopper_path, LIMITS)
    return face.encode_faces(rgb, face.detect_faces(rgb, 1, detector)[:1])


def test_yunet_finds_small_tilted_and_covered_faces_that_hog_misses(scene):
    canvas, faces = scene
    yunet = _found(face.detect_faces_adaptive(canvas, 1, detector="yunet"), faces)
    hog = _found(face.detect_faces_adaptive(canvas, 1, detector="hog"), faces)
    assert sorted(yunet) == sorted(faces)
    assert sorted(hog) == ["astronaut", "covered hopper"]  # neither small face, nor the tilted one
    upright_only = _found(face.detect_faces(canvas, 1, "yunet", turned=False), faces)
    assert "tilted hopper" not in upright_only  # found in the picture turned 40°


def test_the_descriptor_on_yunets_boxes_tells_grace_hopper_from_the_astronaut(scene, grace_hopper_path):
    from monitor.analysis.analyse import face_calibration

    canvas, faces = scene
    boxes = face.detect_faces(canvas, 1, "yunet")
    found = _found(boxes, faces)
    similarity = face.face_similarity(face.encode_faces(canvas, boxes), _hopper_reference(grace_hopper_path, "yunet"))
    threshold = face_calibration(load_config(Path("/nonexistent"))).similarity_threshold
    for name in ("tilted hopper", "covered hopper"):
        assert similarity[found[name], 0] >= threshold, name
    assert similarity[found["astronaut"], 0] < threshold - 0.1


def test_references_described_on_yunets_and_on_hogs_boxes_are_alike(grace_hopper_path):
    """The detector only chooses where dlib's landmarks start: the two descriptors of one photo are closer
    than two frames of a still face (0.04-0.10)."""
    hog, yunet = (_hopper_reference(grace_hopper_path, detector) for detector in ("hog", "yunet"))
    assert float(np.linalg.norm(hog - yunet)) < 0.1


def test_hog_is_face_recognitions_detector_as_it_was(grace_hopper_path, astronaut_path):
    from enrollment.media import load_image

    api = face.face_api()
    for path in (grace_hopper_path, astronaut_path):
        rgb = load_image(path, LIMITS)
        expected = sorted((face.FaceBox(*box) for box in api.face_locations(rgb, number_of_times_to_upsample=1)),
                          key=lambda box: box.size_px, reverse=True)
        assert face.detect_faces(rgb, 1, "hog") == expected
        assert face.detect_faces_adaptive(rgb, 1, detector="hog") == expected
    # the astronaut's suit has a patch HOG takes for a face; YuNet does not
    assert len(face.detect_faces(load_image(astronaut_path, LIMITS), 1, "hog")) == 2
    assert len(face.detect_faces(load_image(astronaut_path, LIMITS), 1, "yunet")) == 1


def test_a_grey_picture_gives_the_face_of_its_colour_picture(grace_hopper_path):
    from enrollment.media import load_image

    rgb = load_image(grace_hopper_path, LIMITS)
    grey = np.asarray(np.round(rgb @ np.array([0.299, 0.587, 0.114])), np.uint8)  # (height, width)
    [coloured], [greyed] = face.detect_faces(rgb, 1), face.detect_faces(grey, 1)
    assert box_iou(np.array([coloured.as_list()]), np.array([greyed.as_list()]))[0, 0] >= 0.8


@pytest.mark.parametrize("detector", ["yunet", "hog"])
def test_a_picture_without_a_face_gives_none(detector):
    from skimage import data

    assert face.detect_faces(data.coffee(), 1, detector) == []
    assert face.detect_faces_adaptive(np.zeros((300, 400, 3), np.uint8), 1, detector=detector) == []


@pytest.mark.parametrize("detector", ["yunet", "hog"])
@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 3, 3), (3, 5), (0, 0, 3), (4, 3000, 3), (3000, 4, 3), (24, 3000)])
def test_tiny_and_thin_pictures_give_no_face_and_no_error(detector, shape):
    picture = np.full(shape, 128, np.uint8)
    assert face.detect_faces(picture, 1, detector) == []
    assert face.detect_faces_in(picture, 1, [(0, 3000, 3000, 0)], detector) == []


def test_a_region_search_finds_the_faces_centred_in_it_in_the_pictures_pixels(scene):
    canvas, faces = scene
    top, right, bottom, left = faces["covered hopper"].box
    region = (top - 12, right + 12, bottom + 12, left - 12)  # tight: the detector adds its own context
    [box] = face.detect_faces_in(canvas, 1, [region, (0, 40, 40, 0)])
    assert box_iou(np.array([faces["covered hopper"].box]), np.array([box.as_list()]))[0, 0] >= 0.3
    beside = (top - 12, left - 12, bottom + 12, left - 80)  # touches the face, but its centre is outside
    assert face.detect_faces_in(canvas, 1, [beside]) == []


def test_an_unknown_detector_is_refused():
    with pytest.raises(ValueError, match="one of yunet, hog"):
        face.detect_faces(np.zeros((40, 40, 3), np.uint8), 1, "cnn")


def test_yuface_missing_is_one_line_naming_the_fix(monkeypatch):
    face_yunet.yunet_detect.cache_clear()
    monkeypatch.setitem(sys.modules, "yuface", None)  # import yuface then raises ImportError
    try:
        with pytest.raises(ModelUnavailable) as refused:
            face.detect_faces(np.zeros((40, 40, 3), np.uint8), 1, "yunet")
        assert "\n" not in str(refused.value) and "yuface does not import" in str(refused.value)
        assert face.detect_faces(np.zeros((40, 40, 3), np.uint8), 1, "hog") == []  # HOG needs no yuface
    finally:
        face_yunet.yunet_detect.cache_clear()


def test_media_analysed_with_one_detector_are_analysed_again_with_the_other():
    from monitor.analysis.analyse import analysis_key
    from monitor.matching.gallery import Gallery

    gallery = Gallery(names={1: "Grace Hopper"}, voice_ids=np.zeros(0, np.int64), voiceprints=np.zeros((0, 256)),
                      face_ids=np.array([1]), face_group_starts=np.array([0]), face_references=np.zeros((1, 128)))
    config = load_config(Path("/nonexistent"))
    keys = {detector: analysis_key(config.replace("face", detector=detector), gallery) for detector in ("yunet", "hog")}
    assert keys["yunet"] != keys["hog"]
    assert analysis_key(config.replace("face", detector="hog"), gallery) == keys["hog"]
