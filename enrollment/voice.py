"""Voice embeddings: speech detection, then resemblyzer's GE2E encoder over 1.6 s partials.

The same functions embed a performer's reference clips and every scanned recording, so like is
compared with like. Voice activity detection follows resemblyzer's ``trim_long_silences`` (webrtcvad
on 30 ms windows, smoothed, short pauses kept) but also keeps where each kept sample came from, so
that a match can be given as times in the original file.

Shapes: ``wav`` arrays are float32 mono at 16 kHz; embeddings are float32 L2-normalised rows of
256; times are seconds from the start of the original file.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from enrollment.errors import ModelUnavailable
from enrollment.media import SAMPLE_RATE_HZ
from enrollment.settings import VoiceSettings

# Spinning OpenMP threads collapse when other processes share the cores (measured: 20 s instead of
# 3.6 s for the same embedding); passive waiting costs nothing on an idle machine. It must be set
# before torch is first imported, which happens only through this module.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

VAD_WINDOW_SAMPLES = 480  # 30 ms at 16 kHz: resemblyzer's hparams.vad_window_length
VAD_SMOOTHING_WINDOWS = 8  # hparams.vad_moving_average_width
VAD_MAX_SILENCE_WINDOWS = 6  # hparams.vad_max_silence_length
MEL_HOP_SAMPLES = 160  # 10 ms: hparams.mel_window_step
MEL_WINDOW_SAMPLES = 400  # 25 ms: hparams.mel_window_length
MEL_CHANNELS = 40
PARTIAL_FRAMES = 160  # 1.6 s: hparams.partials_n_frames
TARGET_DBFS = -30.0  # hparams.audio_norm_target_dBFS
LOUDNESS_BLOCK_S = 10.0  # speech is loudness-normalised in blocks of this length
EMBEDDING_SIZE = 256
BATCH_PARTIALS = 256  # partials per forward pass: bounds memory on long recordings
LENIENT_RETRY_BELOW_S = 1.2  # less speech than this (not even one partial): ask the detector again ...
LENIENT_VAD = 1  # ... at this aggressiveness
# keep_windows looks this many windows either side (smoothing half-width + widening): more than enough
KEEP_CONTEXT_WINDOWS = VAD_SMOOTHING_WINDOWS + VAD_MAX_SILENCE_WINDOWS


@dataclass(frozen=True)
class Speech:
    """The speech kept from a recording.

    ``wav``: (n_samples,) float32, the kept speech concatenated, loudness-normalised.
    ``window_start_sample``: (n_windows,) int64, where each kept 30 ms VAD window starts in the
    original recording; kept sample ``i`` comes from ``window_start_sample[i // 480] + i % 480``.
    """

    wav: np.ndarray
    window_start_sample: np.ndarray
    total_s: float

    @property
    def speech_s(self) -> float:
        return self.wav.size / SAMPLE_RATE_HZ

    def source_time_s(self, sample_index: np.ndarray) -> np.ndarray:
        """Original-file time in seconds of kept sample indices (any shape of int array)."""
        index = np.clip(np.asarray(sample_index, dtype=np.int64), 0, max(self.wav.size - 1, 0))
        window = np.minimum(index // VAD_WINDOW_SAMPLES, self.window_start_sample.size - 1)
        return (self.window_start_sample[window] + index % VAD_WINDOW_SAMPLES) / SAMPLE_RATE_HZ


@dataclass(frozen=True)
class Partials:
    """Embeddings of 1.6 s partials: ``embeddings`` (n, 256), ``start_s`` and ``end_s`` (n,)."""

    embeddings: np.ndarray
    start_s: np.ndarray
    end_s: np.ndarray

    def __len__(self) -> int:
        return len(self.embeddings)


def rms_dbfs(wav: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale; -inf for digital silence."""
    mean_square = float(np.mean(np.square(wav, dtype=np.float64))) if wav.size else 0.0
    return power_dbfs(mean_square)


def power_dbfs(mean_square: float) -> float:
    """A mean square of samples in [-1, 1] in dB relative to full scale; -inf for 0 (digital silence)."""
    return 10 * np.log10(mean_square) if mean_square > 0 else float("-inf")


def louder_for_vad(wav: np.ndarray, level_dbfs: float | None = None) -> np.ndarray:
    """``wav`` raised to -30 dBFS when quieter, never lowered: what the speech detector hears.

    ``level_dbfs``: the recording's level where it was measured over more than ``wav`` (a block of a
    long recording); by default ``wav``'s own.
    """
    return _normalise_loudness(wav, increase_only=True, level_dbfs=level_dbfs)


def _normalise_loudness(wav: np.ndarray, increase_only: bool, level_dbfs: float | None = None) -> np.ndarray:
    level = rms_dbfs(wav) if level_dbfs is None else level_dbfs
    if not np.isfinite(level):
        return wav
    change_db = TARGET_DBFS - level
    if change_db < 0 and increase_only:
        return wav
    return (wav * 10 ** (change_db / 20)).astype(np.float32)


def find_speech(wav: np.ndarray, settings: VoiceSettings) -> Speech:
    """Keep the speech in ``wav`` (float32 mono 16 kHz), dropping pauses longer than ~0.2 s.

    Under loud noise (10 dB SNR) the strict detector can keep nothing of a voice that is plainly there;
    then it is asked once more, leniently, rather than reporting silence.
    """
    speech = _find_speech(wav, settings.vad_aggressiveness)
    if speech.wav.size < LENIENT_RETRY_BELOW_S * SAMPLE_RATE_HZ and settings.vad_aggressiveness > LENIENT_VAD:
        lenient = _find_speech(wav, LENIENT_VAD)
        if lenient.wav.size > speech.wav.size:
            return lenient
    return speech


def _find_speech(wav: np.ndarray, aggressiveness: int) -> Speech:
    n_windows = wav.size // VAD_WINDOW_SAMPLES
    total_s = wav.size / SAMPLE_RATE_HZ
    if n_windows == 0:
        return Speech(np.zeros(0, np.float32), np.zeros(0, np.int64), total_s)
    wav = louder_for_vad(wav[: n_windows * VAD_WINDOW_SAMPLES])
    kept_windows = np.flatnonzero(keep_windows(vad_flags(speech_detector(aggressiveness), wav)))
    speech = wav.reshape(n_windows, VAD_WINDOW_SAMPLES)[kept_windows].reshape(-1)
    return Speech(normalise_speech(speech), kept_windows * VAD_WINDOW_SAMPLES, total_s)


def speech_detector(aggressiveness: int):  # -> webrtcvad.Vad
    """A webrtcvad detector, 0 (keeps most) to 3 (keeps least). It adapts to the audio it has heard,
    so one recording is passed through one detector, from its start."""
    import webrtcvad

    return webrtcvad.Vad(aggressiveness)


def vad_flags(detector, wav: np.ndarray) -> np.ndarray:
    """The detector's decision on each 30 ms window of ``wav`` (float32 mono 16 kHz, a whole number of
    windows long, as :func:`louder_for_vad` gives it): (n_windows,) float32, 1.0 for speech."""
    n_windows = wav.size // VAD_WINDOW_SAMPLES
    pcm = (np.clip(wav, -1, 1) * 32767).astype("<i2").tobytes()
    window_bytes = VAD_WINDOW_SAMPLES * 2
    return np.fromiter(
        (detector.is_speech(pcm[i * window_bytes : (i + 1) * window_bytes], SAMPLE_RATE_HZ) for i in range(n_windows)),
        dtype=np.float32,
        count=n_windows,
    )


def keep_windows(flags: np.ndarray) -> np.ndarray:
    """Which windows are kept, (n_windows,) bool, from the detector's (n_windows,) flags: smoothed over
    8 windows, then widened by 3 windows each side, so pauses up to ~0.2 s stay. Window ``i``'s answer
    depends on flags ``i - 7`` to ``i + 6`` only (:data:`KEEP_CONTEXT_WINDOWS`)."""
    from scipy.ndimage import binary_dilation

    # np.convolve's "same", but also right under 8 windows (where "same" would swap its arguments, and
    # return 8 values)
    half = (VAD_SMOOTHING_WINDOWS - 1) // 2
    smoothed = np.convolve(flags, np.ones(VAD_SMOOTHING_WINDOWS) / VAD_SMOOTHING_WINDOWS)[half : half + flags.size]
    return binary_dilation(smoothed > 0.5, np.ones(VAD_MAX_SILENCE_WINDOWS + 1))


def normalise_speech(speech: np.ndarray) -> np.ndarray:
    """Loudness-normalise each 10 s block of speech (counted from ``speech``'s start), so a quiet guest in a
    loud podcast is heard too."""
    block = int(LOUDNESS_BLOCK_S * SAMPLE_RATE_HZ)
    if speech.size <= block:
        return _normalise_loudness(speech, increase_only=False)
    parts = [_normalise_loudness(speech[i : i + block], increase_only=False) for i in range(0, speech.size, block)]
    return np.concatenate(parts).astype(np.float32, copy=False)


@functools.cache
def _mel_basis():  # -> torch.Tensor (40, 201)
    import librosa
    import torch

    basis = librosa.filters.mel(sr=SAMPLE_RATE_HZ, n_fft=MEL_WINDOW_SAMPLES, n_mels=MEL_CHANNELS)
    return torch.from_numpy(basis).float(), torch.hann_window(MEL_WINDOW_SAMPLES)


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """resemblyzer's ``wav_to_mel_spectrogram``: (n_frames, 40) float32 power mel, 10 ms hop.

    Computed with torch's STFT, which gives the same numbers (to 1e-6) without librosa's
    just-in-time compilation on every process start.
    """
    import torch

    basis, window = _mel_basis()
    spectrum = torch.stft(
        torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)),
        n_fft=MEL_WINDOW_SAMPLES,
        hop_length=MEL_HOP_SAMPLES,
        window=window,
        center=True,
        pad_mode="constant",
        return_complex=True,
    )
    return (basis @ spectrum.abs().square()).T.contiguous().numpy()


