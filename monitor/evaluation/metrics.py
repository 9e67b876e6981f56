"""Detection-error measures from two score arrays: genuine (``target``) and different-person (``impostor``) trials.

Scores are any finite floats where higher means "more likely the same person" (calibrated scores in [0, 1]
or raw similarities). A trial is accepted when ``score >= threshold``. All rates are shares in [0, 1]:
the false-alarm rate is the share of impostor trials accepted, the miss rate the share of target trials
rejected. Everything is vectorised with numpy (sorting plus ``np.searchsorted``): 10⁶ trials take well
under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

# floor(rate × n) on floats: 0.29 × 100 is 28.999999999999996, and must allow 29 trials.
_COUNT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ErrorRates:
    false_alarm_rate: float  # share of impostor trials at or above the threshold, 0..1
    miss_rate: float  # share of target trials below the threshold, 0..1

    @property
    def recall(self) -> float:
        """Share of target trials at or above the threshold, 0..1."""
        return 1.0 - self.miss_rate


def _scores(values: ArrayLike, kind: str) -> np.ndarray:
    """``values`` as a 1-D float64 array, shape (n,) with n ≥ 1; ValueError when empty, not 1-D or not finite."""
    scores = np.asarray(values, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"{kind} scores must be a 1-D array, got shape {scores.shape}")
    if scores.size == 0:
        raise ValueError(f"no {kind} trials")
    if np.isnan(scores).any():
        raise ValueError(f"{kind} scores contain NaN")
    if not np.isfinite(scores).all():
        raise ValueError(f"{kind} scores contain infinite values")
    return scores


def _rate_limit(max_false_alarm_rate: float) -> float:
    rate = float(max_false_alarm_rate)
    if not 0.0 <= rate <= 1.0:  # also rejects NaN
        raise ValueError(f"max_false_alarm_rate must be between 0 and 1, got {max_false_alarm_rate!r}")
    return rate


def rates_at(target: ArrayLike, impostor: ArrayLike, threshold: float) -> ErrorRates:
    """False-alarm and miss rates (0..1) when every trial with ``score >= threshold`` is accepted."""
    target, impostor = _scores(target, "target"), _scores(impostor, "impostor")
    return ErrorRates(false_alarm_rate=float(np.mean(impostor >= threshold)),
                      miss_rate=float(np.mean(target < threshold)))


def det_curve(target: ArrayLike, impostor: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The detection-error trade-off: ``(thresholds, false_alarm_rate, miss_rate)``, three arrays of shape (m,).

    The thresholds are every distinct score of both sets, ascending, plus one just above the highest score
    (nothing accepted: false-alarm rate 0, miss rate 1), so m ≤ n_target + n_impostor + 1 and the curve
    always runs from (FA 1, miss 0) to (FA 0, miss 1). Along it the false-alarm rate never rises and the
    miss rate never falls.
    """
    target, impostor = np.sort(_scores(target, "target")), np.sort(_scores(impostor, "impostor"))
    scores = np.unique(np.concatenate([target, impostor]))
    thresholds = np.append(scores, np.nextafter(scores[-1], np.inf))
    # side="left" counts the scores strictly below each threshold: exactly the rejected ones. Accepted
    # counts are divided directly (not 1 − rejected share) so that 5 of 5000 is exactly 0.001.
    false_alarm = (impostor.size - np.searchsorted(impostor, thresholds, side="left")) / impostor.size
    miss = np.searchsorted(target, thresholds, side="left") / target.size
    return thresholds, false_alarm, miss


