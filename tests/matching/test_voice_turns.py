"""Speakers by their turns: windows grouped into speakers, a turn judged as a whole against the roster."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.matching import voice_turns
from monitor.matching.gallery import Calibration, Gallery, with_voice_population
from monitor.matching.voice_chance import ChanceModel, chance_words
from monitor.matching.voice_match import match_voice, roster_thresholds
from monitor.matching.voice_turns import speaker_turns


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _speakers(rng: np.random.Generator, n_speakers: int, dims: int = 256) -> np.ndarray:
    return _unit(rng.normal(size=(n_speakers, dims)))


def _windows_of(rng: np.random.Generator, speaker: np.ndarray, count: int, spread: float = 0.03) -> np.ndarray:
    """``count`` windows of one speaker: about 0.8 cosine from one another at the default spread, as a real
    speaker's 3.2 s windows are."""
    return _unit(speaker + spread * rng.normal(size=(count, speaker.size)))


def test_each_speakers_windows_become_one_turn_numbered_by_first_appearance() -> None:
    rng = np.random.default_rng(1)
    a, b, c = _speakers(rng, 3)
    windows = np.concatenate([_windows_of(rng, b, 10), _windows_of(rng, a, 6), _windows_of(rng, b, 4),
                              _windows_of(rng, c, 3)])

    turns = speaker_turns(windows)

    assert len(turns) == 3
    assert turns.turn_of_window.tolist() == [0] * 10 + [1] * 6 + [0] * 4 + [2] * 3
    assert turns.windows.tolist() == [14, 6, 3]
    assert float(turns.embeddings[0] @ b) > 0.95  # the mean of a speaker's windows is closer than any window


def test_one_window_and_no_window_are_clustered_without_error() -> None:
    rng = np.random.default_rng(2)
    assert len(speaker_turns(_speakers(rng, 1))) == 1
    empty = speaker_turns(np.zeros((0, 256), np.float32))
    assert len(empty) == 0 and empty.embeddings.shape == (0, 256)


def test_long_media_cluster_a_sample_and_every_window_joins_its_speakers_turn(monkeypatch) -> None:
    monkeypatch.setattr(voice_turns, "MAX_CLUSTERED_WINDOWS", 20)
    rng = np.random.default_rng(3)
    a, b = _speakers(rng, 2)
    windows = np.concatenate([_windows_of(rng, a, 50), _windows_of(rng, b, 30)])

    turns = speaker_turns(windows)

    assert turns.turn_of_window.tolist() == [0] * 50 + [1] * 30


def test_the_chance_threshold_rises_with_the_roster_so_the_chance_per_file_stays_put() -> None:
    chance = ChanceModel(center=2.5, at_center=0.0033, tenfold_snorm=1.28, max_per_file=0.01)
    thresholds = [chance.threshold(performers) for performers in (1, 60, 1000)]

    assert thresholds == sorted(thresholds)
    for performers, threshold in zip((1, 60, 1000), thresholds, strict=True):
        assert chance.per_file(threshold, performers) == pytest.approx(0.01, rel=1e-6)
    # ten times the comparisons: one tenfold_snorm more (nearly: the chance per file is not tiny)
    assert chance.threshold(600) - chance.threshold(60) == pytest.approx(1.28, abs=0.01)


def test_soundalike_rises_with_the_roster_up_to_same_voice_which_stays_verification_grade() -> None:
    calibration = Calibration(center=2.5, slope=1.5, threshold=0.5)
    chance = ChanceModel(2.5, 0.0033, 1.28, 0.01)
    same_voice = 2.5 + np.log(0.95 / 0.05) / 1.5

    small = roster_thresholds(calibration, 0.95, chance, comparisons=1)
    middle = roster_thresholds(calibration, 0.95, chance, comparisons=40)
    large = roster_thresholds(calibration, 0.95, chance, comparisons=3000)

    assert small == pytest.approx({"same_voice": same_voice, "soundalike": 2.5})
    assert middle == pytest.approx({"same_voice": same_voice, "soundalike": chance.threshold(40)})
    assert 2.5 < chance.threshold(40) < same_voice < chance.threshold(3000)
    assert large == pytest.approx({"same_voice": same_voice, "soundalike": same_voice})


def test_the_chance_is_told_in_files_against_the_roster() -> None:
    assert chance_words(1 / 4873, 300, 1) == ("a stranger's voice reaches this in about 1 of 4,900 files like "
                                               "this one against your 300 performers")
    assert chance_words(0.5, 1, 2).endswith("in about 1 of 2 files like this one (2 voices) against your performer")
    assert "most files" in chance_words(1.0, 5, 1)


def _gallery(prints: np.ndarray, cohort: np.ndarray) -> Gallery:
    n = len(prints)
    gallery = Gallery({i + 1: f"P{i + 1}" for i in range(n)}, np.arange(1, n + 1), prints,
                      np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 128), np.float32),
                      voice_conditions=prints[None], voice_known_conditions=np.ones((1, n), bool))
    return with_voice_population(gallery, cohort[None], "test", top_n=10)


def test_a_speakers_turn_is_detected_with_its_own_windows_as_segments_and_its_chance_in_words() -> None:
    rng = np.random.default_rng(4)
    people = _speakers(rng, 209)
    prints, cohort, stranger = people[:8], people[8:208], people[208]
    windows = np.concatenate([_windows_of(rng, stranger, 20), _windows_of(rng, prints[2], 12)])
    start_s = np.arange(len(windows), dtype=np.float64)

    result = match_voice(windows, start_s, start_s + 3.2, _gallery(prints, cohort), Calibration(2.5, 1.5, 0.5),
                         merge_gap_s=1.0, n_closest=3, same_voice_threshold=0.95,
                         chance=ChanceModel(2.5, 0.0033, 1.28, 0.01))

    assert [match.performer_id for match in result.matches] == [3]
    match = result.matches[0]
    assert match.segments[0]["start_s"] == 20.0 and match.segments[-1]["end_s"] == pytest.approx(34.2)
    assert match.details["turn"] == {"windows": 12, "turns": 2}
    assert match.details["chance"]["performers"] == 8 and match.details["chance"]["turns"] == 2
    assert match.details["chance"]["per_file"] < 0.01
    assert "against your 8 performers" in match.details["chance"]["text"]
    assert len(match.details["curve"]) == len(windows)  # every window's score: the picture over time
    assert result.closest[0]["performer_id"] == 3
