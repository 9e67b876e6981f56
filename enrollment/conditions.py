"""Listening conditions a voiceprint is also described in: clean, telephone band, noisy, and vocoded.

A voice heard over a phone line or under noise is far from its clean voiceprint, yet as far from every
other clean voiceprint too: the encoder's whole space shifts. Comparing like with like fixes most of
it (measured on ../shared/data: telephone-band EER 14 % against clean prints, 1.4 % against
telephone-band prints; docs/calibration.md). So each reference, and each voice of the comparison
population, is embedded once per condition here, and a scan scores every window in each condition
and keeps the best normalised score (monitor.matching.voice_scores).

These are deliberately *not* the degradations ``likeness eval`` measures (monitor.evaluation.transforms):
another filter and companding law, another noise colour and level, another pitch shift, so that the
measured figures are not a test of the enrolment against itself.

Audio in and out: float32 mono at 16 kHz; the same length, but twice as long for "vocoded".
"""

from __future__ import annotations

import numpy as np

from enrollment.media import SAMPLE_RATE_HZ

VOICE_CONDITIONS = ("clean", "narrowband", "noisy", "vocoded")
CONDITIONS_VERSION = 2  # raise it when a condition's processing changes: scans under the old one are redone
NARROWBAND_RATE_HZ = 8000  # a telephone line, VoIP call or old podcast: sampled at 8 kHz ...
NARROWBAND_BAND_HZ = (300.0, 3400.0)  # ... passing 300-3400 Hz (ITU-T G.712), with steep edges
A_LAW_A = 87.6  # ... and companded to 8 bits: G.711 A-law (the eval's telephone uses mu-law)
A_LAW_STEPS = 127
NOISY_SNR_DB = 15.0  # brown noise (1/f²: traffic, rumble, hum-like) under the speech
NOISY_SEED = 20261125  # fixed: a reference is embedded the same way every time
# Voice changers and "change pitch" tools shift a voice through a phase vocoder, which smears it in
# time as well: a voice moved 5 % this way was 5-7 % EER against clean prints, when playing it 5 %
# faster (pitch and tempo together, no vocoder) cost nothing. ±4 % with 64 ms frames: not the eval's
# ±5 % through librosa.effects.pitch_shift's 128 ms frames.
VOCODED_SHIFT = 0.04
VOCODED_N_FFT = 1024


def stored_condition_rows(stored: np.ndarray | None, width: int) -> np.ndarray:
    """A clip's stored embeddings in the conditions after "clean", (k, width) with k ≤ len(VOICE_CONDITIONS) - 1.

    Conditions are only ever added at the end, so a clip embedded before one existed has the first k.
    Its clean embedding must never stand in for a missing one: scored against a population heard in that
    condition, a clean voice looks unusually close to everyone (monitor.matching.voice_scores masks the condition).
    """
    if stored is None:
        return np.zeros((0, width), np.float32)
    return stored.reshape(-1, width)[: len(VOICE_CONDITIONS) - 1].astype(np.float32)


def condition_audio(wav: np.ndarray, condition: str) -> np.ndarray:
    """``wav`` as heard in ``condition`` (one of :data:`VOICE_CONDITIONS`)."""
    if condition == "clean":
        return wav
    if condition == "narrowband":
        return _narrowband(wav)
    if condition == "noisy":
        return _noisy(wav)
    if condition == "vocoded":
        return _vocoded(wav)
    raise ValueError(f"unknown voice condition {condition!r}; known: {', '.join(VOICE_CONDITIONS)}")


def _narrowband(wav: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, resample_poly, sosfiltfilt

    low = resample_poly(wav, NARROWBAND_RATE_HZ, SAMPLE_RATE_HZ)
    # steep edges matter: a gentle band-pass (order 3, 250-3500 Hz) left telephone-band EER at 7.6 %
    band = butter(4, NARROWBAND_BAND_HZ, btype="bandpass", fs=NARROWBAND_RATE_HZ, output="sos")
    line = _a_law(np.clip(sosfiltfilt(band, low, padlen=min(27, low.size - 1)), -1.0, 1.0))
    return _fit(resample_poly(line, SAMPLE_RATE_HZ, NARROWBAND_RATE_HZ), wav.size)


def _a_law(x: np.ndarray) -> np.ndarray:
    """Compress, quantise to 8 bits and expand (G.711 A-law): the line's quantisation noise."""
    magnitude = np.abs(x)
    log_a = 1 + np.log(A_LAW_A)
    compressed = np.where(magnitude < 1 / A_LAW_A, A_LAW_A * magnitude / log_a,
                          (1 + np.log(np.maximum(A_LAW_A * magnitude, 1e-12))) / log_a)
    quantised = np.round(compressed * A_LAW_STEPS) / A_LAW_STEPS
    expanded = np.where(quantised < 1 / log_a, quantised * log_a / A_LAW_A,
                        np.exp(quantised * log_a - 1) / A_LAW_A)
    return np.sign(x) * expanded


def _noisy(wav: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(NOISY_SEED)
    noise = np.cumsum(rng.standard_normal(wav.size))  # brown noise: integrated white noise
    noise -= np.convolve(noise, np.ones(1601) / 1601, mode="same")  # remove the drift below ~10 Hz
    signal_power = _active_power(wav)
    noise_power = float(np.mean(np.square(noise))) or 1.0
    scale = np.sqrt(signal_power / noise_power / 10 ** (NOISY_SNR_DB / 10))
    return np.clip(wav + scale * noise, -1.0, 1.0).astype(np.float32)


def _vocoded(wav: np.ndarray) -> np.ndarray:
    """The voice moved VOCODED_SHIFT up, then down, by a phase vocoder: twice ``wav``'s length.

    Both shifts go in one condition so that it costs one embedding per window at scan time; the
    clip's embedding is the mean over both halves' partials.
    """
    import librosa

    shifted = []
    for rate in (1 - VOCODED_SHIFT, 1 / (1 - VOCODED_SHIFT)):  # stretched by 1/rate, then played back rate× faster
        stretched = librosa.effects.time_stretch(wav, rate=rate, n_fft=VOCODED_N_FFT, hop_length=VOCODED_N_FFT // 4)
        shifted.append(_fit(librosa.resample(stretched, orig_sr=SAMPLE_RATE_HZ / rate, target_sr=SAMPLE_RATE_HZ,
                                             res_type="soxr_hq"), wav.size))
    return np.concatenate(shifted)


def _active_power(wav: np.ndarray, frame: int = 480) -> float:
    """Mean power of the frames within 30 dB of the loudest: the speech, not the pauses."""
    n = wav.size // frame
    if n == 0:
        return float(np.mean(np.square(wav, dtype=np.float64))) if wav.size else 0.0
    power = np.mean(np.square(wav[: n * frame].reshape(n, frame), dtype=np.float64), axis=1)
    active = power[power >= power.max() * 1e-3]
    return float(active.mean())


def _fit(wav: np.ndarray, n_samples: int) -> np.ndarray:
    wav = wav[:n_samples]
    if wav.size < n_samples:
        wav = np.pad(wav, (0, n_samples - wav.size))
    return np.clip(wav, -1.0, 1.0).astype(np.float32)
