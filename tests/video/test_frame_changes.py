"""Where a sampled video frame changed: tiles, regions to search again, and sampling without full decoding."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.video.frame_changes import (
    SEARCH_MARGIN_PX,
    TILE_PX,
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

SHAPE = (720, 1280)


def _frame(seed: int = 0) -> np.ndarray:
    """A textured grey frame (height 720, width 1280)."""
    return np.random.default_rng(seed).integers(0, 256, SHAPE, dtype=np.uint8)


def test_only_the_tiles_that_changed_count_and_noise_does_not():
    reference = _frame()
    noisy = np.clip(reference.astype(np.int16) + np.random.default_rng(1).integers(-2, 3, SHAPE), 0, 255)
    assert not changed_tiles(reference, noisy.astype(np.uint8)).any()  # ±2 levels everywhere: noise
    frame = reference.copy()
    frame[100:140, 200:260] = 255 - frame[100:140, 200:260]
    changed = changed_tiles(reference, frame)
    assert changed.shape == (45, 80)
    rows, columns = np.nonzero(changed)
    assert (rows.min(), rows.max(), columns.min(), columns.max()) == (100 // 16, 139 // 16, 200 // 16, 259 // 16)
    with pytest.raises(ValueError):
        changed_tiles(reference, frame[:100])


def test_partial_edge_tiles_are_averaged_over_their_own_pixels():
    reference = np.zeros((40, 40), np.uint8)  # 16 px tiles: the last row and column are 8 px wide
    frame = reference.copy()
    frame[32:, 32:] = 10  # the corner tile is 8 × 8 px, all of it changed by 10 levels
    changed = changed_tiles(reference, frame)
    assert changed.shape == (3, 3) and changed[2, 2] and changed.sum() == 1


def test_a_slow_change_adds_up_against_the_reference():
    reference = np.full(SHAPE, 100, np.uint8)
    steps = [np.full(SHAPE, 100 + step, np.uint8) for step in range(1, 8)]  # a fade: one level a second
    assert not changed_tiles(steps[0], steps[1]).any()  # each step alone is under the threshold...
    assert changed_tiles(reference, steps[-1]).all()  # ...but not against what was last searched


def test_regions_hold_each_change_with_its_margin_and_nothing_when_nothing_changed():
    changed = np.zeros((45, 80), bool)
    assert search_regions(changed, SHAPE, np.zeros((0, 4))) == []
    changed[10:12, 20:22] = True  # 32 × 32 px at (160, 320)
    changed[30, 70] = True  # far away: a region of its own
    regions = sorted(search_regions(changed, SHAPE, np.zeros((0, 4))))
    assert regions == [(160 - SEARCH_MARGIN_PX, 352 + SEARCH_MARGIN_PX, 192 + SEARCH_MARGIN_PX, 320 - SEARCH_MARGIN_PX),
                       (480 - SEARCH_MARGIN_PX, 1136 + SEARCH_MARGIN_PX, 496 + SEARCH_MARGIN_PX,
                        1120 - SEARCH_MARGIN_PX)]


def test_a_known_face_touching_a_change_is_searched_in_its_grown_box_and_overlaps_merge():
    changed = np.zeros((45, 80), bool)
    changed[20, 40] = True
    face = np.array([[300, 700, 400, 600]])  # 100 px, around the changed tile at (320, 640)
    assert boxes_touching(changed, np.vstack([face, [[0, 100, 50, 0]]])).tolist() == [True, False]
    assert grown(face[0], SHAPE) == (275, 725, 425, 575)
    # the tile with its margin (272-384, 592-704) and the face's grown box overlap: one search holds both
    assert search_regions(changed, SHAPE, face) == [(272, 725, 425, 575)]


def test_a_frame_mostly_changed_is_searched_whole():
    changed = np.zeros((45, 80), bool)
    changed[5:40, 5:75] = True
    assert search_regions(changed, SHAPE, np.zeros((0, 4))) is None


def _scene(seed: int = 3) -> np.ndarray:
    """A smooth grey picture (blurred noise), as a camera sees a scene rather than pure noise."""
    from PIL import Image, ImageFilter

    noise = Image.fromarray(np.random.default_rng(seed).integers(0, 256, SHAPE, dtype=np.uint8))
    return np.asarray(noise.filter(ImageFilter.GaussianBlur(6)).point(lambda v: min(255, max(0, 4 * (v - 96)))))


@pytest.mark.parametrize("dy, dx", [(0, 0), (3, -5), (-7, 20), (0, 53), (40, -61)])
def test_a_camera_shift_is_found_to_the_pixel(dy, dx):
    reference = _scene()
    frame, uncovered = shifted(reference, dy, dx)
    assert frame[300 + dy, 600 + dx] == reference[300, 600]
    assert estimate_shift(reference, frame) == (dy, dx)
    # the tiles of the strips the move uncovered (unknown: searched again), and no other
    strips = np.zeros(SHAPE, bool)
    strips[:max(dy, 0)], strips[SHAPE[0] + min(dy, 0):], strips[:, :max(dx, 0)] = True, True, True
    strips[:, SHAPE[1] + min(dx, 0):] = True
    assert np.array_equal(uncovered, strips.reshape(45, 16, 80, 16).any(axis=(1, 3)))


def test_a_face_moving_before_a_still_camera_is_not_a_camera_shift():
    reference = _scene()
    frame = reference.copy()
    frame[300:400, 500:600] = reference[300:400, 520:620]  # only a patch moved
    assert estimate_shift(reference, frame) == (0, 0)


def test_a_fade_is_one_gain_over_the_picture_and_explains_every_tile():
    reference = _scene()
    frame = (reference * 0.6 + 10).round().astype(np.uint8)

    gain, offset = estimate_gain(reference, frame)

    assert gain == pytest.approx(0.6, abs=0.01) and offset == pytest.approx(10, abs=1.0)
    assert changed_tiles(reference, frame).mean() > 0.5 and not changed_tiles(relit(reference, gain, offset),
                                                                               frame).any()
    assert estimate_gain(np.zeros(SHAPE, np.uint8), frame) is None  # nothing to fit on black


@pytest.mark.parametrize("factor, dy, dx", [(1.025, 6, -4), (1 / 1.04, -10, 12), (1.0, 0, 0)])
def test_a_zoom_is_found_to_a_fraction_of_a_percent_and_moves_boxes_with_the_picture(factor, dy, dx):
    reference = _scene()
    frame, outside = zoomed(reference, factor, dy, dx)

    found = estimate_zoom(reference, frame)

    assert found == pytest.approx(factor, rel=0.004)
    again, _ = zoomed(reference, found, *estimate_shift(zoomed(reference, found)[0], frame))
    assert changed_tiles(again, frame, moved=True).mean() < 0.05  # besides the border it uncovered
    (top, right, bottom, left), = zoom_boxes(np.array([[300, 640, 300, 600]]), factor, SHAPE, dy, dx)
    # its corners are the same points of the picture
    assert abs(int(frame[top, left]) - int(reference[300, 600])) <= 8
    assert abs(int(frame[bottom, right]) - int(reference[300, 640])) <= 8
    assert outside.any() == (factor < 1)  # a zoom out uncovers a border; a zoom in overflows it


def test_tiles_within_a_box_are_those_wholly_inside():
    inside = tiles_within((8, 64, 48, 16), (4, 6))  # rows 8-48 px, columns 16-64 px
    assert np.argwhere(inside).tolist() == [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]
    assert TILE_PX == 16


# ------------------------------------------------------------------------------------ sampled decoding


def _numbered_video(path, n_frames: int = 45, fps: int = 15):
    """An H.264 video with B-frames whose frame i is grey level 5·i (and a square that moves)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"preset": "medium", "bf": "3"})
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for index in range(n_frames):
            rgb = np.full((96, 160, 3), 5 * index, np.uint8)
            rgb[20:40, 2 * index:2 * index + 20] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def test_sampling_skips_decoding_but_keeps_exactly_the_frames_a_full_decode_keeps(tmp_path):
    import av

    from enrollment.video_frames import iter_video_frames, sample_video_frames
    from monitor.config import load_config

    limits = load_config(tmp_path).media
    path = _numbered_video(tmp_path / "numbered.mp4")
    full, next_time_s = [], 0.0
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.time + 1e-6 >= next_time_s:
                next_time_s = frame.time + limits.frame_every_s
                full.append((frame.time, frame.to_ndarray(format="rgb24")))
    sampled = list(sample_video_frames(path, limits))
    assert [frame.time_s for frame in sampled] == [time_s for time_s, _ in full] and len(full) == 3
    for frame, (_, rgb) in zip(sampled, full, strict=True):
        assert np.array_equal(frame.rgb(), rgb)
        grey = frame.grey()
        assert grey.shape == rgb.shape[:2] and grey.dtype == np.uint8
        assert abs(float(grey[60:, :].mean()) - float(rgb[60:, :, 0].mean())) < 8  # luma of a grey frame
    assert [time_s for time_s, _ in iter_video_frames(path, limits)] == [time_s for time_s, _ in full]
