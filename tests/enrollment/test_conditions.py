"""Listening conditions: what each does to a recording, always the same way, and old stored rows still read."""

from __future__ import annotations

import numpy as np
import pytest

from enrollment.conditions import VOCODED_SHIFT, VOICE_CONDITIONS, condition_audio, stored_condition_rows
from enrollment.media import SAMPLE_RATE_HZ


def _tone(frequency_hz: float, seconds: float = 2.0) -> np.ndarray:
    time_s = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (0.5 * np.sin(2 * np.pi * frequency_hz * time_s)).astype(np.float32)


def _peak_hz(wav: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(wav * np.hanning(wav.size)))
    return float(np.fft.rfftfreq(wav.size, 1 / SAMPLE_RATE_HZ)[np.argmax(spectrum)])


@pytest.mark.parametrize("condition", VOICE_CONDITIONS)
def test_each_condition_gives_float_audio_in_range_and_the_same_every_time(condition) -> None:
    wav = _tone(220.0) + np.float32(0.3) * _tone(3000.0)

    heard = condition_audio(wav, condition)

    assert heard.dtype == np.float32 and np.abs(heard).max() <= 1.0
    assert heard.size == (2 * wav.size if condition == "vocoded" else wav.size)
    assert np.array_equal(heard, condition_audio(wav, condition))


def test_narrowband_keeps_the_telephone_band_only() -> None:
    inside, above = _tone(1000.0), _tone(6000.0)

    assert np.std(condition_audio(inside, "narrowband")) > 0.8 * np.std(inside)
    assert np.std(condition_audio(above, "narrowband")) < 0.05 * np.std(above)


def test_vocoded_moves_the_voice_up_then_down_and_keeps_its_length_each_time() -> None:
    wav = _tone(200.0)

    heard = condition_audio(wav, "vocoded")
    up, down = heard[: wav.size], heard[wav.size :]

    assert _peak_hz(up) == pytest.approx(200.0 / (1 - VOCODED_SHIFT), rel=0.01)
    assert _peak_hz(down) == pytest.approx(200.0 * (1 - VOCODED_SHIFT), rel=0.01)


def test_rows_stored_before_a_condition_existed_are_read_as_the_conditions_they_have() -> None:
    stored = np.arange(8, dtype=np.float32)  # two conditions after clean, of three now

    rows = stored_condition_rows(stored, 4)

    assert rows.shape == (2, 4) and np.array_equal(rows, stored.reshape(2, 4))
    assert stored_condition_rows(None, 4).shape == (0, 4)