def equal_error_rate(target: ArrayLike, impostor: ArrayLike) -> tuple[float, float]:
    """``(eer, threshold)``: the rate (0..1) where false alarms and misses are equal, and the threshold there.

    The crossing is interpolated linearly between the two DET points around it (no convex hull); the
    threshold is interpolated the same way. Perfectly separated sets give 0.0, identical ones 0.5.
    """
    thresholds, false_alarm, miss = det_curve(target, impostor)
    gap = false_alarm - miss  # starts at 1 (accept all), ends at -1 (accept none), never rises
    i = int(np.argmax(gap <= 0.0))  # first point at or past the crossing; i ≥ 1 because gap[0] = 1
    before, after = gap[i - 1], gap[i]
    share = before / (before - after)  # 0..1 of the way from point i-1 to point i
    fa = false_alarm[i - 1] + share * (false_alarm[i] - false_alarm[i - 1])
    ms = miss[i - 1] + share * (miss[i] - miss[i - 1])
    threshold = thresholds[i - 1] + share * (thresholds[i] - thresholds[i - 1])
    return float((fa + ms) / 2.0), float(threshold)


def threshold_for_false_alarm(impostor: ArrayLike, max_false_alarm_rate: float) -> float:
    """The lowest threshold whose false-alarm rate is at most ``max_false_alarm_rate`` (0..1).

    Where k = ⌊rate × n_impostor⌋ impostor trials may be accepted, that is the next float above the
    (k+1)-th highest impostor score: the threshold rejects that score and everything below it, and no
    lower threshold does. ``-inf`` when the limit allows every impostor trial (rate 1).
    """
    impostor = np.sort(_scores(impostor, "impostor"))
    allowed = int(np.floor(_rate_limit(max_false_alarm_rate) * impostor.size + _COUNT_TOLERANCE))
    if allowed >= impostor.size:
        return float("-inf")
    return float(np.nextafter(impostor[impostor.size - 1 - allowed], np.inf))


def recall_at_false_alarm(target: ArrayLike, impostor: ArrayLike, max_false_alarm_rate: float) -> tuple[float, float]:
    """``(recall, threshold)``: the highest recall (0..1) with a false-alarm rate at most ``max_false_alarm_rate``.

    Recall never rises with the threshold, so the best one is at :func:`threshold_for_false_alarm`.
    """
    target = _scores(target, "target")
    threshold = threshold_for_false_alarm(impostor, max_false_alarm_rate)
    return float(np.mean(target >= threshold)), threshold


@dataclass
class Summary:
    """Detection quality of one modality under one transform."""

    n_target: int
    n_impostor: int
    eer: float  # 0..1
    eer_threshold: float  # in score units
    recall_at_1pct_fa: float  # 0..1
    at_thresholds: dict[str, ErrorRates] = field(default_factory=dict)  # named operating points

    def as_json(self) -> dict:
        """Plain ints and floats (rounded to 5 decimals); each operating point as ``{"false_alarm_rate", "recall"}``."""
        return {
            "n_target": int(self.n_target),
            "n_impostor": int(self.n_impostor),
            "eer": round(float(self.eer), 5),
            "eer_threshold": round(float(self.eer_threshold), 5),
            "recall_at_1pct_fa": round(float(self.recall_at_1pct_fa), 5),
            "at_thresholds": {
                name: {"false_alarm_rate": round(float(rates.false_alarm_rate), 5),
                       "recall": round(float(rates.recall), 5)}
                for name, rates in self.at_thresholds.items()
            },
        }


def summarise(target: ArrayLike, impostor: ArrayLike, thresholds: dict[str, float]) -> Summary:
    """EER, recall at 1 % false alarms and the rates at each named threshold (e.g. ``{"same_voice": 0.8}``)."""
    target, impostor = _scores(target, "target"), _scores(impostor, "impostor")
    eer, eer_threshold = equal_error_rate(target, impostor)
    recall, _ = recall_at_false_alarm(target, impostor, 0.01)
    return Summary(
        n_target=int(target.size),
        n_impostor=int(impostor.size),
        eer=eer,
        eer_threshold=eer_threshold,
        recall_at_1pct_fa=recall,
        at_thresholds={name: rates_at(target, impostor, float(value)) for name, value in thresholds.items()},
    )
