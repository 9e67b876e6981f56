"""A file's voices against every performer, decided speaker by speaker and against the whole roster.

The windows are grouped into speakers' turns (monitor.matching.voice_turns), and each turn is scored as a
whole against every performer (s-norm against the population, monitor.matching.voice_scores). A performer
is detected when one turn's score reaches the tier's threshold: ``same_voice``'s is fixed (verification
grade); ``soundalike``'s is raised where needed so that a stranger's file of that many turns reaches it
against any of the roster's performers with a chance of at most ``voice.max_false_alarms_per_file``
(monitor.matching.voice_chance), up to ``same_voice``'s. The windows of the turns that reach
it are the detection's segments; every window's score against the performer is its curve (the alert's
picture), so timestamps stay those of the speaker's own windows.

Shapes: W windows, T turns, P performers, D = 256.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from enrollment.conditions import VOICE_CONDITIONS
from monitor.matching.gallery import (
    VOICE_TIERS,
    Calibration,
    Gallery,
    Match,
    ModalityResult,
    match_voice_windows,
    merge_segments,
    score_curve,
)
from monitor.matching.voice_chance import ChanceModel, chance_words
from monitor.matching.voice_scores import VoicePopulation, WindowScores, population_rank, score_windows
from monitor.matching.voice_turns import SpeakerTurns, speaker_turns


def turn_scores(windows: np.ndarray, population: VoicePopulation) -> tuple[SpeakerTurns, WindowScores]:
    """The file's turns and their scores against every performer: ``score``, ``condition``, ``similarity``
    (T, P). ``windows`` (W, D), W ≥ 1."""
    turns = speaker_turns(windows)
    return turns, score_windows(turns.embeddings, population)


def match_voice(windows: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, gallery: Gallery,
                calibration: Calibration, merge_gap_s: float, n_closest: int, same_voice_threshold: float = 1.0,
                chance: ChanceModel | None = None) -> ModalityResult:
    """Voice windows (W, D) with their times (W,) against every voiceprint of ``gallery``.

    With a population (``gallery.voice_population``) each speaker's turn is decided on its normalised score
    (the module's docstring): tier "same_voice" from ``same_voice_threshold`` (a score) on, "soundalike" below,
    from the calibrated threshold raised to ``chance``'s for the roster (None: not raised; roster_thresholds).
    Without one, window by window on the raw cosine (gallery.match_voice_windows).
    """
    if len(windows) == 0 or len(gallery.voice_ids) == 0:
        return ModalityResult([], [])
    if gallery.voice_population is None:
        return match_voice_windows(windows, start_s, end_s, gallery, calibration, merge_gap_s, n_closest)
    return match_voice_turns(windows, start_s, end_s, gallery, calibration, chance, merge_gap_s, n_closest,
                             same_voice_threshold)


def roster_thresholds(calibration: Calibration, same_voice_threshold: float, chance: ChanceModel | None,
                      comparisons: int) -> dict[str, float]:
    """Tier → the s-norm a turn must reach, for a file of ``comparisons`` (turns × performers).

    ``same_voice`` is verification grade: its calibrated threshold, whatever the roster. ``soundalike`` is its
    calibrated threshold raised to the chance threshold for the roster (``chance`` None: not raised), but never
    above ``same_voice``'s: a turn of verification grade is always a detection. Past the scores strangers were
    measured at, the chance model is an extrapolation, and it would otherwise ask a clean recording against
    10,000 performers for more than it scores.
    """
    same_voice = replace(calibration, threshold=same_voice_threshold).similarity_threshold
    at_chance = chance.threshold(comparisons) if chance is not None else -np.inf
    return {VOICE_TIERS[0]: same_voice,
            VOICE_TIERS[1]: max(calibration.similarity_threshold, min(at_chance, same_voice))}


def match_voice_turns(windows: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, gallery: Gallery,
                      calibration: Calibration, chance: ChanceModel | None, merge_gap_s: float, n_closest: int,
                      same_voice_threshold: float) -> ModalityResult:
    """Voice windows (W, D) with their times (W,) against every voiceprint of ``gallery`` (which has a
    population): matches (each with its tier, turn, chance and curve) and the ``n_closest`` performers."""
    population = gallery.voice_population
    turns, scored = turn_scores(windows, population)
    best_turn = np.argmax(scored.score, axis=0)  # (P,)
    decision = scored.score.max(axis=0)  # (P,)
    n_performers = len(decision)
    thresholds = roster_thresholds(calibration, same_voice_threshold, chance, len(turns) * n_performers)
    matched = np.flatnonzero(decision >= thresholds[VOICE_TIERS[1]])
    matched = matched[np.argsort(-decision[matched], kind="stable")]
    closest = np.argsort(-decision, kind="stable")[:n_closest]
    columns = np.union1d(matched, closest)
    window_scores = score_windows(windows, population, columns).score  # (W, n)
    column_of = {int(performer): index for index, performer in enumerate(columns)}
    matches = []
    for performer in matched:
        curve = calibration.score(window_scores[:, column_of[int(performer)]])
        in_turns = np.flatnonzero(scored.score[:, performer] >= thresholds[VOICE_TIERS[1]])
        segments = merge_segments(start_s, end_s, curve, np.isin(turns.turn_of_window, in_turns), merge_gap_s)
        turn = int(best_turn[performer])
        match = Match(int(gallery.voice_ids[performer]), "voice", float(calibration.score(decision[performer])),
                      float(scored.similarity[turn, performer]), segments)
        match.details = {"curve": score_curve((start_s + end_s) / 2, curve)}
        match.details |= _turn_details(turns, scored, turn, int(performer), thresholds, chance, population)
        matches.append(match)
    return ModalityResult(matches, [{
        "performer_id": int(gallery.voice_ids[performer]),
        "performer_name": gallery.names.get(int(gallery.voice_ids[performer])),
        "modality": "voice",
        "score": round(float(calibration.score(decision[performer])), 4),
        "similarity": round(float(scored.similarity[best_turn[performer], performer]), 4),
        "normalised_score": round(float(decision[performer]), 4),
    } for performer in closest])


def _turn_details(turns: SpeakerTurns, scored: WindowScores, turn: int, performer: int,
                  thresholds: dict[str, float], chance: ChanceModel | None, population: VoicePopulation) -> dict:
    """A voice detection's details (Detection.details): its tier, the turn it was decided on and how likely
    a stranger's file reaches its score by chance against the roster."""
    value = float(scored.score[turn, performer])
    condition = int(scored.condition[turn, performer])
    n_performers = scored.score.shape[1]
    similarity_in_condition = float(turns.embeddings[turn] @ population.prints[condition, performer])
    details = {
        "tier": VOICE_TIERS[0] if value >= thresholds[VOICE_TIERS[0]] else VOICE_TIERS[1],
        "normalised_score": round(value, 3),
        "condition": VOICE_CONDITIONS[condition],
        "population": population_rank(similarity_in_condition, performer, condition, population),
        "turn": {"windows": int(turns.windows[turn]), "turns": len(turns)},
    }
    if chance is not None:
        per_file = chance.per_file(value, len(turns) * n_performers)
        details["chance"] = {"per_file": float(f"{per_file:.3g}"), "performers": n_performers, "turns": len(turns),
                             "thresholds": {tier: round(at, 3) for tier, at in thresholds.items()},
                             "text": chance_words(per_file, n_performers, len(turns))}
    return details
