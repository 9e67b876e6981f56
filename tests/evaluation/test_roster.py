"""``likeness eval --roster N``: impostors enrolled as extra performers, and false alarms counted per file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE
from monitor.evaluation.roster import chance_fit, enrol_roster, per_file_summary
from monitor.evaluation.trials import ModalityFiles

THRESHOLDS = {"same_voice": 5.0, "soundalike": 3.0}


def test_the_first_impostor_labels_become_performers_and_the_rest_stay_strangers() -> None:
    files = ModalityFiles(identities={"ada": [Path("ada/1.wav")]},
                          impostors=[("zed", Path("z.wav")), ("amy", Path("amy/1.wav")), ("amy", Path("amy/2.wav")),
                                     ("bob", Path("b.wav"))])

    enrolled, extra = enrol_roster(files, 2)

    assert extra == ["amy", "bob"]
    assert enrolled.identities == {"ada": [Path("ada/1.wav")], "amy": [Path("amy/1.wav"), Path("amy/2.wav")],
                                   "bob": [Path("b.wav")]}
    assert enrolled.impostors == [("zed", Path("z.wav"))]


def test_a_roster_never_takes_the_last_stranger_nor_hides_a_namesake() -> None:
    files = ModalityFiles(identities={"ada": [Path("ada/1.wav")]},
                          impostors=[("ada", Path("other-ada.wav")), ("bob", Path("b.wav"))])

    enrolled, extra = enrol_roster(files, 10)

    assert extra == ["_roster/ada"] and enrolled.impostors == [("bob", Path("b.wav"))]
    assert enrol_roster(files, 0) == (files, [])


def test_a_file_is_a_false_alarm_when_anyone_reaches_the_threshold() -> None:
    per_file = [
        (0, [9.0, 1.0, 0.0], 1),  # genuine, found at same_voice, nobody else
        (0, [4.0, 3.5, 0.0], 1),  # genuine, soundalike only, and a wrong performer at soundalike
        (1, [0.0, 2.0, 0.0], 1),  # genuine, missed
        (None, [1.0, 2.0, 3.2], 1),  # a stranger reaching soundalike against one performer
        (None, [1.0, 2.0, 2.9], 1),  # a stranger below every threshold
    ]

    summary = per_file_summary(per_file, n_performers=3, n_extra=1, thresholds=THRESHOLDS)

    assert summary == {
        "performers": 3, "extra_performers": 1, "genuine_files": 3, "stranger_files": 2,
        "thresholds": THRESHOLDS,
        "false_alarm_rate": {"same_voice": 0.0, "soundalike": 0.5},
        "wrong_performer_rate": {"same_voice": 0.0, "soundalike": 0.3333},
        "recall": {"same_voice": 0.3333, "soundalike": 0.6667},
        # 1 of the strangers' 6 comparisons reaches soundalike: 1 - (5/6)^3 for 3 performers
        "comparison_false_alarm_rate": {"same_voice": 0.0, "soundalike": 0.16667},
        "predicted_false_alarm_rate": {"same_voice": 0.0, "soundalike": 0.4213},
        "predicted_false_alarm_rate_at_1000": {"same_voice": 0.0, "soundalike": 1.0},
        "chance_fit": None,  # no center to fit strangers' tail around (and too few comparisons)
    }


def test_each_file_is_judged_at_the_thresholds_a_scan_uses_for_its_roster_and_speakers() -> None:
    def roster_thresholds(performers: int, turns: int) -> dict[str, float]:
        raised = 3.0 + 0.5 * (performers * turns > 3)
        return {"same_voice": max(5.0, raised), "soundalike": raised}

    per_file = [(None, [1.0, 2.0, 3.2], 1),  # one speaker: 3 comparisons, soundalike at 3.0
                (None, [1.0, 2.0, 3.2], 2)]  # two speakers: 6 comparisons, soundalike raised to 3.5

    summary = per_file_summary(per_file, n_performers=3, n_extra=0, thresholds=THRESHOLDS,
                               roster_thresholds=roster_thresholds)

    assert summary["false_alarm_rate"]["soundalike"] == 0.5
    assert summary["thresholds"] == {"same_voice": 5.0, "soundalike": 3.0}
    assert summary["comparison_false_alarm_rate"]["soundalike"] == pytest.approx(2 / 6, abs=1e-4)


def test_the_strangers_tail_is_fitted_as_the_chance_model_reads_it() -> None:
    # scores of which the share reaching s is 0.01 × 10^(−(s − 2.5) / 1.5): the fit gives back 0.01 and 1.5
    uniform = np.linspace(1e-6, 1.0, 400_000)
    scores = 2.5 - 1.5 * np.log10(uniform / 0.01)

    fit = chance_fit(scores, center=2.5)

    assert fit["at_center"] == pytest.approx(0.01, rel=0.05)
    assert fit["tenfold_snorm"] == pytest.approx(1.5, rel=0.05)


def test_rates_without_files_of_a_kind_are_none() -> None:
    summary = per_file_summary([(0, [9.0], 1)], n_performers=1, n_extra=0, thresholds=THRESHOLDS)

    assert summary["false_alarm_rate"] == {"same_voice": None, "soundalike": None}
    assert summary["predicted_false_alarm_rate_at_1000"] == {"same_voice": None, "soundalike": None}
    assert summary["wrong_performer_rate"] == {"same_voice": 0.0, "soundalike": 0.0}


@pytest.mark.slow
def test_eval_with_a_roster_reports_per_file_rates_for_that_many_performers(likeness, make_speech, tmp_path) -> None:
    root = tmp_path / "agency"
    for folder in ("ada", "bob", "_impostors"):
        (root / folder).mkdir(parents=True)
    for name, voice_name in (("ada", PERFORMER_VOICE), ("bob", OTHER_VOICE)):
        for text in range(4):
            make_speech(f"agency/{name}/clip{text}", voice=voice_name, texts=(text,))
    for label, voice_name in (("cat", "en+f2"), ("dan", "en+m3"), ("eve", "en+f5")):
        make_speech(f"agency/_impostors/{label}", voice=voice_name, texts=(0,))

    result = likeness("eval", root, "--roster", "2", "--plot-dir", tmp_path, "--json")

    assert result.exit_code == 0, result.stderr
    [voice] = result.json["results"]
    assert voice["identities"] == 4
    per_file = voice["per_file"]
    assert (per_file["performers"], per_file["extra_performers"]) == (4, 2)
    assert (per_file["genuine_files"], per_file["stranger_files"]) == (2, 1)
    assert set(per_file["recall"]) == set(per_file["false_alarm_rate"]) == {"same_voice", "soundalike"}
    # a scan against 4 performers raises soundalike above its own 2.5; same_voice stays verification grade
    thresholds = per_file["thresholds"]
    assert 2.5 < thresholds["soundalike"] <= thresholds["same_voice"] == pytest.approx(4.463, abs=1e-3)
    table = likeness("eval", root, "--roster", "2", "--plot-dir", tmp_path)
    assert "4 performers enrolled (2 of them from the impostors)" in table.stdout
