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
