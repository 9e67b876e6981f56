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

from dataclasses import replace

import numpy as np

from monitor.evaluation.trials import ModalityFiles

PREDICTED_ROSTER = 1000  # the roster a prediction is also given for: a large agency's


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


def per_file_summary(per_file: list[tuple[int | None, list[float]]], n_performers: int, n_extra: int,
                     thresholds: dict[str, float]) -> dict:
    """Rates per file (see the module docstring) from each trial file's best score per performer.

    ``per_file``: (the file's own performer column, None for a stranger; its best score against each of the
    ``n_performers`` columns, in the modality's units); ``thresholds``: operating point → threshold.
    Rates are None where there is no file of that kind.
    """
    genuine = [(own, np.asarray(best)) for own, best in per_file if own is not None]
    strangers = [np.asarray(best) for own, best in per_file if own is None]

    def share(hits: list[bool]) -> float | None:
        return round(float(np.mean(hits)), 4) if hits else None

    def others_best(own: int, best: np.ndarray) -> float:
        return float(np.delete(best, own).max()) if len(best) > 1 else -np.inf

    return {
        "performers": n_performers,
        "extra_performers": n_extra,
        "genuine_files": len(genuine),
        "stranger_files": len(strangers),
        "false_alarm_rate": {name: share([float(best.max()) >= t for best in strangers])
                             for name, t in thresholds.items()},
        "wrong_performer_rate": {name: share([others_best(own, best) >= t for own, best in genuine])
                                 for name, t in thresholds.items()},
        "recall": {name: share([float(best[own]) >= t for own, best in genuine]) for name, t in thresholds.items()},
    } | _predicted(strangers, n_performers, thresholds)


def _predicted(strangers: list[np.ndarray], n_performers: int, thresholds: dict[str, float]) -> dict:
    """``comparison_false_alarm_rate`` p per operating point, and the per-file rates ``1 - (1 - p)^P`` it predicts
    for this roster (``predicted_false_alarm_rate``) and for ``PREDICTED_ROSTER`` performers."""
    if not strangers:
        empty = dict.fromkeys(thresholds)
        return {"comparison_false_alarm_rate": empty, "predicted_false_alarm_rate": empty,
                f"predicted_false_alarm_rate_at_{PREDICTED_ROSTER}": empty}
    scores = np.concatenate(strangers)
    rates = {name: float(np.mean(scores >= t)) for name, t in thresholds.items()}
    return {
        "comparison_false_alarm_rate": {name: round(p, 5) for name, p in rates.items()},
        "predicted_false_alarm_rate": {name: round(1 - (1 - p) ** n_performers, 4) for name, p in rates.items()},
        f"predicted_false_alarm_rate_at_{PREDICTED_ROSTER}": {
            name: round(1 - (1 - p) ** PREDICTED_ROSTER, 4) for name, p in rates.items()},
    }
