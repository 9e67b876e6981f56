"""Voice scores against a population: s-norm as defined, never against oneself, best condition wins."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.matching.voice_scores import build_population, population_rank, score_windows


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=-1, keepdims=True)).astype(np.float32)


def _snorm_by_hand(window: np.ndarray, performer: int, prints: np.ndarray, cohort: np.ndarray, top_n: int) -> float:
    """The textbook formula for one condition, with loops: the specification the vectorised code meets."""
    others = np.concatenate([cohort, np.delete(prints, performer, axis=0)])
    x = float(window @ prints[performer])
    side_p = np.sort(others @ prints[performer])[-top_n:]
    side_w = np.sort(others @ window)[-top_n:]
    return 0.5 * ((x - side_p.mean()) / side_p.std() + (x - side_w.mean()) / side_w.std())


@pytest.fixture
def voices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    prints = _unit(rng.normal(size=(1, 5, 32)))  # one condition, 5 performers, 32-d
    cohort = _unit(rng.normal(size=(1, 40, 32)))
    windows = _unit(prints[0, [0, 0, 3]] + 0.1 * rng.normal(size=(3, 32)))  # two of performer 0, one of 3
    return prints, cohort, windows


def test_scores_are_the_adaptive_s_norm_against_cohort_and_other_performers(voices) -> None:
    prints, cohort, windows = voices
    scores = score_windows(windows, build_population(prints, cohort, top_n=10))

    for w in range(3):
        for p in range(5):
            expected = _snorm_by_hand(windows[w], p, prints[0], cohort[0], 10)
            assert scores.score[w, p] == pytest.approx(expected, abs=1e-3)
    assert scores.similarity == pytest.approx(windows @ prints[0].T, abs=1e-6)


def test_a_performer_is_never_part_of_their_own_population(voices) -> None:
    prints, cohort, windows = voices
    scores = score_windows(windows, build_population(prints, cohort, top_n=3))

    # performer 0's own windows are far closer to 0 than to anyone: with 0 in the population they would
    # raise its window-side mean and lower their own score
    assert scores.score[0, 0] == pytest.approx(_snorm_by_hand(windows[0], 0, prints[0], cohort[0], 3), abs=1e-3)
    assert scores.score[:2].argmax(axis=1).tolist() == [0, 0] and scores.score[2].argmax() == 3


def test_left_out_cohort_members_do_not_count(voices) -> None:
    prints, cohort, windows = voices
    keep = np.arange(40) >= 10
    masked = score_windows(windows, build_population(prints, cohort, 10, cohort_mask=keep))
    smaller = score_windows(windows, build_population(prints, cohort[:, 10:], 10))

    assert masked.score == pytest.approx(smaller.score, abs=1e-5)


def test_the_best_listening_condition_gives_the_score() -> None:
    rng = np.random.default_rng(3)
    clean = _unit(rng.normal(size=(4, 32)))
    shifted = _unit(clean + 1.5 * _unit(rng.normal(size=(1, 32))))  # another condition moves every voice
    cohort = _unit(rng.normal(size=(60, 32)))
    cohort_shifted = _unit(cohort + 1.5 * _unit(rng.normal(size=(1, 32))))
    population = build_population(np.stack([clean, shifted]), np.stack([cohort, cohort_shifted]), top_n=10)
    heard_shifted = _unit(shifted[[2]] + 0.3 * rng.normal(size=(1, 32)))

    scores = score_windows(heard_shifted, population)

    assert scores.score[0].argmax() == 2 and scores.condition[0, 2] == 1


def test_population_rank_counts_the_other_voices_farther_away(voices) -> None:
    prints, cohort, _ = voices
    population = build_population(prints, cohort, top_n=10)
    others = np.concatenate([cohort[0] @ prints[0, 1], np.delete(prints[0], 1, axis=0) @ prints[0, 1]])

    rank = population_rank(float(np.median(others)), 1, 0, population)

    assert rank["compared"] == 44 and rank["closer_than"] == 22 and rank["percentile"] == 50.0
    assert population_rank(1.0, 1, 0, population)["closer_than"] == 44


def test_no_windows_give_empty_scores(voices) -> None:
    prints, cohort, _ = voices
    scores = score_windows(np.zeros((0, 32), np.float32), build_population(prints, cohort, 10))

    assert scores.score.shape == (0, 5)


@pytest.mark.slow
def test_recordings_added_to_the_cohort_are_embedded_once_and_counted(likeness, make_speech, tmp_path) -> None:
    from monitor.demo.synthetic import OTHER_VOICE
    from monitor.matching.voice_cohort import shipped_voice_cohort

    folder = tmp_path / "population"
    folder.mkdir()
    make_speech("a", voice=OTHER_VOICE, texts=(1,)).rename(folder / "a.wav")
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")

    first = likeness("cohort", "add", folder, "--json")
    again = likeness("cohort", "add", folder, "--json")
    listed = likeness("cohort", "list", "--json")

    assert first.exit_code == 0 and [row["added"] for row in first.json] == [True, False]
    assert "broken.wav" in first.json[1]["file"] and first.json[1]["reason"]
    assert again.json[0]["reason"] == "already in the cohort"
    assert listed.json["voice"]["added"] == 1 and listed.json["voice"]["shipped"] == len(shipped_voice_cohort()) > 100


@pytest.mark.slow
def test_a_configured_cohort_folder_is_embedded_at_a_scans_start_and_only_once(likeness, home, make_speech,
                                                                               tmp_path) -> None:
    from monitor.demo.synthetic import OTHER_VOICE

    folder = tmp_path / "voices"
    folder.mkdir()
    make_speech("b", voice=OTHER_VOICE, texts=(2,)).rename(folder / "b.wav")
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(f'[voice]\ncohort_dir = "{folder}"\n')
    target = make_speech("found", voice=OTHER_VOICE, texts=(1,))

    assert likeness("scan", target, "--json").exit_code == 0
    assert likeness("scan", target, "--json").exit_code == 0

    assert likeness("cohort", "list", "--json").json["voice"]["added"] == 1


def test_a_large_gallery_lends_only_a_spread_of_its_performers_to_the_population(voices, monkeypatch) -> None:
    from monitor.matching import voice_scores

    prints, cohort, windows = voices
    monkeypatch.setattr(voice_scores, "MAX_PERFORMERS_SERVING", 3)
    population = build_population(prints, cohort, top_n=10)
    scores = score_windows(windows, population)

    assert population.serving.tolist() == [0, 2, 4]
    for p in range(5):  # performers 1 and 3 are scored like anyone, against the cohort and 0, 2, 4
        others = np.concatenate([cohort[0], prints[0, [q for q in (0, 2, 4) if q != p]]])
        x = float(windows[2] @ prints[0, p])
        side_p, side_w = np.sort(others @ prints[0, p])[-10:], np.sort(others @ windows[2])[-10:]
        expected = 0.5 * ((x - side_p.mean()) / side_p.std() + (x - side_w.mean()) / side_w.std())
        assert scores.score[2, p] == pytest.approx(expected, abs=1e-3)


def test_a_voiceprint_made_before_a_condition_existed_is_never_scored_in_it() -> None:
    rng = np.random.default_rng(5)
    prints = _unit(rng.normal(size=(2, 4, 32)))
    prints[1, 2] = prints[0, 2]  # performer 2's clean print fills the slot of a condition it lacks
    known = np.ones((2, 4), bool)
    known[1, 2] = False
    windows = _unit(prints[0, [2, 2]] + 0.05 * rng.normal(size=(2, 32)))

    scores = score_windows(windows, build_population(prints, _unit(rng.normal(size=(2, 30, 32))), 10, known=known))

    assert (scores.condition[:, 2] == 0).all()


def test_scoring_some_performers_gives_their_columns_of_scoring_them_all(monkeypatch) -> None:
    from monitor.matching import voice_scores

    rng = np.random.default_rng(11)
    prints = _unit(np.abs(rng.normal(size=(3, 300, 32))))
    known = rng.random((3, 300)) > 0.2
    known[0] = True
    windows = _unit(np.abs(rng.normal(size=(9, 32))))
    monkeypatch.setattr(voice_scores, "MAX_PERFORMERS_SERVING", 40)  # some performers serve, most do not
    population = build_population(prints, _unit(np.abs(rng.normal(size=(3, 50, 32)))), 10, known=known)

    some = np.array([299, 0, 17])
    assert score_windows(windows, population, some).score == pytest.approx(
        score_windows(windows, population).score[:, some], rel=1e-5, abs=1e-4)
