"""Broken, hostile and useless files made on the spot for the bad-input tests (nothing allocated big)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

RATE_HZ = 16_000


def png_header_only(path: Path, width_px: int, height_px: int) -> Path:
    """A few hundred bytes of PNG whose header declares ``width_px × height_px`` (nothing allocated)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width_px, height_px, 8, 2, 0, 0, 0)  # 8-bit RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 256))
                     + chunk(b"IEND", b""))
    return path


def long_silent_wav(path: Path, duration_s: float, rate_hz: int = 500) -> Path:
    """A real, complete recording of digital silence (16-bit PCM, 500 Hz): a sparse file, no disk used."""
    n_bytes = int(duration_s * rate_hz) * 2
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate_hz, 2 * rate_hz, 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + n_bytes) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", n_bytes)
    with open(path, "wb") as out:
        out.write(header)
        out.truncate(len(header) + n_bytes)
    return path


def understate_duration(source: Path, target: Path) -> Path:
    """A Matroska/WebM file whose Duration element claims 1 s, whatever it holds."""
    data = bytearray(source.read_bytes())
    at = data.find(b"\x44\x89\x88")  # the Duration element: ID 0x4489, an 8-byte float of milliseconds
    assert at > 0, "no Duration element"
    data[at + 3 : at + 11] = struct.pack(">d", 1000.0)
    target.write_bytes(bytes(data))
    return target


def cut(source: Path, target: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def garble(source: Path, target: Path, start: float, length: float) -> Path:
    """A copy with random bytes over ``length`` of the file from ``start`` (fractions of its size)."""
    data = bytearray(source.read_bytes())
    first, n_bytes = int(len(data) * start), int(len(data) * length)
    data[first : first + n_bytes] = np.random.default_rng(1).bytes(n_bytes)
    target.write_bytes(bytes(data))
    return target


def noise_image(path: Path, size_px: int = 400) -> Path:
    """A gradient with noise: a perfectly valid photo with no face in it."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 200, size_px, dtype=np.float32)
    rgb = ramp[None, :, None] + rng.normal(0, 20, (size_px, size_px, 3))
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
    return path


def fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def seconds(duration_s: float) -> np.ndarray:
    return np.arange(int(duration_s * RATE_HZ)) / RATE_HZ
