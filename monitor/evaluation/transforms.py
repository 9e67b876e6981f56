"""What the web does to audio and photos, simulated for ``likeness eval --transform NAME``.

Audio transforms take and return float32 mono at 16 kHz, shape (n,), values in [-1, 1] (clipped at the
end); only the speed changes alter the length. Image transforms take and return uint8 RGB, shape (H, W, 3).
Each transform is ``f(data, rng)`` with a :class:`numpy.random.Generator` as its only source of randomness,
so :func:`apply_audio` / :func:`apply_image` give the same output for the same seed. av, scipy, librosa and
PIL are imported inside the functions: importing this module stays cheap.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable

import numpy as np

AudioTransform = Callable[[np.ndarray, np.random.Generator], np.ndarray]
ImageTransform = Callable[[np.ndarray, np.random.Generator], np.ndarray]

SAMPLE_RATE_HZ = 16_000
MP3_BIT_RATE_BPS = 32_000
OPUS_BIT_RATE_BPS = 16_000
OPUS_RATE_HZ = 48_000  # what web Opus streams use; the decoder returns 48 kHz whatever the input rate
CODEC_MIN_INPUT_SAMPLES = 1_600  # 100 ms: a shorter clip is padded with silence (a 1-sample Ogg does not decode)
TELEPHONE_BAND_HZ = (300.0, 3400.0)
TELEPHONE_FILTER_ORDER = 4
TELEPHONE_RATE_HZ = 8_000
MU_LAW_MU = 255.0
MU_LAW_STEPS = 127  # per polarity: G.711's 8 bits are a sign and 7 bits of magnitude (+0 and -0 both decode to 0)
SNR_DB = 10.0
ACTIVE_FRAME_S = 0.02
ACTIVE_FLOOR_DBFS = -50.0  # frame RMS relative to 1.0; quieter frames are silence and do not count as signal
MUSIC_TEMPO_BPM = (90.0, 130.0)
MUSIC_BEATS_PER_CHORD = 4
MUSIC_ROOT_MIDI = (45, 57)  # A2..A3: chord roots sit below and around the voice
MUSIC_HARMONICS = 12  # 1/k amplitudes: sawtooth-like
MUSIC_MAX_HZ = 7_000.0  # harmonics stay below Nyquist (8 kHz)
MUSIC_ATTACK_S = 0.02
MUSIC_DECAY_S = 1.5
PERCUSSION_S = 0.06
PERCUSSION_DECAY_S = 0.015
PERCUSSION_GAIN = 0.5  # relative to the chords' RMS: a light tick, not a drum kit
REVERB_RT60_S = 0.6
REVERB_FIRST_REFLECTION_S = 0.004
REVERB_DIRECT_TO_REVERBERANT_DB = 0.0
SPEED_RATIO = (21, 20)  # 1.05 as integers for resample_poly
PITCH_SEMITONES = 12 * math.log2(1.05)  # ≈ 0.845: 5 % in frequency
PITCH_MIN_SAMPLES = 2_048  # librosa's STFT frame; a shorter clip is padded with silence
JPEG_QUALITY = 30


def apply_audio(name: str, wav: np.ndarray, seed: int = 0) -> np.ndarray:
    """``wav`` (float32 mono 16 kHz, shape (n,)) through the audio transform ``name``; ValueError for an unknown one."""
    return _lookup(AUDIO_TRANSFORMS, name)(wav, np.random.default_rng(seed))


def apply_image(name: str, rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """``rgb`` (uint8, shape (H, W, 3)) through the image transform ``name``; ValueError for an unknown one."""
    return _lookup(IMAGE_TRANSFORMS, name)(rgb, np.random.default_rng(seed))


def _lookup(table: dict[str, AudioTransform], name: str) -> AudioTransform:
    """``table[name]``, or a ValueError that lists the known names."""
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown transform {name!r}; known: {', '.join(table)}") from None


def _checked_audio(transform: AudioTransform) -> AudioTransform:
    """``transform`` made to take any 1-D float array and return float32 in [-1, 1]; an empty clip stays empty."""
    @functools.wraps(transform)
    def checked(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        wav = np.asarray(wav, dtype=np.float32)
        if wav.ndim != 1:
            raise ValueError(f"audio must be mono, shape (n,); got shape {wav.shape}")
        out = transform(wav, rng) if wav.size else wav
        return np.clip(np.asarray(out, dtype=np.float32), -1.0, 1.0)
    return checked


def _checked_image(transform: ImageTransform) -> ImageTransform:
    """``transform`` made to refuse anything but uint8 RGB of shape (H, W, 3)."""
    @functools.wraps(transform)
    def checked(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rgb = np.ascontiguousarray(rgb)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"image must be uint8 RGB, shape (H, W, 3); got {rgb.dtype} {rgb.shape}")
        return transform(rgb, rng)
    return checked


def _identity(data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return data.copy()


def _codec_round_trip(wav: np.ndarray, rng: np.random.Generator, codec: str, container_format: str,
                      codec_rate_hz: int, bit_rate_bps: int) -> np.ndarray:
    """``wav`` (16 kHz, shape (n,)) encoded in memory and decoded back to 16 kHz float32, shape (n,).

    No explicit trimming is needed for alignment: both streams declare their encoder delay (LAME's tag:
    576 + 529 samples of priming and the end padding; the Ogg Opus header: 312 samples of pre-skip at
    48 kHz) and FFmpeg's decoders drop those samples. LAME's tag is written by seeking back to the start of
    the file, so the buffer must stay seekable (io.BytesIO is). The resamplers compensate their own delay.
    """
    import av

    n_samples = wav.size
    wav = np.pad(wav, (0, max(0, CODEC_MIN_INPUT_SAMPLES - n_samples)))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=codec_rate_hz, layout="mono")
        stream.bit_rate = bit_rate_bps
        to_codec = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=codec_rate_hz)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wav[None, :]), format="flt", layout="mono")
        frame.sample_rate, frame.pts = SAMPLE_RATE_HZ, 0
        for codec_frame in [*to_codec.resample(frame), *to_codec.resample(None)]:
            container.mux(stream.encode(codec_frame))  # PyAV cuts the frame into the codec's frame size
        container.mux(stream.encode(None))
    buffer.seek(0)
    to_pcm = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
    with av.open(buffer, "r", format=container_format) as container:
        frames = [pcm for frame in container.decode(audio=0) for pcm in to_pcm.resample(frame)]
    chunks = [pcm.to_ndarray().reshape(-1) for pcm in [*frames, *to_pcm.resample(None)]]
    decoded = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return np.pad(decoded[:n_samples], (0, max(0, n_samples - decoded.size)))


def _telephone(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``wav`` as heard through a G.711 line: 300-3400 Hz, 8 kHz, 8-bit mu-law; back at 16 kHz, same length."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    sos = butter(TELEPHONE_FILTER_ORDER, TELEPHONE_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
    # zero-phase, so the output stays time-aligned with the input
    band = sosfiltfilt(sos, wav, padlen=min(3 * (2 * len(sos) + 1), wav.size - 1))
    factor = SAMPLE_RATE_HZ // TELEPHONE_RATE_HZ
    narrow = np.clip(resample_poly(band, 1, factor), -1.0, 1.0)
    companded = np.sign(narrow) * np.log1p(MU_LAW_MU * np.abs(narrow)) / np.log1p(MU_LAW_MU)
    quantised = np.round(companded * MU_LAW_STEPS) / MU_LAW_STEPS
    expanded = np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(MU_LAW_MU)) / MU_LAW_MU
    return resample_poly(expanded, factor, 1)[: wav.size]


def _pink_noise(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``wav`` plus pink (1/f) noise at ``SNR_DB``; the noise is synthesised in the frequency domain."""
    n_bins = wav.size // 2 + 1
    spectrum = rng.standard_normal(n_bins) + 1j * rng.standard_normal(n_bins)
    frequency_hz = np.fft.rfftfreq(wav.size, 1 / SAMPLE_RATE_HZ)
    spectrum[0] = 0.0  # no DC offset
    spectrum[1:] /= np.sqrt(frequency_hz[1:])  # power ∝ 1/f
    return _mix_at_snr(wav, np.fft.irfft(spectrum, wav.size), SNR_DB)


