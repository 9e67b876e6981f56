"""``likeness eval --roster N``: false alarms per file at the roster size an agency has, not per comparison.

A scan compares every file with every performer, and a file raises a false alarm when *any* wrong
performer reaches a threshold; with hundreds of performers, a per-comparison rate of 0.5 % becomes a
per-file rate of tens of percent. ``--roster N`` enrols N people of the impostor folder as extra
performers (the first N labels in sorted order: each with its first files as references, as any
identity), leaving the other impostors as strangers to scan. Per transform, each trial file is then
judged as a scan judges it (a performer is detected when their best score reaches the threshold):

* ``false_alarm_rate``: the share of stranger files that raise a detection at the threshold, against
  anyone;
* ``wrong_performer_rate``: the share of genuine files that also raise one against someone other than
  their own performer;
* ``recall``: the share of genuine files whose own performer reaches the threshold.

Each is given per operating point (voice: ``same_voice`` and ``soundalike``, the latter being any
detection; face: ``default``). Beside them, what the per-comparison rate predicts if comparisons were
independent: a stranger's file against P performers raises a false alarm with probability
``1 - (1 - p)^P``, p being the share of (stranger file, performer) comparisons that reach the threshold;
the prediction is given for the roster measured (to check it) and for 1,000 performers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from monitor.evaluation.trials import ModalityFiles

PREDICTED_ROSTER = 1000  # the roster a prediction is also given for: a large agency's
# The stranger comparisons' tail is fitted over these s-norm scores (from where strangers come close to where
# few do), each reached by at least CHANCE_FIT_MIN_HITS comparisons.
CHANCE_FIT_SCORES = np.arange(1.0, 4.51, 0.25)
CHANCE_FIT_MIN_HITS = 5


def enrol_roster(files: ModalityFiles, roster: int) -> tuple[ModalityFiles, list[str]]:
    """``files`` with the first ``roster`` impostor labels (sorted) moved to the identities, and their names.

    An impostor label that is also an identity's name is renamed ``_roster/<label>`` to keep both. Fewer
    labels than asked: all but one are moved (some strangers must remain to measure false alarms).
    """
    labels = sorted({label for label, _path in files.impostors})
    chosen = labels[: max(0, min(roster, len(labels) - 1))]
    if not chosen:
        return files, []
    names = {label: label if label not in files.identities else f"_roster/{label}" for label in chosen}
    identities = {identity: list(paths) for identity, paths in files.identities.items()}
    for label, path in files.impostors:
        if label in names:
            identities.setdefault(names[label], []).append(path)
    strangers = [(label, path) for label, path in files.impostors if label not in names]
    return replace(files, identities=identities, impostors=strangers), [names[label] for label in chosen]


def per_file_summary(per_file: list[tuple[int | None, list[float], int]], n_performers: int, n_extra: int,
                     thresholds: dict[str, float],
                     roster_thresholds: Callable[[int, int], dict[str, float]] | None = None,
                     chance_center: float | None = None) -> dict:
    """Rates per file (see the module docstring) from each trial file's best score per performer.

    ``per_file``: (the file's own performer column, None for a stranger; its best score against each of the
    ``n_performers`` columns, in the modality's units; the speaker turns it was decided on); ``thresholds``:
    operating point → threshold per comparison; ``roster_thresholds``: (performers, turns) → the thresholds a
    scan decides a file with (None: ``thresholds``); ``chance_center``: the score the strangers' tail is fitted
    around (voice.calibration_center; None: no fit). Rates are None where there is no file of that kind.
    """
    def decided_by(performers: int, turns: int) -> dict[str, float]:
        return roster_thresholds(performers, turns) if roster_thresholds else thresholds

    genuine = [(own, np.asarray(best), decided_by(n_performers, turns)) for own, best, turns in per_file
               if own is not None]
    strangers = [(np.asarray(best), decided_by(n_performers, turns)) for own, best, turns in per_file if own is None]

    def share(hits: list[bool]) -> float | None:
        return round(float(np.mean(hits)), 4) if hits else None

    def others_best(own: int, best: np.ndarray) -> float:
        return float(np.delete(best, own).max()) if len(best) > 1 else -np.inf

    return {
        "performers": n_performers,
        "extra_performers": n_extra,
        "genuine_files": len(genuine),
        "stranger_files": len(strangers),
        "thresholds": {name: round(t, 3) for name, t in decided_by(n_performers, 1).items()},
        "false_alarm_rate": {name: share([float(best.max()) >= at[name] for best, at in strangers])
                             for name in thresholds},
        "wrong_performer_rate": {name: share([others_best(own, best) >= at[name] for own, best, at in genuine])
                                 for name in thresholds},
        "recall": {name: share([float(best[own]) >= at[name] for own, best, at in genuine]) for name in thresholds},
    } | _predicted([best for best, _at in strangers], n_performers, decided_by, chance_center)


def _predicted(strangers: list[np.ndarray], n_performers: int, decided_by: Callable[[int, int], dict[str, float]],
               chance_center: float | None) -> dict:
    """``comparison_false_alarm_rate`` p per operating point (at this roster's thresholds for a file of one turn),
    the per-file rates ``1 - (1 - p)^P`` it predicts for this roster (``predicted_false_alarm_rate``) and for
    ``PREDICTED_ROSTER`` performers (at their thresholds), and ``chance_fit``: the straight line through the
    log10 share of comparisons reaching each score around ``chance_center`` (monitor.matching.voice_chance), where
    they are enough (None without a center)."""
    here, large = decided_by(n_performers, 1), decided_by(PREDICTED_ROSTER, 1)
    if not strangers:
        empty = dict.fromkeys(here)
        return {"comparison_false_alarm_rate": empty, "predicted_false_alarm_rate": empty,
                f"predicted_false_alarm_rate_at_{PREDICTED_ROSTER}": empty, "chance_fit": None}
    scores = np.concatenate(strangers)

    def predicted(at: dict[str, float], performers: int) -> dict[str, float]:
        return {name: round(1 - (1 - float(np.mean(scores >= t))) ** performers, 4) for name, t in at.items()}

    return {
        "comparison_false_alarm_rate": {name: round(float(np.mean(scores >= t)), 5) for name, t in here.items()},
        "predicted_false_alarm_rate": predicted(here, n_performers),
        f"predicted_false_alarm_rate_at_{PREDICTED_ROSTER}": predicted(large, PREDICTED_ROSTER),
        "chance_fit": chance_fit(scores, chance_center) if chance_center is not None else None,
    }


def chance_fit(scores: np.ndarray, center: float) -> dict | None:
    """``{"at_center", "tenfold_snorm"}`` (voice.chance_at_center, voice.chance_tenfold_snorm): the line through
    log10 of the share of ``scores`` (stranger × performer comparisons) reaching each of CHANCE_FIT_SCORES, over
    the scores at least CHANCE_FIT_MIN_HITS comparisons reach; None with fewer than three such scores."""
    reached = np.array([np.sum(scores >= at) for at in CHANCE_FIT_SCORES])
    usable = reached >= CHANCE_FIT_MIN_HITS
    if usable.sum() < 3:
        return None
    slope, intercept = np.polyfit(CHANCE_FIT_SCORES[usable] - center, np.log10(reached[usable] / len(scores)), 1)
    if slope >= 0:
        return None
    return {"at_center": float(f"{10 ** intercept:.3g}"), "tenfold_snorm": round(float(-1 / slope), 3)}
