"""Perceptual fingerprints of a confirmed clone, to know it again re-encoded, resized or trimmed elsewhere.

Audio (and a video's sound): Chromaprint's raw fingerprint, one 32-bit value per ~0.124 s of sound at 11,025
Hz, through pyacoustid's binding to Debian's libchromaprint, fed by PyAV. Two recordings are the same when,
at the best offset between them (a trimmed copy starts later), their values differ in at most
:data:`AUDIO_MAX_BIT_ERRORS` of their bits over at least :data:`MIN_OVERLAP_FRAMES` (~5 s): a re-encoding at
another bitrate and 10 % trimmed differs in ~4–9 %, unrelated speech in 30 % or more. Images: a 64-bit
perceptual hash (imagehash's pHash of the DCT of the picture at 32×32 grey), the same when at most
:data:`IMAGE_MAX_DISTANCE` bits differ: resizing and JPEG re-encoding move it by 0–2 bits. Video: its sound as
audio, and the pHash of a frame every quarter second: two videos are the same when, at the best offset in time
between them, at least half of the frames they share in time (and :data:`MIN_MATCHED_FRAMES`, 3 s) are within
:data:`FRAME_MAX_DISTANCE` bits of each other.
A quarter second keeps a trimmed copy's frames, sampled at other moments, near the original's even in fast
motion (a dance: 6 bits apart at the median; sampled a second apart, 11 to 18); other footage of the same
scene or person stays 22 to 30 bits away.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from enrollment.settings import MediaLimits

SAMPLE_RATE = 11_025
MIN_OVERLAP_FRAMES = 40
AUDIO_MAX_BIT_ERRORS = 0.20
AUDIO_OTHER_SOUND = 0.30  # unrelated sound differs in this share of bits or more
IMAGE_MAX_DISTANCE = 8
MAX_AUDIO_S = 600.0  # the first 10 minutes: enough to know a file again, and bounded on a 4-hour one
CANDIDATE_OFFSETS = 24  # a long pair is compared only at the offsets where most values agree exactly
FRAME_EVERY_S = 0.25
# the first 3 minutes of pictures: a print is taken when a detection is confirmed, in the reviewer's request, and
# decoding costs about 3 s of CPU per minute of 720p (6 s of 1080p); a copy holding any of them is known again
MAX_FRAMES = 720
FRAME_SIDE_PX = 256  # pHash looks at 32 × 32 grey: a larger frame only costs decoding
FLAT_GREY_STD = 8.0  # a frame this even (black, a fade, one colour) looks like any other such frame
FRAME_MAX_DISTANCE = 10
MIN_MATCHED_FRAMES = 12
MIN_MATCHED_SHARE = 0.5


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


def frame_prints(path: Path, limits: MediaLimits) -> list[str]:
    """The 64-bit perceptual hashes (hexadecimal) of a video's frames, one every FRAME_EVERY_S seconds for at
    most MAX_FRAMES (its first 3 minutes), leaving out frames too even to tell apart (FLAT_GREY_STD)."""
    from dataclasses import replace

    import imagehash
    from PIL import Image

    from enrollment.errors import MediaError
    from enrollment.video_frames import sample_video_frames

    sampling = replace(limits, frame_every_s=FRAME_EVERY_S, max_duration_s=math.inf,
                       max_frame_side_px=min(limits.max_frame_side_px, FRAME_SIDE_PX))
    prints: list[str] = []
    try:
        for taken, frame in enumerate(sample_video_frames(path, sampling)):
            if taken >= MAX_FRAMES:
                break
            grey = frame.grey()
            if float(grey.std()) >= FLAT_GREY_STD:
                prints.append(str(imagehash.phash(Image.fromarray(grey))))
    except (MediaError, OSError, ValueError) as error:
        raise NoFingerprint(f"cannot fingerprint the pictures: {error}") from None
    if len(prints) < MIN_MATCHED_FRAMES:
        raise NoFingerprint(f"too few frames to fingerprint ({MIN_MATCHED_FRAMES * FRAME_EVERY_S:g} s of picture or "
                            f"more is needed)")
    return prints


def frames_matched(a: list[str], b: list[str]) -> float:
    """How much of two videos is the same footage (0–1): at the best offset in time between them (a trimmed copy
    starts later; a compilation holds the original somewhere), the share of their overlapping frames within
    FRAME_MAX_DISTANCE bits of each other; 0 where no offset has MIN_MATCHED_FRAMES such frames."""
    x = np.array([int(value, 16) for value in a], dtype=np.uint64)
    y = np.array([int(value, 16) for value in b], dtype=np.uint64)
    close = np.empty((len(x), len(y)), dtype=bool)
    for start in range(0, len(x), 256):  # 256 rows at a time: two 10-minute videos at once would need 46 MB
        close[start:start + 256] = np.bitwise_count(x[start:start + 256, None] ^ y[None, :]) <= FRAME_MAX_DISTANCE
    best = 0.0
    for offset in range(-(len(x) - MIN_MATCHED_FRAMES), len(y) - MIN_MATCHED_FRAMES + 1):
        same = np.diagonal(close, offset)  # x[i] against y[i + offset]
        matched = int(same.sum())
        if matched >= MIN_MATCHED_FRAMES:
            best = max(best, matched / len(same))
    return best


def same_media(kept: dict, found: dict) -> str | None:
    """How two media's fingerprints (``{"audio": [...], "image": "…", "frames": [...]}``, any of them) show
    them the same, in words; None where no part they both have does. Two videos whose sounds both exist and
    clearly differ are not the same whatever their pictures: another take in the same framing looks alike."""
    errors = None
    if kept.get("audio") and found.get("audio"):
        errors = audio_bit_errors(kept["audio"], found["audio"])
        if errors <= AUDIO_MAX_BIT_ERRORS:
            return f"sound fingerprint, {100 * errors:.1f} % of bits differ"
    if kept.get("frames") and found.get("frames") and (errors is None or errors <= AUDIO_OTHER_SOUND):
        share = frames_matched(kept["frames"], found["frames"])
        if share >= MIN_MATCHED_SHARE:
            return f"video frames, {100 * share:.0f} % of them the same picture"
    if kept.get("image") and found.get("image"):
        distance = image_distance(kept["image"], found["image"])
        if distance <= IMAGE_MAX_DISTANCE:
            return f"picture hash, {distance} of 64 bits differ"
    return None
