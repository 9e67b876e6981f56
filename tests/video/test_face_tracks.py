"""Faces followed across video frames: tracks, one detection per performer with a span, small faces found."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from monitor.matching.gallery import Calibration, Gallery
from monitor.video.face_tracks import box_iou, link_tracks
from monitor.video.track_matching import match_face_tracks

LEFT, RIGHT = [100, 200, 200, 100], [100, 500, 200, 400]  # boxes: top, right, bottom, left (px)
FACE_CALIBRATION = Calibration(center=0.45, slope=25.0, threshold=0.5)


def _people(n: int, seed: int = 0) -> np.ndarray:
    """(n, 128) made-up dlib-like descriptors of n different people, about 1.6 apart."""
    return np.random.default_rng(seed).normal(0, 0.1, (n, 128)).astype(np.float32)


def _faces(sightings: list[tuple[float, int, list[int]]], people: np.ndarray, seed: int = 1):
    """``[(time_s, person, box), …]`` → (time_s (N,), boxes (N, 4), encodings (N, 128)); each face is
    its person's descriptor plus noise (about 0.16 from another face of the same person)."""
    rng = np.random.default_rng(seed)
    time_s = np.array([time for time, _, _ in sightings], dtype=np.float64)
    boxes = np.array([box for _, _, box in sightings], dtype=np.int64)
    encodings = np.stack([people[person] + rng.normal(0, 0.01, 128) for _, person, _ in sightings])
    return time_s, boxes, encodings.astype(np.float32)


def _spans(tracks) -> list[tuple[float, float]]:
    return [(track.start_s, track.end_s) for track in tracks]


def test_two_people_sharing_frames_and_swapping_places_are_two_tracks_with_their_spans():
    people = _people(2)
    # A on screen 0-5 s, B 3-8 s; at 4 s they swap sides, and within a frame the order of faces varies
    sightings = [(t, 0, LEFT) for t in range(0, 4)] + [(t, 1, RIGHT) for t in range(3, 4)]
    sightings += [(4, 1, LEFT), (4, 0, RIGHT), (5, 0, RIGHT), (5, 1, LEFT)]
    sightings += [(t, 1, LEFT) for t in range(6, 9)]
    time_s, boxes, encodings = _faces(sightings, people)
    tracks = link_tracks(time_s, boxes, encodings, max_gap_s=2.0)
    assert _spans(tracks) == [(0.0, 5.0), (3.0, 8.0)]
    who = np.array([person for _, person, _ in sightings])
    assert [set(who[track.face_index]) for track in tracks] == [{0}, {1}]
    assert [len(track) for track in tracks] == [6, 6]
    for track in tracks:
        assert np.array_equal(track.time_s, np.sort(track.time_s))
        assert np.allclose(track.encodings, encodings[track.face_index])
        assert np.linalg.norm(track.descriptor() - people[who[track.face_index[0]]]) < 0.05  # noise averaged out


def test_a_gap_longer_than_max_gap_splits_a_track_and_a_shorter_one_does_not():
    people = _people(1)
    time_s, boxes, encodings = _faces([(t, 0, LEFT) for t in (0, 1, 3, 4, 8, 9)], people)
    tracks = link_tracks(time_s, boxes, encodings, max_gap_s=2.0)
    assert _spans(tracks) == [(0.0, 4.0), (8.0, 9.0)]  # 1 → 3 s is bridged, 4 → 8 s is not


def test_two_faces_of_one_frame_never_share_a_track():
    people = _people(1)
    # the same person twice in every frame (a split screen): the same looks, so only place tells them apart
    sightings = [(t, 0, box) for t in range(5) for box in (RIGHT, LEFT)[:: 1 if t % 2 else -1]]
    time_s, boxes, encodings = _faces(sightings, people)
    tracks = link_tracks(time_s, boxes, encodings, max_gap_s=2.0)
    assert _spans(tracks) == [(0.0, 4.0), (0.0, 4.0)]
    for track in tracks:
        assert len(np.unique(track.time_s)) == len(track) == 5
        assert len({tuple(box) for box in track.boxes}) == 1  # place broke the tie: each side stays one track


