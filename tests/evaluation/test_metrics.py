"""Detection-error measures (monitor.evaluation.metrics) and the DET plot (monitor.evaluation.det_plot).

The small examples are worked out by hand in the comments; the large ones compare with the normal
distribution's closed form.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from monitor.evaluation.det_plot import save_det_plot
from monitor.evaluation.metrics import (
    ErrorRates,
    det_curve,
    equal_error_rate,
    rates_at,
    recall_at_false_alarm,
    summarise,
    threshold_for_false_alarm,
)

# target 0.7 sits below impostor 0.75: one of each is on the wrong side of any threshold in (0.7, 0.75].
TARGET = [0.9, 0.8, 0.7]
IMPOSTOR = [0.1, 0.2, 0.75]
TEN_IMPOSTORS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def normal_scores(shift: float, n: int = 20_000, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Target ~ N(shift, 1), impostor ~ N(0, 1): d' = shift, EER = Φ(-shift / 2)."""
    rng = np.random.default_rng(seed)
    return rng.normal(shift, 1.0, n), rng.normal(0.0, 1.0, n)


def test_rates_at_counts_scores_at_the_threshold_as_accepted() -> None:
    # 0.72: impostor 0.75 accepted (1 of 3), target 0.7 rejected (1 of 3).
    assert rates_at(TARGET, IMPOSTOR, 0.72) == pytest.approx(ErrorRates(1 / 3, 1 / 3))
    # 0.75 exactly: impostor 0.75 is still accepted (score >= threshold).
    assert rates_at(TARGET, IMPOSTOR, 0.75).false_alarm_rate == pytest.approx(1 / 3)
    rates = rates_at(TARGET, IMPOSTOR, 0.8)
    assert rates.false_alarm_rate == 0.0
    assert rates.miss_rate == pytest.approx(1 / 3)
    assert rates.recall == pytest.approx(2 / 3)
    assert rates_at(TARGET, IMPOSTOR, 0.0) == ErrorRates(1.0, 0.0)


def test_det_curve_has_one_point_per_distinct_score_plus_accept_nothing() -> None:
    thresholds, false_alarm, miss = det_curve(TARGET, IMPOSTOR)
    assert thresholds[:-1] == pytest.approx([0.1, 0.2, 0.7, 0.75, 0.8, 0.9])
    assert 0.9 < thresholds[-1] < 0.9 + 1e-12  # just above the top score: nothing accepted
    assert false_alarm == pytest.approx([1, 2 / 3, 1 / 3, 1 / 3, 0, 0, 0])
    assert miss == pytest.approx([0, 0, 0, 1 / 3, 1 / 3, 2 / 3, 1])


def test_det_curve_merges_tied_scores() -> None:
    thresholds, false_alarm, miss = det_curve([0.5, 0.5, 0.9], [0.5, 0.1])
    assert thresholds[:-1] == pytest.approx([0.1, 0.5, 0.9])
    assert false_alarm == pytest.approx([1, 0.5, 0, 0])
    assert miss == pytest.approx([0, 0, 2 / 3, 1])


def test_det_curve_of_a_million_trials_is_fast_and_monotone() -> None:
    target, impostor = normal_scores(2.0, n=500_000)
    start = time.thread_time()  # CPU time: what the curve costs, however loaded the machine
    thresholds, false_alarm, miss = det_curve(target, impostor)
    assert time.thread_time() - start < 2.0
    assert thresholds.shape == false_alarm.shape == miss.shape == (1_000_001,)
    assert np.all(np.diff(thresholds) > 0)
    assert np.all(np.diff(false_alarm) <= 0) and np.all(np.diff(miss) >= 0)
    assert (false_alarm[0], miss[0], false_alarm[-1], miss[-1]) == (1.0, 0.0, 0.0, 1.0)


def test_eer_on_a_plateau_is_where_it_is_first_reached() -> None:
    # DET points (FA, miss): … (1/3, 0) at 0.7, (1/3, 1/3) at 0.75: equal there.
    eer, threshold = equal_error_rate(TARGET, IMPOSTOR)
    assert eer == pytest.approx(1 / 3)
    assert threshold == pytest.approx(0.75)


def test_eer_interpolates_between_the_points_around_the_crossing() -> None:
    # DET points: (0.5, 0) at 0.5 and (0, 0.5) at 0.9 (the tie at 0.5 moves both rates at once);
    # the straight line between them crosses FA = miss halfway: 0.25, at threshold 0.7.
    eer, threshold = equal_error_rate([0.5, 0.9], [0.1, 0.5])
    assert eer == pytest.approx(0.25)
    assert threshold == pytest.approx(0.7)


def test_eer_of_separated_identical_and_reversed_sets() -> None:
    eer, threshold = equal_error_rate([0.7, 0.8, 0.9], [0.1, 0.2, 0.3])
    assert eer == 0.0
    assert rates_at([0.7, 0.8, 0.9], [0.1, 0.2, 0.3], threshold) == ErrorRates(0.0, 0.0)
    assert equal_error_rate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]) == pytest.approx((0.5, 2.5))
    assert equal_error_rate([0.1], [0.9])[0] == pytest.approx(1.0)


