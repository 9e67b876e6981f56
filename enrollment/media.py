"""Decoding any audio, video or image file into arrays, with limits checked before the work.

PyAV (which bundles FFmpeg) reads every container and codec; Pillow reads still images. The kind of
a file is decided by its content, never by its name: a text file called ``.mp3`` is refused here.
Every failure raises :class:`MediaError` with a one-line reason.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from enrollment.errors import MediaError, error_line
from enrollment.settings import MediaLimits

SAMPLE_RATE_HZ = 16_000
TEXT_SNIFF_BYTES = 4096
IMAGE_DEMUXERS = {"image2"}  # and every "*_pipe" demuxer: FFmpeg's readers of single pictures
MediaType = Literal["audio", "video", "image"]


@dataclass(frozen=True)
class MediaInfo:
    """What a file holds, read from its headers. ``duration_s`` is None for still images."""

    media_type: MediaType
    duration_s: float | None
    has_audio: bool
    width_px: int | None = None
    height_px: int | None = None


def file_size(path: Path) -> int:
    """The size of a regular file, or :class:`MediaError` saying why ``path`` is not one. A pipe or
    a device is refused before it is opened (reading one would block, or never end)."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise MediaError("no such file") from None
    except OSError as error:  # a symlink loop, a name too long, no permission on a folder …
        raise MediaError(f"cannot read file: {error.strerror or error}") from None
    except ValueError:  # a NUL byte in the name
        raise MediaError("not a valid file name") from None
    if stat.S_ISDIR(status.st_mode):
        raise MediaError("is a directory, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise MediaError("not a regular file (a pipe, socket or device)")
    return status.st_size


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (bounded memory for any size)."""
    file_size(path)
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def probe(path: Path, limits: MediaLimits) -> MediaInfo:
    """Classify ``path`` as audio, video or image and check it against ``limits``. The same unchanged file probed
    again in this process (a worker sizes its time limit, then analyses) is answered from memory."""
    path = Path(path)
    size_bytes = file_size(path)
    if size_bytes == 0:
        raise MediaError("empty file (0 bytes)")
    if size_bytes > limits.max_file_bytes:
        raise MediaError(
            f"file is {_human_bytes(size_bytes)}; the limit is media.max_file_bytes = "
            f"{_human_bytes(limits.max_file_bytes)}"
        )
    status = os.stat(path)
    found = _probed(str(path.resolve()), status.st_size, status.st_mtime_ns, limits)
    if isinstance(found, str):
        raise MediaError(found)
    return found


@functools.lru_cache(maxsize=32)
def _probed(path: str, _size_bytes: int, _mtime_ns: int, limits: MediaLimits) -> MediaInfo | str:
    """What :func:`probe` finds in the file at ``path`` as it is now (its size and time in the key), or the
    reason it is refused: a file that is not media can cost PyAV tens of milliseconds to rule out."""
    try:
        image = _probe_image(Path(path), limits)
        if image is not None:
            return image
        _refuse_text(Path(path))
        return _probe_container(Path(path), limits)
    except MediaError as error:
        return str(error)


def _refuse_text(path: Path) -> None:
    """A text file is refused as what it is: FFmpeg would call some "Invalid data", others a CD+G or
    lyrics stream, and would follow the addresses in a playlist."""
    with open(path, "rb") as stream:
        reason = text_reason(stream.read(TEXT_SNIFF_BYTES))
    if reason is not None:
        raise MediaError(reason)


def text_reason(head: bytes) -> str | None:
    """Why the first bytes of a file show it is text, not media (HTML, other text), or None.

    ``head``: the first few KB (4 KB is plenty). Text means UTF-8 with no NUL byte.
    """
    if not head or b"\0" in head:
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 3:  # not merely a character cut at the end of the sniffed bytes
            return None
    start = head.lstrip()[:100].lower()
    if start.startswith(b"<!doctype html") or b"<html" in start:
        return "an HTML page, not audio, video or an image"
    return "a text file, not audio, video or an image"


@contextmanager
def _strict_pillow(max_pixels: int | None) -> Iterator[None]:
    """Pillow's process-wide switches as this module needs them, restored afterwards.

    face_recognition sets ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` when it is imported, which
    would turn a truncated or corrupt photo into a grey-filled one instead of an error. Pillow's own
    decompression-bomb guard (``MAX_IMAGE_PIXELS``) is replaced by ``media.max_image_pixels``, so that
    the refusal names the setting: None while reading a header, the configured limit while decoding.
    """
    from PIL import Image, ImageFile

    saved = ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS
    ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = False, max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES, Image.MAX_IMAGE_PIXELS = saved


def _probe_image(path: Path, limits: MediaLimits) -> MediaInfo | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with _strict_pillow(None), Image.open(path) as image:  # lazy: reads the header only
            width_px, height_px = image.size
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(f"corrupt image: {error_line(error)}") from None
    _check_pixels(width_px, height_px, limits)
    return MediaInfo("image", None, False, width_px, height_px)


def _check_pixels(width_px: int, height_px: int, limits: MediaLimits) -> None:
    if width_px * height_px > limits.max_image_pixels:
        raise MediaError(
            f"image is {width_px}×{height_px} = {width_px * height_px / 1e6:.0f} Mpx; the limit is "
            f"media.max_image_pixels = {limits.max_image_pixels / 1e6:.0f} Mpx"
        )


@contextmanager
def open_container(path: Path) -> Iterator:  # -> av.container.InputContainer
    """``path`` opened with PyAV, for a ``with`` block in which any error FFmpeg raises (a damaged file can make
    any call fail: demuxing, decoding, resampling) becomes a one-line :class:`MediaError`."""
    import av

    try:
        container = av.open(str(path), mode="r", metadata_errors="replace")  # tags in any encoding
    except (av.error.FFmpegError, ValueError) as error:
        raise MediaError(f"not a readable audio, video or image file ({ffmpeg_reason(error)})") from None
    with container:
        try:
            yield container
        except (av.error.FFmpegError, UnicodeDecodeError) as error:
            raise MediaError(f"corrupt media ({ffmpeg_reason(error)})") from None


def _probe_container(path: Path, limits: MediaLimits) -> MediaInfo:
    with open_container(path) as container:
        if container.format.name in IMAGE_DEMUXERS or container.format.name.endswith("_pipe"):
            # FFmpeg reads it as a picture that Pillow could not: a damaged header, or an image format
            # that cannot be analysed (it would otherwise pass as a one-frame "video")
            raise MediaError("corrupt or unsupported image file")
        video = main_video_stream(container)
        has_audio = bool(container.streams.audio)
        if video is None and not has_audio:
            raise MediaError("no audio or video stream in the file")
        duration_s = _duration_s(container)
        if duration_s is not None and duration_s > limits.max_duration_s:
            raise MediaError(
                f"media is {human_duration(duration_s)} long; the limit is media.max_duration_s = "
                f"{human_duration(limits.max_duration_s)}"
            )
        if video is not None:
            width_px, height_px = video.codec_context.width, video.codec_context.height
            return MediaInfo("video", duration_s, has_audio, width_px, height_px)
        return MediaInfo("audio", duration_s, True)


def main_video_stream(container):
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
    come out, whatever the headers claimed. Damage is passed over (see :func:`_decoded_frames`), so a
    broken stretch cannot hide the rest of a recording; when less than one second of audio comes out
    of a damaged file, it is refused as corrupt.
    """
    wav = np.concatenate(list(iter_audio_chunks(path, limits))).astype(np.float32, copy=False)
    return np.clip(wav, -1.0, 1.0, out=wav)


def iter_audio_chunks(path: Path, limits: MediaLimits) -> Iterator[np.ndarray]:
    """:func:`decode_audio`'s samples as they are decoded, about one second per chunk (float32 mono 16 kHz,
    not yet clipped), so that a recording of any length can be read in bounded memory.

    The same limits and refusals as decode_audio. The refusals that can only be known at the end (no
    samples at all; a damaged file with less than a second of audio) are raised after the last chunk.
    """
    max_samples = int(limits.max_duration_s * SAMPLE_RATE_HZ)
    n_chunks, n_samples = 0, 0
    damage: list[str] = []
    for chunk in _audio_chunks(path, damage):
        n_chunks += 1
        n_samples += chunk.size
        if n_samples > max_samples:
            raise MediaError(f"audio is longer than media.max_duration_s = {human_duration(limits.max_duration_s)}")
        yield chunk
    if damage and n_samples < SAMPLE_RATE_HZ:
        raise MediaError(f"corrupt audio stream ({damage[0]})")
    if not n_chunks:
        raise MediaError("the audio track holds no samples")


def decode_audio_span(path: Path, start_s: float, end_s: float, limits: MediaLimits) -> np.ndarray:
    """Samples ``start_s`` to ``end_s`` (seconds, on :func:`decode_audio`'s timeline) of the first audio track,
    mono float32 at 16 kHz. Decodes from the start but keeps only the span: memory stays that of the span
    however long the recording."""
    first, last = int(start_s * SAMPLE_RATE_HZ), int(end_s * SAMPLE_RATE_HZ)
    kept: list[np.ndarray] = []
    position = 0
    for chunk in _audio_chunks(path, []):
        if position + chunk.size > first:
            kept.append(chunk[max(0, first - position):max(0, last - position)])
        position += chunk.size
        if position >= last or position > limits.max_duration_s * SAMPLE_RATE_HZ:
            break
    wav = np.concatenate(kept).astype(np.float32, copy=False) if kept else np.zeros(0, np.float32)
    return np.clip(wav, -1.0, 1.0, out=wav)


def _audio_chunks(path: Path, damage: list[str]) -> Iterator[np.ndarray]:
    """The first audio track as mono float32 chunks at 16 kHz; problems passed over are added to ``damage``."""
    with open_container(path) as container:
        if not container.streams.audio:
            raise MediaError("no audio track")
        stream = container.streams.audio[0]
        stream.thread_type = "AUTO"
        yield from _mono_16k(_decoded_frames(container, stream, damage))


def _decoded_frames(container, stream, damage: list[str]) -> Iterator:
    """The decoded frames of ``stream``, passing over damage as FFmpeg's own tools do.

    A packet that fails to decode is skipped; a container that breaks off (a truncated download)
    ends the frames there. Each problem's one-line reason is appended to ``damage``.
    """
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as error:
            damage.append(ffmpeg_reason(error))
            return
        try:
            frames = packet.decode()
        except av.error.FFmpegError as error:
            damage.append(ffmpeg_reason(error))
            continue
        yield from frames


def _mono_16k(frames: Iterator) -> Iterator[np.ndarray]:
    """Audio frames resampled to mono float32 at 16 kHz; a change of rate or layout midway (joined
    recordings, or damage decoded as such) starts a new resampler instead of failing."""
    import av

    resampler, setup = None, None
    for frame in frames:
        frame_setup = (frame.format.name, frame.layout.name, frame.sample_rate)
        if frame_setup != setup:
            if resampler is not None:
                yield from (out.to_ndarray().reshape(-1) for out in resampler.resample(None))
            # one second per output frame: mp3's tiny frames would otherwise make 40 arrays a second
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ, frame_size=SAMPLE_RATE_HZ)
            setup = frame_setup
        yield from (out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
    if resampler is not None:
        yield from (out.to_ndarray().reshape(-1) for out in resampler.resample(None))


def load_image(path: Path, limits: MediaLimits) -> np.ndarray:
    """A still image as uint8 RGB of shape (height, width, 3); EXIF rotation applied; alpha dropped.

    Scaled down so that its longer side is at most ``limits.max_image_side_px``, and decoded at that size
    where the format allows (JPEG decodes at 1/2, 1/4 or 1/8 scale), so that time and memory follow what the
    face detector uses, not the pixel count the file claims (a few KB of PNG may claim 49 Mpx).
    """
    from PIL import Image, ImageOps

    info = _probe_image(Path(path), limits)
    if info is None:
        raise MediaError("not an image file")
    try:
        with _strict_pillow(limits.max_image_pixels), Image.open(path) as image:
            _decode_reduced(image, limits.max_image_side_px)
            image = ImageOps.exif_transpose(image)
            return np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError:
        limit_mpx = limits.max_image_pixels / 1e6
        raise MediaError(f"image is larger than media.max_image_pixels = {limit_mpx:.0f} Mpx") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(f"corrupt or truncated image: {error_line(error)}") from None


def _decode_reduced(image, max_side_px: int) -> None:  # image: PIL.Image.Image, changed in place
    """Decode ``image`` with its longer side at most ``max_side_px``: reduced while decoding (JPEG's draft
    mode), else decoded in its own mode (one byte per pixel for a grey or palette bomb) and box-reduced before
    any conversion; then resized with Lanczos to the exact size."""
    from PIL import Image

    width_px, height_px = image.size
    if max(width_px, height_px) <= max_side_px:
        image.load()
        return
    size = scaled_size(width_px, height_px, max_side_px)
    image.draft(image.mode if image.mode in ("RGB", "L") else "RGB", size)  # JPEG only: at least ``size``
    image.thumbnail(size, Image.Resampling.LANCZOS, reducing_gap=2.0)


def scaled_size(width_px: int, height_px: int, max_side_px: int) -> tuple[int, int]:
    longer = max(width_px, height_px)
    if longer <= max_side_px:
        return width_px, height_px
    scale = max_side_px / longer
    return max(2, round(width_px * scale)), max(2, round(height_px * scale))


def ffmpeg_reason(error: Exception) -> str:
    """FFmpeg's reason (PyAV's ``strerror``) in one short printable line."""
    strerror = getattr(error, "strerror", None)
    return error_line(Exception(strerror) if strerror else error)


def _human_bytes(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    return f"{n_bytes:.1f} TB"


def human_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"
