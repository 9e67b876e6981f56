"""Sampled video frames: decoded only as far as sampling needs them, grey for a detector, RGB on demand.

A scan samples a video once every ``media.frame_every_s`` seconds (1 s): of a 30 fps video, 29 frames
in 30 are decoded only to be thrown away. Those that no later frame refers to (most B-frames) need not
be decoded at all, and a kept frame is converted only to what is asked of it: its luma plane for the
face detector, RGB only when a face has to be described.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from enrollment.errors import MediaError
from enrollment.media import ffmpeg_reason, human_duration, main_video_stream, open_container, scaled_size
from enrollment.settings import MediaLimits


@dataclass
class SampledFrame:
    """One sampled video frame, converted on demand: grey for a face detector, RGB for a descriptor.

    Both are scaled down so that the longer side is at most ``media.max_frame_side_px``, to the
    same (height, width). Holding one keeps its decoded picture (one frame's memory) alive.
    """

    time_s: float
    width_px: int
    height_px: int
    _frame: Any  # av.VideoFrame
    _rgb: np.ndarray | None = None

    def grey(self) -> np.ndarray:
        """uint8 (height, width): the luma plane, scaled."""
        return self._frame.to_ndarray(format="gray", width=self.width_px, height=self.height_px)

    def rgb(self) -> np.ndarray:
        """uint8 (height, width, 3), converted once."""
        if self._rgb is None:
            self._rgb = self._frame.to_ndarray(format="rgb24", width=self.width_px, height=self.height_px)
        return self._rgb


def sample_video_frames(path: Path, limits: MediaLimits) -> Iterator[SampledFrame]:
    """The first frame at or after every ``limits.frame_every_s`` seconds of the main video stream.

    Frames that no later frame refers to (most B-frames) and that come before the next sampling time
    are not decoded at all (FFmpeg's ``skip_frame``): a 30 fps video is sampled once a second, so most
    decoding would be thrown away. The frames kept are exactly those of a full decode. Damage is
    passed over as in enrollment.media's decoding; a damaged file that yields no frame is refused as corrupt.
    """
    import av

    damage: list[str] = []
    with open_container(path) as container:
        stream = main_video_stream(container)
        if stream is None:
            raise MediaError("no video stream")
        # slice threads only: frame threads decode several frames at once, each with its own references, and
        # cost more CPU in all (5.9 s against 4.0 s for the benchmark's 160 s of 720p) and, at 4K, 60 MB more
        # memory; a machine scans several files at once (monitor.analysis.workers), so a core's share is what counts
        stream.thread_type = "SLICE"
        codec, time_base = stream.codec_context, stream.time_base
        next_time_s, n_yielded, skipping = 0.0, 0, False
        packets = container.demux(stream)
        while (packet := _next_packet(packets, damage)) is not None:
            # packets come in decoding order; one that is shown before the next sample can be skipped
            # when nothing depends on it. next_time_s lags (decoding is ahead of output): it skips less,
            # never a frame that would have been kept
            early = packet.pts is not None and time_base is not None and \
                float(packet.pts * time_base) + 1e-6 < next_time_s
            if early != skipping:
                codec.skip_frame, skipping = ("NONREF" if early else "DEFAULT"), early
            try:
                frames = packet.decode()
            except av.error.FFmpegError as error:
                damage.append(ffmpeg_reason(error))
                continue
            for frame in frames:
                time_s = float(frame.time) if frame.time is not None else next_time_s
                if time_s > limits.max_duration_s:
                    raise MediaError(
                        f"video is longer than media.max_duration_s = {human_duration(limits.max_duration_s)}"
                    )
                if time_s + 1e-6 < next_time_s:
                    continue
                next_time_s = time_s + limits.frame_every_s
                n_yielded += 1
                yield SampledFrame(time_s, *scaled_size(frame.width, frame.height, limits.max_frame_side_px), frame)
    if damage and n_yielded == 0:
        raise MediaError(f"corrupt video stream ({damage[0]})")


def _next_packet(packets: Iterator[Any], damage: list[str]) -> Any | None:
    """The next of ``packets`` (an av.Packet, from ``container.demux``), or None at their end or at a demuxing
    error, whose reason is appended to ``damage`` (the frames decoded until then are kept)."""
    import av

    try:
        return next(packets)
    except StopIteration:
        return None
    except av.error.FFmpegError as error:
        damage.append(ffmpeg_reason(error))
        return None


def iter_video_frames(path: Path, limits: MediaLimits) -> Iterator[tuple[float, np.ndarray]]:
    """Frames sampled every ``limits.frame_every_s`` seconds, as ``(time_s, rgb)``.

    ``rgb`` is uint8 of shape (height, width, 3), scaled down so that its longer side is at most
    ``limits.max_frame_side_px``. See :func:`sample_video_frames` (damage, refusals).
    """
    for frame in sample_video_frames(path, limits):
        yield frame.time_s, frame.rgb()
