"""A video's faces found without redoing what did not change: the same faces as the plain way, for less work.

Each comparison runs with both face detectors (``face.detector``): YuNet, and dlib's HOG detector.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.paths import SHARED_DATA

pytestmark = pytest.mark.slow
DETECTORS = ("yunet", "hog")


def _photo(path: Path, height: int) -> np.ndarray:
    from PIL import Image

    image = Image.open(path).convert("RGB")
    return np.asarray(image.resize((round(image.width * height / image.height), height), Image.LANCZOS))


def _background(width: int, height: int) -> np.ndarray:
    from PIL import Image
    from skimage import data

    return np.asarray(Image.fromarray(data.coffee()).resize((width, height), Image.BILINEAR))


def _shifted(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    padded = np.pad(frame, ((6, 6), (6, 6), (0, 0)), mode="edge")
    return padded[6 + dy:6 + dy + frame.shape[0], 6 + dx:6 + dx + frame.shape[1]]


def _video(path: Path, hopper_path: Path, astronaut_path: Path, fps: int = 5) -> Path:
    """24 s at 720 × 400: Grace Hopper before a still camera (0-6 s), a title card without a face (6-10 s),
    the astronaut walking past her (10-16 s), a shaking camera (16-20 s), her face small, about 45 px (20-24 s)."""
    from PIL import Image
    from skimage import data

    from monitor.demo.synthetic import write_video

    width, height = 720, 400
    background = _background(width, height)
    hopper, astronaut = _photo(hopper_path, 300), _photo(astronaut_path, 220)
    small = _photo(hopper_path, 150)  # her face is about 45 px in it
    card = np.asarray(Image.fromarray(data.page()).convert("RGB").resize((width, height)))
    frames = []
    for index in range(24 * fps):
        t = index / fps
        frame = background.copy()
        if t < 6 or 10 <= t < 20:
            sway = round(3 * np.sin(t * 2.0))
            frame[50:350, 60 + sway:60 + sway + hopper.shape[1]] = hopper
        if 6 <= t < 10:
            frame = card.copy()
        if 10 <= t < 16:
            left = int(300 + 40 * (t - 10))
            visible = min(astronaut.shape[1], width - left)  # she walks out of the frame on the right
            frame[150:370, left:left + visible] = astronaut[:, :visible]
        if 16 <= t < 20:
            rng = np.random.default_rng(index)
            frame = _shifted(frame, *rng.integers(-4, 5, 2))
        if t >= 20:
            frame[200:350, 500:500 + small.shape[1]] = small
        frames.append(frame)
    return write_video(path, frames, fps=fps)


def _plain_faces(path: Path, limits, upsample: int, detector: str) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """The plain way on every sampled frame: the detector on the whole RGB frame (HOG: face_recognition's own
    face_locations; YuNet upright, as the video path searches), then face_recognition's face_encodings."""
    from enrollment.face import detect_faces, face_api
    from enrollment.video_frames import iter_video_frames

    api = face_api()
    faces = []
    for time_s, rgb in iter_video_frames(path, limits):
        if detector == "hog":
            locations = api.face_locations(rgb, number_of_times_to_upsample=upsample)
        else:
            locations = [box.as_list() for box in detect_faces(rgb, upsample, detector, turned=False)]
        faces.append((time_s, np.asarray(locations, np.int64).reshape(-1, 4),
                      np.asarray(api.face_encodings(rgb, locations), np.float32).reshape(-1, 128)))
    return faces


def _finder_faces(path: Path, limits, upsample: int, detector: str):
    from enrollment.video_frames import sample_video_frames
    from monitor.video.faces import VideoFaceFinder

    finder = VideoFaceFinder(upsample, detector)
    faces = [(frame.time_s, *finder.faces(frame)) for frame in sample_video_frames(path, limits)]
    return faces, finder.stats


def _assert_same_faces(plain, found, max_distance: float, earlier: int = 0) -> None:
    """Frame by frame, the same faces (boxes overlapping by IoU ≥ 0.3) with descriptors at most this far apart.

    ``earlier``: up to this many faces may instead carry, within ``max_distance``, the plain way's descriptor
    of an earlier frame: a descriptor the finder reused because the face's chip had barely changed.
    """
    from monitor.video.face_tracks import box_iou

    assert [time_s for time_s, _, _ in plain] == [time_s for time_s, _, _ in found]
    seen, from_earlier = np.zeros((0, 128), np.float32), 0
    for (time_s, plain_boxes, plain_codes), (_, boxes, codes) in zip(plain, found, strict=True):
        assert len(plain_boxes) == len(boxes), (time_s, plain_boxes.tolist(), boxes.tolist())
        if not len(boxes):
            continue
        overlap = box_iou(plain_boxes, boxes)
        partner = overlap.argmax(axis=1)
        assert (overlap.max(axis=1) >= 0.3).all() and len(set(partner)) == len(boxes), (time_s, overlap)
        distance = np.linalg.norm(plain_codes - codes[partner], axis=1)
        for row in np.flatnonzero(distance > max_distance):
            assert len(seen) and np.linalg.norm(seen - codes[partner[row]], axis=1).min() <= max_distance, \
                (time_s, distance)
            from_earlier += 1
        seen = np.concatenate([seen, plain_codes])
    assert from_earlier <= earlier


