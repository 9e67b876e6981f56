"""Face matches ranked among other people's faces: the face cohort and the other performers, never oneself."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.matching.face_population import face_population
from monitor.matching.gallery import Gallery


def _unit(rows: np.ndarray) -> np.ndarray:
    # dlib descriptors are about unit length: distances between people then fall around 0.6-1.0
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def gallery() -> Gallery:
    rng = np.random.default_rng(3)
    references = _unit(rng.normal(size=(4, 128)))  # performer 10: photos 0-1; 11: photo 2; 12: photo 3
    return Gallery(names={10: "Ada", 11: "Bea", 12: "Cy"}, voice_ids=np.zeros(0, np.int64),
                   voiceprints=np.zeros((0, 256), np.float32), face_ids=np.array([10, 11, 12]),
                   face_group_starts=np.array([0, 2, 3]), face_references=references,
                   face_cohort=_unit(rng.normal(size=(12, 128))))


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
    return 1.0 - float(np.linalg.norm(a - b))


def test_a_match_is_ranked_among_cohort_faces_and_the_other_performers_but_not_its_own_photos(gallery) -> None:
    own = gallery.face_references[:2]
    others = [max(_similarity(face, photo) for photo in own)
              for face in [*gallery.face_references[2:], *gallery.face_cohort]]
    found = float(np.sort(others)[-3])  # exactly as close as the third closest member: beats 11 of 14

    population = face_population(gallery, 10, found + 1e-6)

    assert population["population"]["compared"] == 2 + 12
    assert population["population"]["closer_than"] == 12
    assert population["normalised_score"] == pytest.approx((found - np.mean(others)) / np.std(others), abs=1e-3)


def test_without_a_population_nothing_is_claimed(gallery) -> None:
    alone = Gallery(names={10: "Ada"}, voice_ids=np.zeros(0, np.int64), voiceprints=np.zeros((0, 256), np.float32),
                    face_ids=np.array([10]), face_group_starts=np.array([0]),
                    face_references=gallery.face_references[:2])

    assert face_population(alone, 10, 0.9) == {}


def test_a_small_population_gives_a_rank_but_no_normalised_score(gallery) -> None:
    gallery.face_cohort = gallery.face_cohort[:3]

    population = face_population(gallery, 10, 0.99)

    assert population["population"] == {"compared": 5, "closer_than": 5, "percentile": 100.0}
    assert "normalised_score" not in population


@pytest.mark.slow
def test_photos_join_the_face_cohort_and_a_face_detection_says_where_it_falls(
        likeness, make_performer, grace_hopper_path, astronaut_path, tmp_path) -> None:
    from PIL import Image

    make_performer("Grace", face=[grace_hopper_path])
    added = likeness("cohort", "add", astronaut_path, "--json")
    again = likeness("cohort", "add", astronaut_path, "--json")
    found = tmp_path / "found.jpg"
    with Image.open(grace_hopper_path) as photo:
        photo.resize((photo.width * 3 // 4, photo.height * 3 // 4)).save(found, quality=80)

    scanned = likeness("scan", found, "--json")
    listed = likeness("cohort", "list", "--json")

    assert added.exit_code == 0 and added.json[0]["added"] and added.json[0]["faces"] == 1
    assert again.json[0]["reason"] == "already in the cohort"
    assert listed.json["face"] == {"added": 1, "enrolled_performers": 1, "total": 2}
    detection = scanned.json[0]["detections"][0]
    assert detection["modality"] == "face"
    assert detection["population"] == {"compared": 1, "closer_than": 1, "percentile": 100.0}
    assert detection["population_text"] == "closer to Grace's face than all 1 other faces compared"


@pytest.mark.slow
def test_a_photo_without_a_face_is_kept_as_seen_but_adds_no_one(likeness, tmp_path) -> None:
    from PIL import Image

    blank = tmp_path / "wall.png"
    Image.new("RGB", (320, 240), (200, 190, 180)).save(blank)

    added = likeness("cohort", "add", blank, "--json")

    assert added.exit_code == 1 and added.json[0]["reason"] == "no face found (kept as seen, not used)"
    assert likeness("cohort", "list", "--json").json["face"]["added"] == 0
