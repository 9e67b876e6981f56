"""Fuzzing the decoders' entry points: any mutation of a valid file is read, or refused with one short line.

Seeds of each format are made here (audio and video through PyAV, images through Pillow); Hypothesis flips,
overwrites, inserts and cuts bytes, then the file goes through what a scan does to it: probe, then decode
(image, audio, the first video frames). Anything but a :class:`MediaError` is a defect. The examples are
derandomised (tests/support/fuzzing.py).
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from enrollment.errors import MediaError
from enrollment.media import decode_audio, load_image, probe
from enrollment.video_frames import iter_video_frames
from monitor.config import load_config
from monitor.demo.synthetic import write_audio, write_video
from tests.support.fuzzing import fuzz
from tests.support.hostile import is_one_short_line

FUZZ = fuzz(40)
VIDEO_FRAMES_READ = 3


def _seeds() -> dict[str, bytes]:
    rate_hz = 16_000
    tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(rate_hz) / rate_hz)).astype(np.float32)
    picture = np.random.default_rng(1).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    made: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        for suffix in (".wav", ".mp3", ".flac", ".ogg", ".m4a"):
            made[suffix] = write_audio(root / f"seed{suffix}", tone).read_bytes()
        made[".mp4"] = write_video(root / "seed.mp4", [picture] * 4, audio=tone).read_bytes()
        for suffix in (".png", ".jpg", ".gif", ".webp", ".tiff", ".bmp"):
            Image.fromarray(picture).save(root / f"seed{suffix}")
            made[suffix] = (root / f"seed{suffix}").read_bytes()
    return made


SEEDS = _seeds()


@st.composite
def mutated(draw) -> tuple[str, bytes]:
    """A seed of some format with a few bytes overwritten, inserted or flipped, and maybe cut short."""
    suffix = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[suffix])
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(("overwrite", "insert", "flip", "max")))
        if how == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=16))
            data[at : at + len(chunk)] = chunk
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif how == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:  # a size or count field set to its largest value
            data[at : at + 4] = b"\xff\xff\xff\x7f"
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return suffix, bytes(data)


def _read_as_a_scan_does(path: Path, limits) -> None:
    info = probe(path, limits)
    if info.media_type == "image":
        load_image(path, limits)
        return
    if info.has_audio:
        decode_audio(path, limits)
    if info.media_type == "video":
        list(itertools.islice(iter_video_frames(path, limits), VIDEO_FRAMES_READ))


@pytest.fixture(scope="module")
def limits(tmp_path_factory):
    return load_config(tmp_path_factory.mktemp("home")).media


@pytest.mark.slow
@FUZZ
@given(sample=mutated())
def test_any_mutation_of_a_valid_file_is_read_or_refused_with_one_short_line(limits, sample):
    suffix, data = sample
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzzed{suffix}"
        path.write_bytes(data)
        try:
            _read_as_a_scan_does(path, limits)
        except MediaError as error:
            assert is_one_short_line(str(error)), str(error)


@FUZZ
@given(data=st.binary(max_size=4096))
def test_any_bytes_at_all_are_read_or_refused_with_one_short_line(limits, data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "anything.bin"
        path.write_bytes(data)
        try:
            _read_as_a_scan_does(path, limits)
        except MediaError as error:
            assert is_one_short_line(str(error)), str(error)