def test_a_face_chip_is_all_its_descriptor_depends_on(grace_hopper_path):
    from enrollment import face
    from enrollment.media import load_image
    from monitor.config import load_config

    rgb = load_image(grace_hopper_path, load_config(Path("/nonexistent")).media)
    boxes = face.detect_faces(rgb, 1)
    chips = face.face_chips(rgb, boxes)
    assert chips.shape == (1, 150, 150, 3) and chips.dtype == np.uint8
    assert np.array_equal(face.encode_chips(chips), face.encode_faces(rgb, boxes))
    assert face.encode_chips(chips[:0]).shape == (0, 128) and face.face_chips(rgb, []).shape == (0, 150, 150, 3)


@pytest.mark.parametrize("detector", DETECTORS)
def test_the_video_path_finds_the_faces_of_the_plain_way_for_less_work(
        detector, grace_hopper_path, astronaut_path, tmp_path, home, likeness, make_performer):
    from monitor.config import load_config

    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f'[face]\ndetector = "{detector}"\n')
    video = _video(tmp_path / "mixed.mp4", grace_hopper_path, astronaut_path)
    config = load_config()
    plain = _plain_faces(video, config.media, config.face.upsample, detector)
    found, stats = _finder_faces(video, config.media, config.face.upsample, detector)
    # a reused or re-found descriptor is as far from the plain one as two frames of a still face are apart
    _assert_same_faces(plain, found, max_distance=0.15)
    faces = sum(len(boxes) for _, boxes, _ in found)
    assert faces == 26  # 20 frames with her, 6 with the astronaut as well
    # still parts and the title card are not searched again; unchanged faces are not described again
    assert stats.frames == 24 and stats.whole_frame_searches <= 13 and stats.unchanged_frames >= 5
    assert stats.descriptors_computed <= 0.6 * faces

    performer_id = make_performer("Grace Hopper", face=[grace_hopper_path])
    [row] = likeness("scan", video, "--json").json
    [detection] = row["detections"]
    assert detection["performer_id"] == performer_id and detection["modality"] == "face"
    assert [(s["start_s"], s["end_s"]) for s in detection["segments"]] == [(0.0, 5.0), (10.0, 23.0)], detection


@pytest.mark.shared_data
@pytest.mark.parametrize("detector", DETECTORS)
def test_the_shared_video_gives_the_plain_ways_faces(detector, tmp_path):
    from monitor.config import load_config

    limits = load_config(tmp_path).media
    video = SHARED_DATA / "video" / "short_hamilton_clip.mp4"
    plain = _plain_faces(video, limits, 1, detector)
    found, stats = _finder_faces(video, limits, 1, detector)
    # a descriptor reused a second later (its chip's thumbnail changed by 2.5 levels) is the plain way's of that
    # earlier frame: with YuNet, 0.29 from the plain way's of its own frame for one singer's 74 px face
    _assert_same_faces(plain, found, max_distance=0.05, earlier=stats.descriptors_reused)
    assert sum(len(boxes) for _, boxes, _ in found) == {"hog": 7, "yunet": 18}[detector]


@pytest.mark.parametrize("detector", DETECTORS)
def test_a_fade_and_a_zoom_keep_the_plain_ways_faces_without_searching_every_frame_whole(detector, grace_hopper_path,
                                                                                          tmp_path):
    """10 s at 720 × 400, 2 fps: Grace Hopper fading in (0-4 s), then the camera zooming in on her, 3 % a second."""
    from PIL import Image

    from monitor.config import load_config
    from monitor.demo.synthetic import write_video

    width, height, fps = 720, 400, 2
    picture = _background(width, height).copy()
    hopper = _photo(grace_hopper_path, 260)
    picture[60:320, 230:230 + hopper.shape[1]] = hopper
    frames = []
    for index in range(10 * fps):
        t = index / fps
        if t < 4:
            frames.append((picture * (0.4 + 0.15 * t)).astype(np.uint8))
            continue
        zoom = 1.03 ** (t - 4)
        crop_w, crop_h = round(width / zoom), round(height / zoom)
        left, top = (width - crop_w) // 2, (height - crop_h) // 2
        frames.append(np.asarray(Image.fromarray(picture[top:top + crop_h, left:left + crop_w]).resize(
            (width, height), Image.BILINEAR)))
    video = write_video(tmp_path / "fade-zoom.mp4", frames, fps=fps)
    config = load_config()

    plain = _plain_faces(video, config.media, config.face.upsample, detector)
    found, stats = _finder_faces(video, config.media, config.face.upsample, detector)

    # a face kept through a fade keeps the descriptor of the dimmer frame it was described in: a little
    # further from the plain way's than a still face's frames are from each other (0.15-0.20 in most runs,
    # 0.2005 in one full suite; dlib calls two faces the same person up to 0.6)
    _assert_same_faces(plain, found, max_distance=0.25)
    assert sum(len(boxes) for _, boxes, _ in found) == 10
    assert stats.fades >= 2 and stats.zooms >= 3 and stats.whole_frame_searches <= 3
