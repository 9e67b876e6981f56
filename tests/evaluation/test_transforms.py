"""The degradations of ``likeness eval --transform``: formats, lengths, seeds, and that each does what it says.

Signals are made here: a voice-like harmonic tone (wandering f0, syllable envelope, a noise burst, silence at
both ends), pure tones for pitch, a click for reverb, a textured image for the photo transforms.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import correlate

from monitor.evaluation.transforms import (
    AUDIO_TRANSFORM_HELP,
    AUDIO_TRANSFORMS,
    IMAGE_TRANSFORM_HELP,
    IMAGE_TRANSFORMS,
    apply_audio,
    apply_image,
)

SAMPLE_RATE_HZ = 16_000
SPEED_FACTOR = {"speed_up_5": 1 / 1.05, "speed_down_5": 1.05}  # output length / input length
RANDOM_TRANSFORMS = ["noise_10db", "music_10db", "reverb"]


def voice_like(duration_s: float = 3.0, silence_s: float = 0.3, seed: int = 0) -> np.ndarray:
    """float32, shape (duration_s * 16 kHz,), peak 0.5: harmonics of a 120-180 Hz f0 up to 7.2 kHz."""
    rng = np.random.default_rng(seed)
    time_s = np.arange(round(duration_s * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    f0_hz = 150 + 30 * np.sin(2 * np.pi * 0.7 * time_s)
    phase = 2 * np.pi * np.cumsum(f0_hz) / SAMPLE_RATE_HZ
    tone = sum(np.sin(k * phase) / k for k in range(1, 41))
    wav = tone * 0.5 * (1 - np.cos(2 * np.pi * 3 * time_s))  # three "syllables" a second
    burst = (time_s >= 2.0) & (time_s < 2.2)
    wav[burst] += rng.normal(0, 1.0, burst.sum())
    wav[(time_s < silence_s) | (time_s >= duration_s - silence_s)] = 0.0
    return (0.5 * wav / np.max(np.abs(wav))).astype(np.float32)


def pure_tone(frequency_hz: float = 440.0, duration_s: float = 2.0) -> np.ndarray:
    time_s = np.arange(round(duration_s * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (0.5 * np.sin(2 * np.pi * frequency_hz * time_s)).astype(np.float32)


def peak_frequency_hz(wav: np.ndarray) -> float:
    """The strongest frequency, from a Hann-windowed FFT zero-padded 8× (bins of 1 Hz / 8 / seconds)."""
    n_fft = 8 * wav.size
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(wav.size), n_fft))
    return float(np.argmax(spectrum) * SAMPLE_RATE_HZ / n_fft)


def active_power(wav: np.ndarray, frame_s: float = 0.02, floor_dbfs: float = -50.0) -> float:
    """Mean power of the frames above ``floor_dbfs`` (the signal, not its silences)."""
    frame = round(frame_s * SAMPLE_RATE_HZ)
    power = np.mean(np.square(wav[: wav.size // frame * frame].reshape(-1, frame), dtype=np.float64), axis=1)
    return float(power[power > 10 ** (floor_dbfs / 10)].mean())


def band_power(wav: np.ndarray, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(wav.astype(np.float64))) ** 2
    frequency_hz = np.fft.rfftfreq(wav.size, 1 / SAMPLE_RATE_HZ)
    return float(spectrum[(frequency_hz >= low_hz) & (frequency_hz < high_hz)].sum())


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return voice_like()


@pytest.mark.parametrize("name", list(AUDIO_TRANSFORMS))
def test_audio_format_length_and_seed(name: str, speech: np.ndarray) -> None:
    out = apply_audio(name, speech, seed=3)
    assert out.dtype == np.float32 and out.ndim == 1
    assert np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0
    if name in SPEED_FACTOR:
        assert out.size == pytest.approx(speech.size * SPEED_FACTOR[name], rel=0.01)
    else:
        assert out.size == speech.size
    assert np.array_equal(out, apply_audio(name, speech, seed=3))
    if name in RANDOM_TRANSFORMS:
        assert not np.array_equal(out, apply_audio(name, speech, seed=4))
    assert not np.shares_memory(out, speech)


@pytest.mark.parametrize("name", list(AUDIO_TRANSFORMS))
def test_audio_short_and_empty_clips(name: str) -> None:
    short = np.linspace(-0.5, 0.5, 10, dtype=np.float32)
    out = apply_audio(name, short)
    assert out.dtype == np.float32
    assert abs(out.size - short.size * SPEED_FACTOR.get(name, 1.0)) <= 1
    assert apply_audio(name, np.zeros(0, np.float32)).shape == (0,)


def test_audio_refuses_more_than_one_channel(speech: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"mono, shape \(n,\)"):
        apply_audio("clean", np.stack([speech, speech]))


@pytest.mark.parametrize("name", ["mp3_32k", "opus_16k"])
def test_codecs_come_back_time_aligned(name: str, speech: np.ndarray) -> None:
    out = apply_audio(name, speech)
    assert np.corrcoef(speech, out)[0, 1] > 0.8  # at zero lag: no shift left by the encoder's priming
    max_lag = 800  # 50 ms either way
    xcorr = correlate(out, speech, mode="full")[speech.size - 1 - max_lag : speech.size + max_lag]
    assert abs(int(np.argmax(xcorr)) - max_lag) <= 16  # 1 ms


def test_telephone_keeps_only_the_telephone_band(speech: np.ndarray) -> None:
    out = apply_audio("telephone", speech)
    assert band_power(speech, 4000, 8000) / band_power(speech, 0, 8000) > 0.01  # the test means something
    assert band_power(out, 4000, 8000) / band_power(out, 0, 8000) < 1e-3  # -30 dB; left: resampler leakage
    assert band_power(out, 0, 200) / band_power(out, 0, 8000) < 0.1 * band_power(speech, 0, 200) / band_power(
        speech, 0, 8000)
    assert np.corrcoef(speech, out)[0, 1] > 0.4  # still the same sound, in place


def test_noise_is_pink_at_10_db_snr_of_the_active_signal(speech: np.ndarray) -> None:
    noise = apply_audio("noise_10db", speech).astype(np.float64) - speech
    snr_db = 10 * np.log10(active_power(speech) / np.mean(np.square(noise)))
    assert snr_db == pytest.approx(10.0, abs=1.0)
    assert band_power(noise, 20, 1000) > 3 * band_power(noise, 4000, 8000)  # 1/f: equal power per octave
    assert np.std(noise[: round(0.3 * SAMPLE_RATE_HZ)]) > 0  # in the silences too


def test_music_underneath_at_10_db_snr(speech: np.ndarray) -> None:
    music = apply_audio("music_10db", speech).astype(np.float64) - speech
    snr_db = 10 * np.log10(active_power(speech) / np.mean(np.square(music)))
    assert snr_db == pytest.approx(10.0, abs=1.0)
    spectrum = np.abs(np.fft.rfft(music)) ** 2
    assert np.sort(spectrum)[-50:].sum() > 0.2 * spectrum.sum()  # tonal: a few partials carry the power


@pytest.mark.parametrize(("name", "expected_hz", "length_factor"), [
    ("pitch_up_5", 462.0, 1.0), ("pitch_down_5", 419.0, 1.0),
    ("speed_up_5", 462.0, 1 / 1.05), ("speed_down_5", 419.0, 1.05),
])
def test_pitch_and_speed_move_the_frequency_by_5_percent(name: str, expected_hz: float,
                                                          length_factor: float) -> None:
    tone = pure_tone(440.0)
    out = apply_audio(name, tone)
    assert peak_frequency_hz(out) == pytest.approx(expected_hz, abs=4.0)
    assert out.size == pytest.approx(tone.size * length_factor, rel=0.01)


def test_reverb_adds_a_decaying_tail() -> None:
    click = np.zeros(round(1.5 * SAMPLE_RATE_HZ), np.float32)
    start = round(0.2 * SAMPLE_RATE_HZ)
    click[start : start + 80] = np.random.default_rng(0).uniform(-0.8, 0.8, 80)  # 5 ms burst
    out = apply_audio("reverb", click)

    def rms(from_s: float, to_s: float) -> float:
        return float(np.sqrt(np.mean(np.square(out[round(from_s * SAMPLE_RATE_HZ) : round(to_s * SAMPLE_RATE_HZ)]))))

    assert out.size == click.size
    assert np.max(np.abs(out)) == pytest.approx(np.max(np.abs(click)), rel=1e-4)  # scaled to the input's peak
    assert rms(0.25, 0.35) > 1e-3  # energy where the input is silent
    assert rms(0.25, 0.35) > 10 * rms(0.55, 0.65) > 0  # decaying: ≈ 25 dB per 0.25 s at RT60 0.6 s
    assert rms(0.0, 0.19) < 1e-6  # causal (up to FFT round-off)


def test_unknown_names_list_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown transform 'mp3'; known: clean, mp3_32k, opus_16k, telephone"):
        apply_audio("mp3", np.zeros(10, np.float32))
    with pytest.raises(ValueError, match=r"unknown transform 'blur'; known: clean, jpeg_q30, half_size, quarter_size"):
        apply_image("blur", np.zeros((4, 4, 3), np.uint8))


def test_every_transform_has_help() -> None:
    assert list(AUDIO_TRANSFORM_HELP) == list(AUDIO_TRANSFORMS)
    assert list(IMAGE_TRANSFORM_HELP) == list(IMAGE_TRANSFORMS)
    assert all(text and "\n" not in text for text in [*AUDIO_TRANSFORM_HELP.values(), *IMAGE_TRANSFORM_HELP.values()])


@pytest.mark.parametrize(("name", "shape"), [
    ("clean", (101, 67, 3)), ("jpeg_q30", (101, 67, 3)), ("half_size", (50, 33, 3)), ("quarter_size", (25, 16, 3)),
])
def test_image_transforms(name: str, shape: tuple[int, int, int]) -> None:
    y, x = np.mgrid[0:101, 0:67]
    noise = np.random.default_rng(0).integers(0, 40, (101, 67, 3))
    rgb = (np.stack([2 * y, 3 * x, (x + y) % 256], axis=-1) + noise).clip(0, 255).astype(np.uint8)
    out = apply_image(name, rgb)
    assert out.dtype == np.uint8 and out.shape == shape
    assert np.array_equal(out, apply_image(name, rgb))
    if name == "jpeg_q30":
        assert 0 < np.mean(np.abs(out.astype(int) - rgb)) < 20  # lossy, but the same picture


def test_image_refuses_other_formats() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        apply_image("clean", np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8 RGB"):
        apply_image("clean", np.zeros((4, 4, 3), np.float32))


def test_importing_the_module_is_cheap() -> None:
    code = ("import sys, monitor.evaluation.transforms; "
            "print(sorted(m for m in ('av', 'scipy', 'librosa', 'PIL') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