def embed_partials(speech: Speech, settings: VoiceSettings) -> Partials:
    """Embed every 1.6 s partial of the kept speech, one every ``settings.partial_stride_s``.

    Speech shorter than one partial is zero-padded when it covers at least 75 % of it (as
    resemblyzer does); shorter still, no partial is returned.
    """
    stride_frames = partial_stride_frames(settings)
    mel = mel_frames(speech.wav) if speech.wav.size else np.zeros((0, MEL_CHANNELS), np.float32)
    n_frames = mel.shape[0]
    if n_frames < PARTIAL_FRAMES:
        if n_frames < 0.75 * PARTIAL_FRAMES:
            return Partials(np.zeros((0, EMBEDDING_SIZE), np.float32), np.zeros(0), np.zeros(0))
        mel = np.pad(mel, ((0, PARTIAL_FRAMES - n_frames), (0, 0)))
    starts = np.arange(0, max(mel.shape[0] - PARTIAL_FRAMES, 0) + 1, stride_frames)
    embeddings = embed_mel_partials(mel, starts)
    start_sample = starts * MEL_HOP_SAMPLES
    end_sample = np.minimum(start_sample + PARTIAL_FRAMES * MEL_HOP_SAMPLES, speech.wav.size) - 1
    return Partials(embeddings, speech.source_time_s(start_sample), speech.source_time_s(end_sample))