def _music(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``wav`` over synthetic music at ``SNR_DB``: a triad of harmonic tones per bar and a noise tick per beat."""
    beat_samples = round(60 / rng.uniform(*MUSIC_TEMPO_BPM) * SAMPLE_RATE_HZ)
    chord_samples = beat_samples * MUSIC_BEATS_PER_CHORD
    time_s = np.arange(chord_samples) / SAMPLE_RATE_HZ
    envelope = np.minimum(time_s / MUSIC_ATTACK_S, 1.0) * np.exp(-time_s / MUSIC_DECAY_S)
    chords = np.zeros(wav.size)
    for start in range(0, wav.size, chord_samples):
        root_midi = rng.integers(MUSIC_ROOT_MIDI[0], MUSIC_ROOT_MIDI[1] + 1)
        third = 4 if rng.random() < 0.5 else 3  # major or minor
        chord = np.zeros(chord_samples)
        for midi in (root_midi, root_midi + third, root_midi + 7):
            f0_hz = 440.0 * 2 ** ((midi - 69) / 12)
            k = np.arange(1, min(MUSIC_HARMONICS, int(MUSIC_MAX_HZ // f0_hz)) + 1)
            phase = rng.uniform(0, 2 * np.pi, k.size)
            chord += (np.sin(2 * np.pi * f0_hz * k[:, None] * time_s + phase[:, None]) / k[:, None]).sum(axis=0)
        chords[start : start + chord_samples] = (chord * envelope)[: wav.size - start]
    chords /= max(float(np.sqrt(np.mean(np.square(chords)))), 1e-12)
    tick_samples = round(PERCUSSION_S * SAMPLE_RATE_HZ)
    tick_envelope = PERCUSSION_GAIN * np.exp(-np.arange(tick_samples) / (PERCUSSION_DECAY_S * SAMPLE_RATE_HZ))
    for start in range(0, wav.size, beat_samples):
        chords[start : start + tick_samples] += (rng.standard_normal(tick_samples) * tick_envelope)[: wav.size - start]
    return _mix_at_snr(wav, chords, SNR_DB)


def _active_power(wav: np.ndarray) -> float:
    """Mean power (full scale 1.0) of the 20 ms frames above -50 dBFS; of the whole clip when none is."""
    frame_samples = round(ACTIVE_FRAME_S * SAMPLE_RATE_HZ)
    n_frames = wav.size // frame_samples
    frames = wav[: n_frames * frame_samples].reshape(n_frames, frame_samples) if n_frames else wav[None, :]
    power = np.mean(np.square(frames, dtype=np.float64), axis=1)
    active = power > 10 ** (ACTIVE_FLOOR_DBFS / 10)
    return float(power[active].mean()) if active.any() else float(np.mean(np.square(wav, dtype=np.float64)))


def _mix_at_snr(wav: np.ndarray, background: np.ndarray, snr_db: float) -> np.ndarray:
    """``wav`` plus ``background`` (same shape) scaled to ``snr_db`` below the active signal power."""
    signal_power = _active_power(wav)
    background_power = float(np.mean(np.square(background, dtype=np.float64)))
    if signal_power == 0.0 or background_power == 0.0:  # nothing to measure against: silence stays silence
        return wav
    return wav + background * math.sqrt(signal_power / background_power / 10 ** (snr_db / 10))


def _reverb(wav: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``wav`` in a synthetic room (RT60 ``REVERB_RT60_S``), cut to its length and scaled to its peak."""
    from scipy.signal import fftconvolve

    time_s = np.arange(round(REVERB_RT60_S * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    # exponentially decaying noise whose energy falls by 60 dB over RT60 (amplitude by 10^-3)
    impulse_response = rng.standard_normal(time_s.size) * np.exp(-3 * np.log(10) * time_s / REVERB_RT60_S)
    impulse_response[: round(REVERB_FIRST_REFLECTION_S * SAMPLE_RATE_HZ)] = 0.0
    tail_energy = float(np.sum(np.square(impulse_response)))
    impulse_response *= math.sqrt(10 ** (-REVERB_DIRECT_TO_REVERBERANT_DB / 10) / tail_energy)
    impulse_response[0] = 1.0  # the direct path
    wet = fftconvolve(wav, impulse_response)[: wav.size]
    peak_wet = float(np.max(np.abs(wet)))
    return wet * (float(np.max(np.abs(wav))) / peak_wet) if peak_wet > 0 else wet


def _resampled_playback(wav: np.ndarray, rng: np.random.Generator, up: int, down: int) -> np.ndarray:
    """``wav`` played at ``down / up`` times its speed: duration and pitch change together, length n * up / down."""
    from scipy.signal import resample_poly

    return resample_poly(wav, up, down)


def _pitch_shift(wav: np.ndarray, rng: np.random.Generator, semitones: float) -> np.ndarray:
    """``wav`` with its pitch moved by ``semitones`` and its length kept (librosa: phase vocoder, resampling)."""
    import librosa

    padded = np.pad(wav, (0, max(0, PITCH_MIN_SAMPLES - wav.size)))
    return librosa.effects.pitch_shift(padded, sr=SAMPLE_RATE_HZ, n_steps=semitones)[: wav.size]


def _jpeg(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` saved as JPEG at quality ``JPEG_QUALITY`` (4:2:0 chroma, Pillow's default) and decoded."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return np.array(decoded.convert("RGB"))


def _downscale(rgb: np.ndarray, rng: np.random.Generator, factor: int) -> np.ndarray:
    """``rgb`` shrunk to 1/``factor`` of each side (at least 1 pixel), Lanczos."""
    from PIL import Image

    height, width = rgb.shape[:2]
    size = (max(1, width // factor), max(1, height // factor))
    return np.array(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS))


_AUDIO: list[tuple[str, AudioTransform, str]] = [
    ("clean", _identity, "unchanged"),
    ("mp3_32k", functools.partial(_codec_round_trip, codec="libmp3lame", container_format="mp3",
                                  codec_rate_hz=SAMPLE_RATE_HZ, bit_rate_bps=MP3_BIT_RATE_BPS),
     "MP3 at 32 kbit/s (LAME), decoded back"),
    ("opus_16k", functools.partial(_codec_round_trip, codec="libopus", container_format="ogg",
                                   codec_rate_hz=OPUS_RATE_HZ, bit_rate_bps=OPUS_BIT_RATE_BPS),
     "Opus at 16 kbit/s (48 kHz, Ogg), decoded back"),
    ("telephone", _telephone, "telephone line: 300-3400 Hz band, 8 kHz, mu-law 8 bit (G.711-like)"),
    ("noise_10db", _pink_noise, "pink noise at 10 dB SNR (signal power of the non-silent part)"),
    ("music_10db", _music, "synthetic music (chords and a beat) underneath at 10 dB SNR"),
    ("reverb", _reverb, "room reverberation, RT60 0.6 s"),
    ("speed_up_5", functools.partial(_resampled_playback, up=SPEED_RATIO[1], down=SPEED_RATIO[0]),
     "played 5 % faster: tempo and pitch up, shorter"),
    ("speed_down_5", functools.partial(_resampled_playback, up=SPEED_RATIO[0], down=SPEED_RATIO[1]),
     "played 5 % slower: tempo and pitch down, longer"),
    ("pitch_up_5", functools.partial(_pitch_shift, semitones=PITCH_SEMITONES), "pitch 5 % higher, duration kept"),
    ("pitch_down_5", functools.partial(_pitch_shift, semitones=-PITCH_SEMITONES), "pitch 5 % lower, duration kept"),
]
_IMAGE: list[tuple[str, ImageTransform, str]] = [
    ("clean", _identity, "unchanged"),
    ("jpeg_q30", _jpeg, "JPEG re-encoded at quality 30"),
    ("half_size", functools.partial(_downscale, factor=2), "downscaled to half of each side (Lanczos)"),
    ("quarter_size", functools.partial(_downscale, factor=4), "downscaled to a quarter of each side (Lanczos)"),
]
AUDIO_TRANSFORMS: dict[str, AudioTransform] = {name: _checked_audio(f) for name, f, _ in _AUDIO}
AUDIO_TRANSFORM_HELP: dict[str, str] = {name: text for name, _, text in _AUDIO}
IMAGE_TRANSFORMS: dict[str, ImageTransform] = {name: _checked_image(f) for name, f, _ in _IMAGE}
IMAGE_TRANSFORM_HELP: dict[str, str] = {name: text for name, _, text in _IMAGE}
