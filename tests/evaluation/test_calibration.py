"""The default calibration (config/default.toml) holds on the real recordings and photos in ../shared/data.

The trials are bench.calibrate's (see its docstring for the protocol); these tests only assert on them.
Measured with the defaults: single-speaker clips split at ≥ 0.833, two-speaker clips at ≤ 0.813; faces:
same person 0.59-0.75, different people ≤ 0.27. Voice detection quality is tests/evaluation/test_eval.py's.
"""

from __future__ import annotations

import pytest

from bench import calibrate
from monitor.config import Config

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def config() -> Config:
    return calibrate.default_config()


def test_multi_speaker_gate_refuses_two_voices_and_keeps_one(config: Config) -> None:
    figures = calibrate.multi_speaker_study(config)

    assert figures["single_with_split"] >= 150 and figures["two_minority_at_least_0.2"] >= 95
    assert figures["single_refused"] == 0, figures["single_similarity"]
    assert figures["two_refused"] == figures["two_minority_at_least_0.2"], figures["two_similarity"]


def test_faces_match_the_same_person_and_nobody_else(config: Config) -> None:
    trials = calibrate.face_trials(config)

    assert len(trials.target) == 8 and len(trials.impostor) == 32  # alex_lacamoire has one photo only
    assert trials.target_hits.all(), trials.target
    assert not trials.impostor_hits.any(), trials.worst_impostors
    # a wide margin both ways: the decision does not hang on these few photos
    assert trials.target.min() - trials.threshold >= 0.1
    assert trials.threshold - trials.impostor.max() >= 0.1