def test_eer_of_normal_scores_matches_the_closed_form() -> None:
    same = equal_error_rate(*normal_scores(0.0))
    assert same[0] == pytest.approx(0.5, abs=0.02)
    eer, threshold = equal_error_rate(*normal_scores(2.0))
    assert eer == pytest.approx(norm.cdf(-1.0), abs=0.01)  # 0.1587, halfway between the means
    assert threshold == pytest.approx(1.0, abs=0.05)


def test_threshold_for_false_alarm_is_just_above_the_first_impostor_too_many() -> None:
    # 20 % of 10 allows 2 impostors (1.0 and 0.9): the threshold rejects 0.8 and everything below.
    threshold = threshold_for_false_alarm(TEN_IMPOSTORS, 0.2)
    assert threshold == np.nextafter(0.8, 1.0)
    assert rates_at([1.0], TEN_IMPOSTORS, threshold).false_alarm_rate == pytest.approx(0.2)
    assert rates_at([1.0], TEN_IMPOSTORS, 0.8).false_alarm_rate == pytest.approx(0.3)
    assert threshold_for_false_alarm(TEN_IMPOSTORS, 0.0) == np.nextafter(1.0, 2.0)
    assert threshold_for_false_alarm(TEN_IMPOSTORS, 1.0) == -math.inf
    # 0.29 × 100 is 28.999999999999996 in floats: still 29 impostors allowed, so the 30th highest is cut.
    assert threshold_for_false_alarm(np.arange(100.0), 0.29) == np.nextafter(70.0, 71.0)


def test_recall_at_false_alarm_by_hand() -> None:
    # At most 2 of 10 impostors: threshold just above 0.8, so targets 0.85 and 0.95 pass, 0.5 does not.
    recall, threshold = recall_at_false_alarm([0.85, 0.95, 0.5], TEN_IMPOSTORS, 0.2)
    assert recall == pytest.approx(2 / 3)
    assert 0.8 < threshold < 0.85
    assert recall_at_false_alarm([0.5], TEN_IMPOSTORS, 1.0) == (1.0, -math.inf)


@pytest.mark.parametrize("limit", [0.0, 0.001, 0.01, 0.1, 0.5])
def test_recall_at_false_alarm_respects_the_limit_and_is_the_best_there(limit: float) -> None:
    target, impostor = normal_scores(2.0, n=5_000)
    recall, threshold = recall_at_false_alarm(target, impostor, limit)
    assert rates_at(target, impostor, threshold).false_alarm_rate <= limit
    _, false_alarm, miss = det_curve(target, impostor)
    assert recall == pytest.approx(np.max(1.0 - miss[false_alarm <= limit]))


def test_summary_as_json() -> None:
    summary = summarise(TARGET, IMPOSTOR, {"same_voice": 0.72, "soundalike": 0.15})
    assert (summary.n_target, summary.n_impostor) == (3, 3)
    assert summary.recall_at_1pct_fa == pytest.approx(2 / 3)  # no impostor allowed: only 0.9 and 0.8 pass
    assert json.loads(json.dumps(summary.as_json())) == {
        "n_target": 3,
        "n_impostor": 3,
        "eer": 0.33333,
        "eer_threshold": 0.75,
        "recall_at_1pct_fa": 0.66667,
        "at_thresholds": {
            "same_voice": {"false_alarm_rate": 0.33333, "recall": 0.66667},
            "soundalike": {"false_alarm_rate": 0.66667, "recall": 1.0},
        },
    }


@pytest.mark.parametrize(
    ("target", "impostor", "message"),
    [
        ([], [0.1], "no target trials"),
        ([0.9], [], "no impostor trials"),
        ([0.9, math.nan], [0.1], "NaN"),
        ([0.9], [math.nan], "NaN"),
        ([0.9], [math.inf], "infinite"),
        ([[0.9]], [0.1], "1-D"),
    ],
)
def test_bad_scores_are_refused(target: list, impostor: list, message: str) -> None:
    for measure in (det_curve, equal_error_rate, lambda t, i: summarise(t, i, {})):
        with pytest.raises(ValueError, match=message):
            measure(target, impostor)


@pytest.mark.parametrize("limit", [-0.1, 1.5, math.nan])
def test_false_alarm_limit_outside_0_to_1_is_refused(limit: float) -> None:
    with pytest.raises(ValueError, match="max_false_alarm_rate"):
        threshold_for_false_alarm(TEN_IMPOSTORS, limit)


def test_det_plot_is_a_600_px_png_and_leaves_matplotlib_global_state_alone(tmp_path: Path) -> None:
    import matplotlib
    from PIL import Image

    backend_before = matplotlib.get_backend(auto_select=False)
    pyplot_before = "matplotlib.pyplot" in sys.modules
    clean = det_curve(*normal_scores(3.0, n=200_000))  # rates of 0 at both ends, 400 001 points
    telephone = det_curve(*normal_scores(1.5, n=2_000))
    path = tmp_path / "plots" / "voice" / "det.png"

    save_det_plot({"clean": clean[1:], "telephone": telephone[1:]}, path, "Voice",
                  operating_points={"same_voice": (0.001, 0.2), "soundalike": (0.0, 0.05)})

    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(path) as image:
        image.load()
        assert image.format == "PNG"
        assert image.size == (600, 600)
    assert matplotlib.get_backend(auto_select=False) == backend_before
    assert ("matplotlib.pyplot" in sys.modules) == pyplot_before
