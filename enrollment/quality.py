"""Quality gates for reference material: each returns a one-line reason to refuse, or None.

A voiceprint built from a clipped, noisy or two-speaker clip would match the wrong people, and a
face descriptor from a 40-pixel face is noise; references are refused rather than stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from enrollment import voice
from enrollment.face import FaceBox
from enrollment.settings import FaceSettings, VoiceSettings
from enrollment.voice import Speech, rms_dbfs

FULL_SCALE = 0.99  # a sample at or beyond this magnitude counts as clipped
FLATNESS_FRAME_SAMPLES = 512
MIN_MINORITY_FRACTION = 0.2  # a second voice must hold this share of the windows to count


@dataclass(frozen=True)
class VoiceReferenceCheck:
    """A reference recording's verdict: ``reason`` to refuse it (None: accepted), the figures measured, and
    the speech and partials found on the way (None where a gate stopped before them)."""

    reason: str | None
    figures: dict
    speech: Speech | None = None
    partials: voice.Partials | None = None


def check_voice_reference(wav: np.ndarray, settings: VoiceSettings) -> VoiceReferenceCheck:
    """Every gate a reference recording (float32 mono 16 kHz) must pass to be enrolled, in order: sound,
    enough speech, one speaker. Enrolment and ``likeness eval`` both decide with it."""
    reason, figures = recording_problem(wav, settings)
    if reason is not None:
        return VoiceReferenceCheck(reason, figures)
    speech = voice.find_speech(wav, settings)
    reason, speech_figures = speech_problem(speech, settings)
    figures |= speech_figures
    if reason is not None:
        return VoiceReferenceCheck(reason, figures, speech)
    partials = voice.embed_partials(speech, settings)
    windows = voice.window_embeddings(partials, settings.window_partials)
    reason, speaker_figures = speakers_problem(windows.embeddings, settings)
    return VoiceReferenceCheck(reason, figures | speaker_figures, speech, partials)


def recording_problem(wav: np.ndarray, settings: VoiceSettings) -> tuple[str | None, dict]:
    """Silence or clipping in a whole recording (float32 mono 16 kHz): (reason or None, figures)."""
    level_dbfs = rms_dbfs(wav)
    clipped_fraction = float(np.mean(np.abs(wav) >= FULL_SCALE)) if wav.size else 0.0
    figures = {"rms_dbfs": round(level_dbfs, 1) if np.isfinite(level_dbfs) else None,
               "clipped_fraction": round(clipped_fraction, 5)}
    if not np.isfinite(level_dbfs) or level_dbfs < settings.min_rms_dbfs:
        return "silence: no sound above voice.min_rms_dbfs", figures
    if clipped_fraction > settings.max_clipped_fraction:
        return f"clipped: {clipped_fraction:.1%} of samples are at full scale", figures
    return None, figures


def speech_problem(speech: Speech, settings: VoiceSettings) -> tuple[str | None, dict]:
    """Too little speech, or noise mistaken for speech: (reason or None, figures)."""
    flatness = spectral_flatness(speech.wav)
    figures = {"speech_s": round(speech.speech_s, 2), "noise_flatness": round(flatness, 3)}
    if speech.speech_s < 1.0 or flatness > settings.max_noise_flatness:
        return "no speech found: silence or noise only", figures
    if flatness < settings.min_speech_flatness:
        return "no speech found: a steady tone, not a voice", figures
    if speech.speech_s < settings.min_speech_s:
        return (
            f"only {speech.speech_s:.1f} s of speech; at least {settings.min_speech_s:.0f} s is needed",
            figures,
        )
    return None, figures


def spectral_flatness(wav: np.ndarray) -> float:
    """Median spectral flatness over 32 ms frames, in [0, 1]: white noise ≈ 0.56, speech ≈ 0.05."""
    n_frames = wav.size // FLATNESS_FRAME_SAMPLES
    if n_frames == 0:
        return 1.0
    frames = wav[: n_frames * FLATNESS_FRAME_SAMPLES].reshape(n_frames, FLATNESS_FRAME_SAMPLES)
    power = np.square(np.abs(np.fft.rfft(frames * np.hanning(FLATNESS_FRAME_SAMPLES), axis=1))) + 1e-12
    flatness = np.exp(np.mean(np.log(power), axis=1)) / np.mean(power, axis=1)
    return float(np.median(flatness))


def two_voice_split(windows: np.ndarray) -> tuple[float, float] | None:
    """Split window embeddings (W, 256) into two groups by spherical 2-means.

    Returns (cosine similarity of the two groups' centroids, share of the smaller group), or None
    when there are too few windows to tell. One speaker gives two near-identical centroids.
    """
    if len(windows) < 4:
        return None
    similarity = windows @ windows.T
    first, second = np.unravel_index(np.argmin(similarity), similarity.shape)
    centroids = windows[[first, second]]
    for _ in range(10):
        labels = np.argmax(windows @ centroids.T, axis=1)
        if labels.min() == labels.max():
            return None
        centroids = np.stack([windows[labels == k].mean(axis=0) for k in (0, 1)])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    minority = min(np.mean(labels == 0), np.mean(labels == 1))
    return float(centroids[0] @ centroids[1]), float(minority)


def speakers_problem(windows: np.ndarray, settings: VoiceSettings) -> tuple[str | None, dict]:
    """More than one voice in a reference clip: (reason or None, figures)."""
    split = two_voice_split(windows)
    if split is None:
        return None, {}
    similarity, minority = split
    figures = {"two_voice_similarity": round(similarity, 3), "minority_share": round(minority, 3)}
    if minority >= MIN_MINORITY_FRACTION and similarity < settings.multi_speaker_max_similarity:
        return f"more than one speaker (two voices, similarity {similarity:.2f}, the second in {minority:.0%})", figures
    return None, figures


def face_problem(boxes: list[FaceBox], pick_largest: bool, settings: FaceSettings) -> str | None:
    """No face, several faces (unless the largest is picked), or a face too small to describe."""
    if not boxes:
        return "no face found"
    if len(boxes) > 1 and not pick_largest:
        return f"{len(boxes)} faces found; use --pick largest to enrol the largest"
    if boxes[0].size_px < settings.min_face_px:
        return f"face is {boxes[0].size_px} px; at least {settings.min_face_px} px is needed"
    return None