def test_another_person_at_the_same_place_after_a_cut_starts_a_new_track():
    people = _people(2)
    time_s, boxes, encodings = _faces([(t, 0, LEFT) for t in range(3)] + [(t, 1, LEFT) for t in range(3, 6)],
                                      people)
    tracks = link_tracks(time_s, boxes, encodings, max_gap_s=2.0)
    assert _spans(tracks) == [(0.0, 2.0), (3.0, 5.0)]


def test_no_faces_make_no_tracks_and_mismatched_arrays_are_refused():
    assert link_tracks(np.zeros(0), np.zeros((0, 4)), np.zeros((0, 128)), max_gap_s=2.0) == []
    with pytest.raises(ValueError):
        link_tracks(np.zeros(2), np.zeros((1, 4)), np.zeros((2, 128)), max_gap_s=2.0)


def test_box_overlap():
    assert box_iou([LEFT], [LEFT, RIGHT]).tolist() == [[1.0, 0.0]]
    assert box_iou([[0, 10, 10, 0]], [[0, 15, 10, 5]])[0, 0] == pytest.approx(50 / 150)


def _gallery(references: np.ndarray) -> Gallery:
    """One reference photo per performer, performers 1…P."""
    ids = np.arange(1, len(references) + 1)
    return Gallery(names={int(i): f"P{i}" for i in ids}, voice_ids=np.zeros(0, np.int64),
                   voiceprints=np.zeros((0, 256), np.float32), face_ids=ids, face_group_starts=np.arange(len(ids)),
                   face_references=references.astype(np.float32))


def test_a_performer_in_two_tracks_is_one_detection_whose_segments_are_the_tracks_spans():
    people = _people(3)
    sightings = ([(t, 0, LEFT) for t in range(2, 6)] + [(t, 1, RIGHT) for t in range(4, 9)]
                 + [(t, 0, LEFT) for t in range(20, 23)])
    time_s, boxes, encodings = _faces(sightings, people)
    tracks = link_tracks(time_s, boxes, encodings, max_gap_s=2.0)
    result = match_face_tracks(tracks, _gallery(people[[0, 2]]), FACE_CALIBRATION, merge_gap_s=2.0, n_closest=3)
    [match] = result.matches
    assert match.performer_id == 1 and match.modality == "face" and match.similarity > 0.8
    assert [(s["start_s"], s["end_s"]) for s in match.segments] == [(2.0, 5.0), (20.0, 22.0)]
    assert set(match.details) == {"time_s", "box", "tracks"} and match.details["tracks"] == 2
    assert match.details["box"] == LEFT and match.details["time_s"] in {2.0, 3.0, 4.0, 5.0, 20.0, 21.0, 22.0}
    assert [c["performer_id"] for c in result.closest] == [1, 2] and result.closest[1]["score"] < 0.01


def test_one_stray_frame_does_not_make_a_track_match_but_a_clear_glimpse_of_two_frames_does():
    performer, stranger = _people(2)
    look_alike = stranger + 0.8 * (performer - stranger)  # 0.2 × 1.6 ≈ 0.3 from the performer: similarity 0.7
    gallery = _gallery(performer[None])

    def track_of(faces: list[np.ndarray]):
        time_s = np.arange(len(faces), dtype=np.float64)
        boxes = np.array([LEFT] * len(faces))
        [track] = link_tracks(time_s, boxes, np.stack(faces), max_gap_s=2.0, max_distance=2.0)  # one track, forced
        return track

    stray = track_of([stranger] * 9 + [look_alike])
    assert match_face_tracks([stray], gallery, FACE_CALIBRATION, 2.0, 3).matches == []
    glimpse = track_of([stranger] * 8 + [look_alike] * 2)
    [match] = match_face_tracks([glimpse], gallery, FACE_CALIBRATION, 2.0, 3).matches
    assert match.details["time_s"] in {8.0, 9.0} and match.segments[0]["start_s"] == 0.0
    alone = track_of([look_alike])  # a track of one face is scored on that face
    assert len(match_face_tracks([alone], gallery, FACE_CALIBRATION, 2.0, 3).matches) == 1


# ----------------------------------------------------------------------------- real models, real media


