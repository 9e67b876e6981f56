"""Perceptual fingerprints of a confirmed clone, to know it again re-encoded, resized or trimmed elsewhere.

Audio (and a video's sound): Chromaprint's raw fingerprint, one 32-bit value per ~0.124 s of sound at 11,025
Hz, through pyacoustid's binding to Debian's libchromaprint, fed by PyAV. Two recordings are the same when,
at the best offset between them (a trimmed copy starts later), their values differ in at most
:data:`AUDIO_MAX_BIT_ERRORS` of their bits over at least :data:`MIN_OVERLAP_FRAMES` (~5 s): a re-encoding at
another bitrate and 10 % trimmed differs in ~4–9 %, unrelated speech in 30 % or more. Images: a 64-bit
perceptual hash (imagehash's pHash of the DCT of the picture at 32×32 grey), the same when at most
:data:`IMAGE_MAX_DISTANCE` bits differ: resizing and JPEG re-encoding move it by 0–2 bits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 11_025
MIN_OVERLAP_FRAMES = 40
AUDIO_MAX_BIT_ERRORS = 0.20
IMAGE_MAX_DISTANCE = 8
MAX_AUDIO_S = 600.0  # the first 10 minutes: enough to know a file again, and bounded on a 4-hour one
CANDIDATE_OFFSETS = 24  # a long pair is compared only at the offsets where most values agree exactly


class NoFingerprint(Exception):
    """The file has no sound (or too little), or cannot be read; why, in one line."""


def audio_print(path: Path) -> list[int]:
    """Chromaprint's raw fingerprint of the file's first sound stream (≤ MAX_AUDIO_S), as unsigned ints."""
    import av
    import chromaprint  # pyacoustid's binding; NoFingerprint where libchromaprint is missing

    try:
        printer = chromaprint.Fingerprinter()
        printer.start(SAMPLE_RATE, 1)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        fed = 0
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise NoFingerprint("no sound to fingerprint")
            for frame in container.decode(audio=0):
                for chunk in resampler.resample(frame):
                    samples = chunk.to_ndarray().tobytes()
                    printer.feed(samples)
                    fed += len(samples) // 2
                if fed >= MAX_AUDIO_S * SAMPLE_RATE:
                    break
        raw, _algorithm = chromaprint.decode_fingerprint(printer.finish())
    except (av.FFmpegError, chromaprint.FingerprintError, OSError, ValueError) as error:
        raise NoFingerprint(f"cannot fingerprint the sound: {error}") from None
    if len(raw) < MIN_OVERLAP_FRAMES:
        raise NoFingerprint("too little sound to fingerprint (5 s or more is needed)")
    return [value & 0xFFFFFFFF for value in raw]


def audio_bit_errors(a: list[int], b: list[int]) -> float:
    """The share of differing bits (0–1) between two fingerprints at the offset where they agree best, over at
    least MIN_OVERLAP_FRAMES; 1.0 where they cannot overlap that long."""
    x, y = np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)
    lowest, highest = -(len(y) - MIN_OVERLAP_FRAMES), len(x) - MIN_OVERLAP_FRAMES
    if highest < lowest:
        return 1.0
    offsets = range(lowest, highest + 1)
    if len(offsets) > 4 * CANDIDATE_OFFSETS:
        offsets = _agreeing_offsets(x, y, lowest, highest)
    best = 1.0
    for offset in offsets:  # y[i] against x[i + offset]
        start_x, start_y = max(offset, 0), max(-offset, 0)
        length = min(len(x) - start_x, len(y) - start_y)
        if length >= MIN_OVERLAP_FRAMES:
            errors = np.bitwise_count(x[start_x:start_x + length] ^ y[start_y:start_y + length]).sum()
            best = min(best, float(errors) / (32 * length))
    return best


def _agreeing_offsets(x: np.ndarray, y: np.ndarray, lowest: int, highest: int) -> list[int]:
    """The offsets at which most values of the two fingerprints are equal (a re-encoding keeps many exact)."""
    where: dict[int, list[int]] = {}
    for position, value in enumerate(x.tolist()):
        where.setdefault(value, []).append(position)
    votes: dict[int, int] = {}
    for position, value in enumerate(y.tolist()):
        for other in where.get(value, ())[:8]:
            votes[other - position] = votes.get(other - position, 0) + 1
    ranked = sorted(votes, key=votes.get, reverse=True)[:CANDIDATE_OFFSETS]
    return [offset for offset in ranked if lowest <= offset <= highest] or [0]


def image_print(path: Path) -> str:
    """The picture's 64-bit perceptual hash, in hexadecimal."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            return str(imagehash.phash(picture.convert("RGB")))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise NoFingerprint(f"cannot fingerprint the picture: {error}") from None


def image_distance(a: str, b: str) -> int:
    """How many of the two hashes' 64 bits differ."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