def partial_stride_frames(settings: VoiceSettings) -> int:
    """Mel frames (10 ms each) from one partial's start to the next's."""
    return max(1, round(settings.partial_stride_s * SAMPLE_RATE_HZ / MEL_HOP_SAMPLES))


def embed_mel_partials(mel: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The encoder's embedding of each 160-frame partial of ``mel`` (n_frames, 40) that begins at a frame
    of ``starts`` (n,): (n, 256) float32, L2-normalised. Batched, so memory is bounded however many."""
    import torch

    windows = np.lib.stride_tricks.sliding_window_view(mel, PARTIAL_FRAMES, axis=0)  # a view: (frames, 40, 160)
    encoder = voice_encoder()
    outputs = [np.zeros((0, EMBEDDING_SIZE), np.float32)]
    with torch.inference_mode():
        for i in range(0, len(starts), BATCH_PARTIALS):  # copied a batch at a time (256 × 25 KB)
            batch = torch.from_numpy(np.ascontiguousarray(windows[starts[i : i + BATCH_PARTIALS]].transpose(0, 2, 1)))
            outputs.append(encoder(batch.to(encoder.device)).cpu().numpy())
    return np.concatenate(outputs).astype(np.float32, copy=False)


def mean_embedding(embeddings: np.ndarray) -> np.ndarray:
    """L2-normalised mean of rows: a clip's embedding from its partials, a voiceprint from clips."""
    mean = np.asarray(embeddings, dtype=np.float32).mean(axis=0)
    return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)