def _picture(path: Path, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB").resize(size, Image.LANCZOS))


@pytest.mark.slow
def test_a_face_on_screen_for_seconds_is_one_track_and_one_detection_with_its_span(
        likeness, make_performer, grace_hopper_path, astronaut_path, tmp_path):
    from monitor.config import load_config
    from monitor.demo.synthetic import write_video
    from monitor.storage.db import open_database
    from monitor.storage.models import Detection

    performer_id = make_performer("Grace Hopper", face=[grace_hopper_path])
    hopper, astronaut = _picture(grace_hopper_path, (320, 376)), _picture(astronaut_path, (320, 320))
    fps = 2
    frames = []
    for index in range(10 * fps):  # 10 s: Grace Hopper on screen 2-6 s, the astronaut 4-9 s, side by side
        frame = np.full((400, 720, 3), 90, np.uint8)
        if 2 <= index / fps < 6:
            frame[12:388, 20:340] = hopper
        if 4 <= index / fps < 9:
            frame[40:360, 380:700] = astronaut
        frames.append(frame)
    video = write_video(tmp_path / "two-people.mp4", frames, fps=fps)

    [row] = likeness("scan", video, "--json").json
    assert row["media_type"] == "video" and row["error"] is None, row
    [detection] = row["detections"]
    assert detection["performer_id"] == performer_id and detection["modality"] == "face"
    [segment] = detection["segments"]
    assert segment["start_s"] == pytest.approx(2.0, abs=1.0) and segment["end_s"] == pytest.approx(6.0, abs=1.0)
    with open_database(load_config().database_url)() as session:
        details = session.scalar(select(Detection.details).where(Detection.id == detection["id"]))
    assert details["tracks"] == 1 and 2.0 <= details["time_s"] <= 6.0
    _, right_px, _, left_px = details["box"]
    assert left_px >= 20 and right_px <= 340  # the best face is hers, on the left


def _small_photo(grace_hopper_path: Path, path: Path) -> Path:
    """A 400 × 300 photo with Grace Hopper's face about 26 px across: under what dlib finds at upsample 1."""
    from PIL import Image

    scale = 22 / 186  # her face is about 186 px in the original 512 × 600
    small = Image.open(grace_hopper_path).convert("RGB").resize((round(512 * scale), round(600 * scale)),
                                                                 Image.LANCZOS)
    canvas = Image.new("RGB", (400, 300), (120, 120, 120))
    canvas.paste(small, (150, 80))
    canvas.save(path)
    return path


@pytest.mark.slow
def test_a_small_face_in_a_small_photo_is_found_by_upsampling_once_more(home, likeness, make_performer,
                                                                        grace_hopper_path, tmp_path):
    """With the HOG detector; YuNet finds her without upsampling."""
    from PIL import Image

    from enrollment import face

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[face]\ndetector = "hog"\n')
    photo = _small_photo(grace_hopper_path, tmp_path / "small.png")
    rgb = np.asarray(Image.open(photo))
    assert face.detect_faces(rgb, upsample=1, detector="hog") == []  # the configured upsampling alone misses her
    assert face.detect_faces_adaptive(rgb, upsample=1, retry_max_side_px=0, detector="hog") == []
    [box] = face.detect_faces_adaptive(rgb, upsample=1, detector="hog")
    assert box.size_px < 40
    [found] = face.detect_faces(rgb, upsample=1, detector="yunet")
    assert abs(found.top - box.top) < 8 and abs(found.left - box.left) < 8

    performer_id = make_performer("Grace Hopper", face=[grace_hopper_path])
    [row] = likeness("scan", photo, "--json").json
    assert [d["performer_id"] for d in row["detections"]] == [performer_id]


def test_a_large_picture_is_not_searched_again(monkeypatch):
    from enrollment import face

    calls = []
    monkeypatch.setattr(face, "detect_faces", lambda rgb, upsample, detector: calls.append(upsample) or [])
    face.detect_faces_adaptive(np.zeros((300, 400, 3), np.uint8), upsample=1, detector="hog")
    face.detect_faces_adaptive(np.zeros((600, 800, 3), np.uint8), upsample=1, detector="hog")  # 1600 px: too dear
    assert calls == [1, 2, 1]
    face.detect_faces_adaptive(np.zeros((300, 400, 3), np.uint8), upsample=1, detector="yunet")  # never upsampled
    assert calls == [1, 2, 1, 1]
