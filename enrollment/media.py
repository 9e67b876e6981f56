"""Decoding any audio, video or image file into arrays, with limits checked before the work.

PyAV (which bundles FFmpeg) reads every container and codec; Pillow reads still images. The kind of
a file is decided by its content, never by its name: a text file called ``.mp3`` is refused here.
Every failure raises :class:`MediaError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from enrollment.errors import MediaError
from enrollment.settings import MediaLimits

SAMPLE_RATE_HZ = 16_000
MediaType = Literal["audio", "video", "image"]


@dataclass(frozen=True)
class MediaInfo:
    """What a file holds, read from its headers. ``duration_s`` is None for still images."""

    media_type: MediaType
    duration_s: float | None
    has_audio: bool
    width_px: int | None = None
    height_px: int | None = None


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (bounded memory for any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def probe(path: Path, limits: MediaLimits) -> MediaInfo:
    """Classify ``path`` as audio, video or image and check it against ``limits``."""
    path = Path(path)
    try:
        size_bytes = path.stat().st_size
    except OSError as error:
        raise MediaError(f"cannot read file: {error.strerror or error}") from None
    if size_bytes == 0:
        raise MediaError("empty file (0 bytes)")
    if size_bytes > limits.max_file_bytes:
        raise MediaError(
            f"file is {_human_bytes(size_bytes)}; the limit is media.max_file_bytes = "
            f"{_human_bytes(limits.max_file_bytes)}"
        )
    image = _probe_image(path, limits)
    if image is not None:
        return image
    return _probe_container(path, limits)


def _probe_image(path: Path, limits: MediaLimits) -> MediaInfo | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # lazy: reads the header only
                width_px, height_px = image.size
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as error:
        raise MediaError(f"image too large to decode safely: {error}") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(f"corrupt image: {error}") from None
    _check_pixels(width_px, height_px, limits)
    return MediaInfo("image", None, False, width_px, height_px)


def _check_pixels(width_px: int, height_px: int, limits: MediaLimits) -> None:
    if width_px * height_px > limits.max_image_pixels:
        raise MediaError(
            f"image is {width_px}×{height_px} = {width_px * height_px / 1e6:.0f} Mpx; the limit is "
            f"media.max_image_pixels = {limits.max_image_pixels / 1e6:.0f} Mpx"
        )


def _open_container(path: Path):  # -> av.container.InputContainer
    import av

    try:
        return av.open(str(path), mode="r")
    except av.error.FFmpegError as error:
        raise MediaError(f"not a readable audio, video or image file ({_ffmpeg_reason(error)})") from None


def _probe_container(path: Path, limits: MediaLimits) -> MediaInfo:
    with _open_container(path) as container:
        video = _main_video_stream(container)
        has_audio = bool(container.streams.audio)
        if video is None and not has_audio:
            raise MediaError("no audio or video stream in the file")
        duration_s = _duration_s(container)
        if duration_s is not None and duration_s > limits.max_duration_s:
            raise MediaError(
                f"media is {_human_duration(duration_s)} long; the limit is media.max_duration_s = "
                f"{_human_duration(limits.max_duration_s)}"
            )
        if video is not None:
            width_px, height_px = video.codec_context.width, video.codec_context.height
            return MediaInfo("video", duration_s, has_audio, width_px, height_px)
        return MediaInfo("audio", duration_s, True)


def _main_video_stream(container):
    """The first video stream that is moving pictures (cover art in an mp3 is not)."""
    import av

    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def _duration_s(container) -> float | None:
    import av

    if container.duration is not None and container.duration > 0:
        return container.duration / av.time_base
    lengths = [
        float(stream.duration * stream.time_base)
        for stream in container.streams
        if stream.duration is not None and stream.time_base is not None
    ]
    return max(lengths) if lengths else None


def decode_audio(path: Path, limits: MediaLimits) -> np.ndarray:
    """The first audio track as mono float32 samples at 16 kHz, shape (n_samples,), range [-1, 1].

    Decoding stops with :class:`MediaError` once more than ``limits.max_duration_s`` of audio has
    come out, whatever the headers claimed. A file whose stream breaks midway yields the audio
    decoded up to the break when that is at least one second; otherwise it is refused as corrupt.
    """
    import av

    max_samples = int(limits.max_duration_s * SAMPLE_RATE_HZ)
    chunks: list[np.ndarray] = []
    n_samples = 0
    with _open_container(path) as container:
        if not container.streams.audio:
            raise MediaError("no audio track")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    n_samples += chunk.size
                if n_samples > max_samples:
                    raise MediaError(
                        f"audio is longer than media.max_duration_s = {_human_duration(limits.max_duration_s)}"
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as error:
            if n_samples < SAMPLE_RATE_HZ:
                raise MediaError(f"corrupt audio stream ({_ffmpeg_reason(error)})") from None
    if not chunks:
        raise MediaError("the audio track holds no samples")
    wav = np.concatenate(chunks).astype(np.float32, copy=False)
    return np.clip(wav, -1.0, 1.0, out=wav)


def iter_video_frames(path: Path, limits: MediaLimits) -> Iterator[tuple[float, np.ndarray]]:
    """Frames sampled every ``limits.frame_every_s`` seconds, as ``(time_s, rgb)``.

    ``rgb`` is uint8 of shape (height, width, 3), scaled down so that its longer side is at most
    ``limits.max_frame_side_px``. A stream that breaks midway ends the iteration at the break.
    """
    import av

    with _open_container(path) as container:
        stream = _main_video_stream(container)
        if stream is None:
            raise MediaError("no video stream")
        stream.thread_type = "AUTO"
        next_time_s = 0.0
        try:
            for frame in container.decode(stream):
                time_s = float(frame.time) if frame.time is not None else next_time_s
                if time_s > limits.max_duration_s:
                    raise MediaError(
                        f"video is longer than media.max_duration_s = {_human_duration(limits.max_duration_s)}"
                    )
                if time_s + 1e-6 < next_time_s:
                    continue
                next_time_s = time_s + limits.frame_every_s
                width_px, height_px = _scaled_size(frame.width, frame.height, limits.max_frame_side_px)
                yield time_s, frame.to_ndarray(format="rgb24", width=width_px, height=height_px)
        except av.error.FFmpegError as error:
            if next_time_s == 0.0:
                raise MediaError(f"corrupt video stream ({_ffmpeg_reason(error)})") from None


def load_image(path: Path, limits: MediaLimits) -> np.ndarray:
    """A still image as uint8 RGB of shape (height, width, 3); EXIF rotation applied; alpha dropped."""
    from PIL import Image, ImageOps

    info = _probe_image(Path(path), limits)
    if info is None:
        raise MediaError("not an image file")
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            return np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(f"corrupt or truncated image: {error}") from None


def _scaled_size(width_px: int, height_px: int, max_side_px: int) -> tuple[int, int]:
    longer = max(width_px, height_px)
    if longer <= max_side_px:
        return width_px, height_px
    scale = max_side_px / longer
    return max(2, round(width_px * scale)), max(2, round(height_px * scale))


def _ffmpeg_reason(error: Exception) -> str:
    reason = getattr(error, "strerror", None) or str(error)
    return reason.splitlines()[0] if reason else type(error).__name__


def _human_bytes(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} TB"


def _human_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