def condition_embeddings(wav: np.ndarray, clean: np.ndarray, settings: VoiceSettings) -> np.ndarray:
    """A clip's embedding in each listening condition after "clean": (n_conditions - 1, 256) float32.

    ``wav`` is the decoded recording (float32 mono 16 kHz) and ``clean`` its clean embedding (256,),
    used where a condition leaves too little speech to embed.
    """
    from enrollment.conditions import VOICE_CONDITIONS, condition_audio

    rows = []
    for condition in VOICE_CONDITIONS[1:]:
        partials = embed_partials(find_speech(condition_audio(wav, condition), settings), settings)
        rows.append(mean_embedding(partials.embeddings) if len(partials) else clean)
    return np.stack(rows).astype(np.float32)


def embeddings_in_conditions(wav: np.ndarray, partials: Partials, settings: VoiceSettings) -> np.ndarray:
    """A clip's embedding in every listening condition, clean first: (n_conditions, 256) float32.

    ``partials``: the clip's clean partials (at least one).
    """
    clean = mean_embedding(partials.embeddings)
    return np.concatenate([clean[None], condition_embeddings(wav, clean, settings)])


def window_embeddings(partials: Partials, window_partials: int) -> Partials:
    """Scoring windows: the normalised mean of each run of ``window_partials`` consecutive partials.

    A single 1.6 s partial is a noisy description of a voice; averaging a few (about 3 s of speech)
    is far steadier while still short enough to follow turns in a conversation. A window's times are
    those of its central partial(s): a window that only overlaps a voice at its edge says little about
    its edges, so segments built from central spans start and end where the voice does.
    """
    n = len(partials)
    if n <= window_partials:
        if n == 0:
            return partials
        return Partials(mean_embedding(partials.embeddings)[None], partials.start_s[:1], partials.end_s[-1:])
    cumulative = np.cumsum(np.vstack([np.zeros((1, EMBEDDING_SIZE)), partials.embeddings]), axis=0)
    sums = cumulative[window_partials:] - cumulative[:-window_partials]
    embeddings = (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)
    first, last = (window_partials - 1) // 2, window_partials // 2  # offsets of the central partial(s)
    n_windows = n - window_partials + 1
    return Partials(embeddings, partials.start_s[first : first + n_windows], partials.end_s[last : last + n_windows])


@functools.cache
def voice_encoder():  # -> resemblyzer.VoiceEncoder
    """resemblyzer's pretrained encoder, loaded once per process (on CUDA where torch sees one)."""
    try:
        import torch
        from resemblyzer import VoiceEncoder
    except ImportError as error:
        raise ModelUnavailable(f"the voice model cannot load ({error}); run `make install`") from None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    encoder = VoiceEncoder(device, verbose=False)
    encoder.eval()
    return encoder


@functools.cache
def voice_model_version() -> str:
    """``resemblyzer <version> weights:<first 12 hex of the weight file's sha256>``."""
    from importlib.metadata import version

    from enrollment.media import sha256_file

    # the package's files located, not imported: asking the version does not load torch (a scan whose workers
    # analyse never needs it)
    weights = package_folder("resemblyzer") / "pretrained.pt"
    return f"resemblyzer {version('Resemblyzer')} weights:{sha256_file(weights)[:12]}"


def package_folder(name: str) -> Path:
    """The folder of installed package ``name``, found without importing it; ModelUnavailable where it is not
    installed."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModelUnavailable(f"{name} is not installed; run `make install`")
    return Path(spec.origin).parent
