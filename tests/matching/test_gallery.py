"""Matching arithmetic: one product against every performer, thresholds, segments (no models)."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.matching.gallery import Calibration, Gallery, match_faces, merge_segments
from monitor.matching.voice_match import match_voice


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _gallery(n_performers: int, seed: int = 0) -> Gallery:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n_performers + 1)
    faces = rng.normal(0, 0.1, (n_performers * 2, 128)).astype(np.float32)
    return Gallery(names={int(i): f"P{i}" for i in ids}, voice_ids=ids, voiceprints=_unit(rng.normal(size=(
        n_performers, 256))), face_ids=ids, face_group_starts=np.arange(0, 2 * n_performers, 2),
        face_references=faces)


def test_the_score_is_a_logistic_of_similarity_with_half_at_the_center():
    calibration = Calibration(center=0.8, slope=30, threshold=0.5)
    assert calibration.score(0.8) == pytest.approx(0.5)
    assert calibration.score(0.95) > 0.98 and calibration.score(0.6) < 0.01
    assert calibration.similarity_threshold == pytest.approx(0.8)
    stricter = Calibration(center=0.8, slope=30, threshold=0.9)
    assert stricter.score(stricter.similarity_threshold) == pytest.approx(0.9)


def test_one_performer_among_ten_thousand_is_found_and_the_closest_are_ranked():
    gallery = _gallery(10_000)
    target = 4321
    windows = _unit(np.vstack([np.random.default_rng(1).normal(size=(5, 256)),
                               gallery.voiceprints[target - 1] + 0.02 * np.random.default_rng(2).normal(size=(3, 256)),
                               np.random.default_rng(3).normal(size=(5, 256))]))
    start_s = np.arange(13) * 0.8
    result = match_voice(windows, start_s, start_s + 3.2, gallery, Calibration(0.8, 30, 0.5), merge_gap_s=1.0,
                         n_closest=3)
    [match] = result.matches
    assert match.performer_id == target and match.score > 0.9
    assert match.segments == [{"start_s": 4.0, "end_s": 8.8, "score": pytest.approx(match.score, abs=1e-4)}]
    assert result.closest[0]["performer_id"] == target and len(result.closest) == 3
    assert result.closest[1]["score"] < 0.5


def test_a_face_is_scored_against_the_best_reference_photo_of_each_performer():
    gallery = _gallery(50)
    found = gallery.face_references[[7, 20]] + 0.001  # performer 4's second photo, performer 11's first
    result = match_faces(found, np.array([2.0, 5.0]), gallery, Calibration(0.45, 30, 0.5), merge_gap_s=2.0,
                         n_closest=3)
    assert sorted(m.performer_id for m in result.matches) == [4, 11]
    assert {m.performer_id: m.segments[0]["start_s"] for m in result.matches} == {4: 2.0, 11: 5.0}


def test_nothing_is_matched_against_an_empty_gallery():
    empty = Gallery({}, np.zeros(0, np.int64), np.zeros((0, 256), np.float32), np.zeros(0, np.int64),
                    np.zeros(0, np.int64), np.zeros((0, 128), np.float32))
    result = match_voice(_unit(np.ones((2, 256))), np.zeros(2), np.ones(2), empty, Calibration(0.8, 30, 0.5), 1.0, 3)
    assert result.matches == [] and result.closest == []


def test_hits_closer_than_the_gap_merge_into_one_segment():
    start = np.array([0.0, 0.8, 1.6, 10.0, 10.8])
    hit = np.array([True, True, False, True, True])
    segments = merge_segments(start, start + 3.2, np.array([0.6, 0.9, 0.1, 0.7, 0.8]), hit, merge_gap_s=1.0)
    assert segments == [{"start_s": 0.0, "end_s": 4.0, "score": 0.9}, {"start_s": 10.0, "end_s": 14.0, "score": 0.8}]
