"""Long and multi-speaker media: a performer speaking briefly among other voices is found, at the right time.

The voices are scored window by window (about 3 s of speech each), never averaged over the file, so a
performer's 15 s in a 10-minute conversation stands out as it would alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enrollment.media import SAMPLE_RATE_HZ, decode_audio
from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise, write_audio
from tests.support.paths import SHARED_DATA

pytestmark = pytest.mark.slow

PAUSE = np.zeros(int(0.3 * SAMPLE_RATE_HZ), np.float32)  # a short turn-taking pause between speakers


def _conversation(others: list[np.ndarray], performer: np.ndarray, total_s: float, at_s: float) -> np.ndarray:
    """Other speakers' turns one after another for ``total_s``, the performer's turn starting at ``at_s``."""
    before, after, length = [], [], 0
    turns = iter(others * 100)
    while length < at_s * SAMPLE_RATE_HZ:
        before += [next(turns), PAUSE]
        length += before[-2].size + PAUSE.size
    head = np.concatenate(before)[: int(at_s * SAMPLE_RATE_HZ)]
    while length + performer.size < total_s * SAMPLE_RATE_HZ:
        after += [next(turns), PAUSE]
        length += after[-2].size + PAUSE.size
    return np.concatenate([head, PAUSE, performer, PAUSE, *after]).astype(np.float32)


def _voice_detections(likeness, target: Path) -> dict[int, dict]:
    scanned = likeness("scan", target, "--json")
    assert scanned.exit_code == 0, scanned.stderr
    [row] = scanned.json
    return {d["performer_id"]: d for d in row["detections"] if d["modality"] == "voice"}


@pytest.mark.shared_data
def test_fifteen_seconds_of_a_performer_in_ten_minutes_of_other_speakers(likeness, make_performer, tmp_path) -> None:
    speakers = sorted((SHARED_DATA / "voices" / "speakers").iterdir())
    own = sorted(speakers[0].glob("*.flac"), key=lambda path: -path.stat().st_size)  # longest first: references
    limits = load_config(tmp_path).media
    performer = make_performer("Reader One", voice=own[:3])
    bystander = make_performer("Reader Two", voice=sorted(speakers[1].glob("*.flac"),
                                                          key=lambda path: -path.stat().st_size)[:3])
    cohort = [decode_audio(path, limits) for path in sorted((SHARED_DATA / "voices" / "cohort").glob("*.flac"))[:60]]
    turn = np.concatenate([decode_audio(path, limits) for path in own[3:6]])[: 15 * SAMPLE_RATE_HZ]
    at_s = 312.0
    podcast = write_audio(tmp_path / "podcast.wav", _conversation(cohort, turn, total_s=600, at_s=at_s))

    found = _voice_detections(likeness, podcast)

    assert set(found) == {performer}, found  # and not Reader Two, who never speaks
    [segment] = found[performer]["segments"]  # the performer's turn, and no stray window of someone else
    start_s, end_s = at_s + PAUSE.size / SAMPLE_RATE_HZ, at_s + (PAUSE.size + turn.size) / SAMPLE_RATE_HZ
    assert segment["start_s"] == pytest.approx(start_s, abs=2.0)
    assert segment["end_s"] == pytest.approx(end_s, abs=2.0)
    assert found[performer]["tier"] == "same_voice" and bystander not in found


def test_a_synthetic_performer_is_found_between_other_voices(likeness, make_performer, tmp_path) -> None:
    performer = make_performer("Ada Voice", voice=[write_audio(tmp_path / "ref.wav", np.concatenate(
        [synthesise(TEXTS[i], PERFORMER_VOICE) for i in (0, 1)]))])
    others = [synthesise(TEXTS[i], OTHER_VOICE) for i in (1, 2)]
    turn = synthesise(TEXTS[3], PERFORMER_VOICE)
    at_s = 40.0
    talk = write_audio(tmp_path / "talk.wav", _conversation(others, turn, total_s=90, at_s=at_s))

    [segment] = _voice_detections(likeness, talk)[performer]["segments"]

    pause_s = PAUSE.size / SAMPLE_RATE_HZ
    assert segment["start_s"] == pytest.approx(at_s + pause_s, abs=2.0)
    assert segment["end_s"] == pytest.approx(at_s + pause_s + turn.size / SAMPLE_RATE_HZ, abs=2.0)
