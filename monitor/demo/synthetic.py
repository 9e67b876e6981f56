"""Media made on the spot for the demo, the tests and the benchmarks.

Speech from espeak-ng (a Debian package), containers written with PyAV. Synthetic voices are far
more alike to the encoder than real people are, so they show the pipeline working, not its accuracy:
accuracy is measured on the real recordings in ../shared/data.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np

from enrollment.errors import LikenessError

# Two synthetic voices the encoder tells apart clearly (cosine ≈ 0.6; the same voice ≈ 0.95)
PERFORMER_VOICE = "en-us+f4"
OTHER_VOICE = "en+m7"
TEXTS = [
    "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore, and the shells "
    "she sells are surely seashells. Peter Piper picked a peck of pickled peppers.",
    "Once upon a time in a land far away there lived a king who loved music. Every morning he would sing "
    "in the garden while the birds listened, and the people of the kingdom were very happy.",
    "Please remember to bring your umbrella tomorrow, because the forecast says it will rain all afternoon "
    "and the buses are running late again after the storm last week.",
    "Our new assistant can book your flights, order your groceries and read you the news every morning, "
    "all in a friendly voice that sounds just like a real person.",
]


def write_audio(path: Path, wav: np.ndarray, sample_rate_hz: int = 16_000, codec: str | None = None) -> Path:
    """Write mono float samples in [-1, 1] to any container PyAV knows (by extension)."""
    import av

    codec = codec or {".wav": "pcm_s16le", ".mp3": "libmp3lame", ".m4a": "aac", ".ogg": "libopus",
                      ".opus": "libopus", ".flac": "flac", ".webm": "libopus", ".mkv": "libopus"}[path.suffix]
    rate = 48_000 if codec == "libopus" else sample_rate_hz
    if rate != sample_rate_hz:
        import librosa

        wav = librosa.resample(np.asarray(wav, np.float32), orig_sr=sample_rate_hz, target_sr=rate)
    with av.open(str(path), "w") as container:
        mux_audio(container, container.add_stream(codec, rate=rate, layout="mono"), wav, rate)
    return path


def mux_audio(container, stream, wav: np.ndarray, rate_hz: int) -> None:
    import av

    sample_format = stream.codec_context.format.name  # e.g. s16, s16p, fltp
    dtype, scale = {"s16": (np.int16, 32767), "s32": (np.int32, 2**31 - 1), "flt": (np.float32, 1),
                    "dbl": (np.float64, 1)}[sample_format.rstrip("p")]
    samples = (np.clip(np.asarray(wav, np.float32), -1, 1) * scale).astype(dtype)
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, samples.size, chunk):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[None, start : start + chunk]),
                                           format=sample_format, layout="mono")
        frame.sample_rate, frame.pts = rate_hz, start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_video(path: Path, frames: list[np.ndarray], fps: int = 2, audio: np.ndarray | None = None,
                sample_rate_hz: int = 16_000) -> Path:
    """An mp4 (H.264, and AAC when ``audio`` is given) from RGB uint8 frames of one size."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width - width % 2, height - height % 2, "yuv420p"
        audio_stream = container.add_stream("aac", rate=sample_rate_hz, layout="mono") if audio is not None else None
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: video.height, : video.width]), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio_stream is not None:
            mux_audio(container, audio_stream, audio, sample_rate_hz)
    return path


def synthesise(text: str, voice: str, speed_wpm: int = 150) -> np.ndarray:
    """espeak-ng speech as float32 mono samples at 16 kHz."""
    import librosa
    import soundfile

    if shutil.which("espeak-ng") is None:
        raise LikenessError("espeak-ng is not installed: `make demo` and `make test` install the Debian package")
    result = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed_wpm), "--stdout", text],
                            capture_output=True, check=True)
    wav, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32")
    return librosa.resample(wav, orig_sr=rate, target_sr=16_000) if rate != 16_000 else wav
