"""A confirmed clone's fingerprint knows the same recording or picture again, re-encoded, resized or trimmed, and
tells it apart from another recording of the same voice or another picture."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from monitor.demo.synthetic import PERFORMER_VOICE, TEXTS, synthesise, write_audio
from monitor.enforcement.fingerprints import (
    AUDIO_MAX_BIT_ERRORS,
    IMAGE_MAX_DISTANCE,
    NoFingerprint,
    audio_bit_errors,
    audio_print,
    image_distance,
    image_print,
)


@pytest.fixture(scope="module")
def speech() -> dict[str, np.ndarray]:
    return {"clip": synthesise(TEXTS[1], PERFORMER_VOICE), "other": synthesise(TEXTS[2], PERFORMER_VOICE)}


def test_a_recording_trimmed_and_encoded_again_is_the_same_and_another_one_of_the_voice_is_not(speech, tmp_path):
    clip = speech["clip"]
    original = audio_print(write_audio(tmp_path / "clip.wav", clip))
    trimmed = audio_print(write_audio(tmp_path / "trimmed.mp3", clip[int(0.1 * clip.size):]))
    other = audio_print(write_audio(tmp_path / "other.mp3", speech["other"]))
    assert audio_bit_errors(original, trimmed) <= AUDIO_MAX_BIT_ERRORS / 2
    assert audio_bit_errors(original, other) > AUDIO_MAX_BIT_ERRORS * 1.25


def test_silence_and_a_file_without_sound_have_no_fingerprint(tmp_path):
    with pytest.raises(NoFingerprint, match="too little sound"):
        audio_print(write_audio(tmp_path / "short.wav", np.zeros(16_000, np.float32)))
    picture = tmp_path / "picture.png"
    Image.new("RGB", (64, 64), "white").save(picture)
    with pytest.raises(NoFingerprint):
        audio_print(picture)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a picture")
    with pytest.raises(NoFingerprint, match="cannot fingerprint the picture"):
        image_print(broken)


def test_a_picture_resized_and_compressed_again_is_the_same_and_another_is_not(astronaut_path: Path,
                                                                               grace_hopper_path: Path, tmp_path):
    with Image.open(astronaut_path) as picture:
        smaller = picture.convert("RGB").resize((picture.width // 2, picture.height // 2))
        buffer = io.BytesIO()
        smaller.save(buffer, "JPEG", quality=50)
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(buffer.getvalue())
    original = image_print(astronaut_path)
    assert image_distance(original, image_print(copy)) <= IMAGE_MAX_DISTANCE // 2
    assert image_distance(original, image_print(grace_hopper_path)) > IMAGE_MAX_DISTANCE * 2


def _footage(picture: Path, seconds: float, fps: int, path: str = "sweep") -> list[np.ndarray]:
    """Fast-moving footage, ``fps`` a second: the picture sweeping across a scrolling textured background
    (``path`` "sweep"), or bobbing up and down at its left (``"bob"``)."""
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (60, 120, 3), dtype=np.uint8).repeat(8, axis=0).repeat(8, axis=1)
    face = np.asarray(Image.open(picture).convert("RGB").resize((200, 240)))
    frames = []
    for index in range(int(seconds * fps)):
        t = index / fps
        frame = np.roll(texture, int(90 * t), axis=1)[:360, :640].copy()
        left, top = (int(220 + 200 * np.sin(1.7 * t)), 60) if path == "sweep" else (40, int(60 + 55 * np.sin(3 * t)))
        frame[top:top + 240, left:left + 200] = face
        frames.append(frame)
    return frames


def test_a_video_trimmed_scaled_down_and_encoded_again_is_the_same_and_other_footage_is_not(
        grace_hopper_path: Path, astronaut_path: Path, speech, tmp_path):
    from monitor.config import load_config
    from monitor.demo.synthetic import write_video
    from monitor.enforcement.fingerprints import MIN_MATCHED_SHARE, frame_prints, frames_matched, same_media

    limits = load_config(tmp_path / "home").media

    def prints(name: str, frames: list[np.ndarray]) -> list[str]:
        return frame_prints(write_video(tmp_path / f"{name}.mp4", frames, fps=25), limits)

    footage = _footage(grace_hopper_path, 12.0, 25)
    original = prints("clip", footage)
    copy = prints("copy", [np.asarray(Image.fromarray(f).resize((320, 180))) for f in footage[33:]])  # 1.32 s off
    assert frames_matched(original, copy) >= 0.8 and frames_matched(copy, original) >= 0.8
    assert same_media({"frames": original, "audio": None}, {"frames": copy}).startswith("video frames")
    other_footage = {"her, moving otherwise": prints("bob", _footage(grace_hopper_path, 12.0, 25, "bob")),
                     "someone else": prints("else", _footage(astronaut_path, 12.0, 25)),
                     "the other half": prints("second", footage[150:])}
    first_half = prints("first", footage[:150])
    for what, frames in other_footage.items():
        compared = first_half if what == "the other half" else original
        assert frames_matched(compared, frames) < MIN_MATCHED_SHARE / 2, what
    # the same pictures with other sound are another take, not a re-upload
    clip, other = (audio_print(write_audio(tmp_path / f"{name}.wav", speech[name])) for name in ("clip", "other"))
    assert same_media({"frames": original, "audio": clip}, {"frames": copy, "audio": other}) is None
    assert same_media({"frames": original, "audio": clip}, {"frames": copy, "audio": None}) is not None


def test_a_video_too_short_or_all_one_colour_has_no_frames_fingerprint(tmp_path):
    from monitor.config import load_config
    from monitor.demo.synthetic import write_video
    from monitor.enforcement.fingerprints import frame_prints

    limits = load_config(tmp_path / "home").media
    black = write_video(tmp_path / "black.mp4", [np.zeros((120, 160, 3), np.uint8)] * 40, fps=4)
    with pytest.raises(NoFingerprint, match="too few frames"):
        frame_prints(black, limits)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 100)
    with pytest.raises(NoFingerprint, match="cannot fingerprint the pictures"):
        frame_prints(broken, limits)
