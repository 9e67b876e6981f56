"""Voice scores normalised against a comparison population: adaptive s-norm, in every listening condition.

A raw cosine says how close a voice is to a voiceprint, but not how unusual that closeness is: some
voiceprints sit near many voices, some windows (noisy, narrowband, short) near every voiceprint. The
adaptive symmetric normalisation (Matějka et al., 2017) measures both against the population: for a
window ``w`` and a performer ``p`` with similarity ``x``,

    s = ½ · ((x − μ_p) / σ_p + (x − μ_w) / σ_w)

where ``μ_p, σ_p`` are the mean and deviation of the ``top_n`` highest similarities of p's voiceprint
to the population, and ``μ_w, σ_w`` those of the window. ``s`` is in deviations: about 0 for a typical
other voice, 3–10 for the performer's own recordings on clean speech.

The population ("cohort") is the configured and shipped recordings of people who are not enrolled plus
every other enrolled performer (never the performer being scored). Both sides are computed in each
listening condition (enrollment.conditions) against the voiceprint and cohort of that condition; a
window's score is the best condition's. Shapes: K conditions, P performers, C cohort voices, W windows,
D = 256.

A scan scores a file's few speaker turns against every performer (monitor.matching.voice_match), and its
windows only against the performers that matched or came closest (score_windows with columns), so a
gallery of 10,000 costs a few percent of a scan, not more than the scan itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW_CHUNK = 2048  # windows scored at once: bounds memory at W × P × K floats per chunk
# At most this many performers serve in the population (evenly spread over the gallery): past a few
# hundred voices the 50 closest barely change, and searching 10,000 of them for every window cost more
# than the rest of the matching (bench: +278 ms per 10-minute file and +1.3 s per command).
MAX_PERFORMERS_SERVING = 500
STD_FLOOR = 1e-3  # a population of identical scores must not divide by zero


@dataclass
class VoicePopulation:
    """Voiceprints and cohort in every condition, with each performer's population statistics.

    ``prints`` (K, P, D); ``cohort`` (K, C, D); ``serving`` (M,) the performers that serve in the
    population; ``others`` (K, C + M, D) the cohort then those performers; ``mean_p``, ``std_p`` (K, P):
    the top-n statistics of each performer against ``others`` (never itself); ``top_n`` is the adaptive n;
    ``known`` (K, P) bool: which conditions each voiceprint exists in; ``serving_position`` (P,): each
    performer's index in ``serving``, −1 for those who do not serve.
    """

    prints: np.ndarray
    cohort: np.ndarray
    serving: np.ndarray
    others: np.ndarray
    top_n: int
    mean_p: np.ndarray
    std_p: np.ndarray
    known: np.ndarray
    serving_position: np.ndarray


def build_population(prints: np.ndarray, cohort: np.ndarray, top_n: int,
                     cohort_mask: np.ndarray | None = None, known: np.ndarray | None = None) -> VoicePopulation:
    """Precompute each performer's statistics. ``cohort_mask`` (C,) bool: False rows are left out.
    ``known`` (K, P) bool: which conditions each voiceprint exists in (default: all)."""
    if cohort_mask is not None:
        cohort = cohort[:, cohort_mask]
    k, n_performers, _ = prints.shape
    serving = np.unique(np.linspace(0, n_performers - 1, min(n_performers, MAX_PERFORMERS_SERVING)).round()
                        .astype(np.int64)) if n_performers else np.zeros(0, np.int64)
    others = np.concatenate([cohort, prints[:, serving]], axis=1).astype(np.float32)
    own_column = np.full(n_performers, -1, np.int64)
    own_column[serving] = cohort.shape[1] + np.arange(len(serving))
    mean_p = np.zeros((k, n_performers), np.float32)
    std_p = np.ones((k, n_performers), np.float32)
    for condition in range(k):
        for start in range(0, n_performers, WINDOW_CHUNK):
            rows = np.arange(start, min(start + WINDOW_CHUNK, n_performers))
            similarity = prints[condition, rows] @ others[condition].T  # (rows, C + M)
            serves = own_column[rows] >= 0
            similarity[np.flatnonzero(serves), own_column[rows][serves]] = -np.inf  # never oneself
            mean_p[condition, rows], std_p[condition, rows] = _top_stats(similarity, top_n)
    known = np.ones(prints.shape[:2], bool) if known is None else known
    serving_position = np.where(own_column >= 0, own_column - cohort.shape[1], -1)
    return VoicePopulation(prints, cohort, serving, others, top_n, mean_p, std_p, known, serving_position)


def _top_stats(similarity: np.ndarray, top_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and deviation of each row's ``top_n`` largest finite values."""
    n = min(top_n, similarity.shape[1])
    if n == 0:
        return np.zeros(len(similarity), np.float32), np.ones(len(similarity), np.float32)
    top = np.partition(similarity, similarity.shape[1] - n, axis=1)[:, -n:]
    finite = np.isfinite(top)
    count = np.maximum(finite.sum(axis=1), 1)
    top = np.where(finite, top, 0.0)
    mean = top.sum(axis=1) / count
    variance = np.square(top).sum(axis=1) / count - np.square(mean)
    return mean.astype(np.float32), np.maximum(np.sqrt(np.maximum(variance, 0.0)), STD_FLOOR).astype(np.float32)


@dataclass
class WindowScores:
    """Normalised scores of W windows against n performers.

    ``score`` (W, n): the best condition's s-norm; ``condition`` (W, n) int8: which condition gave it;
    ``similarity`` (W, n): raw cosine to the clean voiceprint.
    """

    score: np.ndarray
    condition: np.ndarray
    similarity: np.ndarray


@dataclass
class _WindowSide:
    """One condition's window-side terms of the s-norm, written ``s = x · (a_p + a_w) + (b_p + b_w)`` with
    ``a = ½ / σ`` and ``b = −½ · μ / σ``: ``scale``, ``offset`` (W, 1) against a performer outside the
    population; ``own_scale``, ``own_offset`` (W, M) without each serving performer; ``own_similarity``
    (W, M) the windows against the serving performers, as the population saw them."""

    scale: np.ndarray
    offset: np.ndarray
    own_scale: np.ndarray
    own_offset: np.ndarray
    own_similarity: np.ndarray


def score_windows(windows: np.ndarray, population: VoicePopulation, columns: np.ndarray | None = None) -> WindowScores:
    """S-norm of every window (W, D) against the performers ``columns`` (n,) (default: all), best condition
    each. Holds (W, n) arrays: a scan scores its speakers' turns against every performer
    (monitor.matching.voice_match) and windows only against the few performers that matched or came closest."""
    columns = np.arange(population.prints.shape[1]) if columns is None else np.asarray(columns, np.int64)
    parts = []
    for start in range(0, len(windows), WINDOW_CHUNK):
        chunk = windows[start : start + WINDOW_CHUNK]
        best = condition_of_best = clean_similarity = None
        for condition, side in enumerate(_window_sides(chunk, population)):
            x = chunk @ population.prints[condition, columns].T
            score, similarity = _condition_scores(x, population, condition, side, columns)
            if condition == 0:
                best, condition_of_best, clean_similarity = score, np.zeros(score.shape, np.int8), similarity
            else:  # earlier conditions win ties
                better = score > best
                condition_of_best[better] = condition
                np.maximum(best, score, out=best)
        parts.append((best, condition_of_best, clean_similarity))
    if not parts:
        empty = np.zeros((0, len(columns)), np.float32)
        return WindowScores(empty, empty.astype(np.int8), empty)
    return WindowScores(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True)))


def _window_sides(windows: np.ndarray, population: VoicePopulation) -> list[_WindowSide]:
    """The windows' side of the s-norm in every condition (population.others: cohort then serving)."""
    sides = []
    n_cohort = population.cohort.shape[1]
    for condition in range(population.prints.shape[0]):
        similarity = windows @ population.others[condition].T  # (W, C + M)
        own_similarity = similarity[:, n_cohort:]
        sides.append(_WindowSide(*_window_side(similarity, own_similarity, population.top_n), own_similarity))
    return sides


def _condition_scores(x: np.ndarray, population: VoicePopulation, condition: int, side: _WindowSide,
                      columns: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The s-norm (W, n) and cosine (W, n) of windows against performers ``columns`` in one condition, from
    their cosines ``x`` (W, n), which it takes over (the serving performers' are set as the population's)."""
    scale_p, offset_p = performer_terms(population, condition, columns)
    score = side.scale + scale_p  # four passes over (W, n); kept few because they, not the product, dominate
    score *= x
    score += side.offset
    score += offset_p
    serving_at = population.serving_position[columns]
    inside = np.flatnonzero(serving_at >= 0)
    if inside.size:  # performers in the population: their own window side, and x as the population saw it
        at = serving_at[inside]
        x[:, inside] = side.own_similarity[:, at]  # the same values, bit for bit
        score[:, inside] = own_scores(side, at, scale_p[inside], offset_p[inside])
    if condition:  # a voiceprint made before this condition existed is not scored in it
        unknown = ~population.known[condition, columns]
        if unknown.any():
            score[:, unknown] = -np.inf
    return score, x


def performer_terms(population: VoicePopulation, condition: int,
                    columns: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The performers' side of the s-norm in ``condition``: ``(a_p, b_p)`` (n,) for ``columns``."""
    std = population.std_p[condition, columns]
    return 0.5 / std, -0.5 * population.mean_p[condition, columns] / std


def own_scores(side: _WindowSide, at: slice | np.ndarray, scale_p: np.ndarray, offset_p: np.ndarray) -> np.ndarray:
    """The s-norm (W, n) of the windows against serving performers, ``at`` their positions in ``serving``,
    with their terms ``scale_p``, ``offset_p`` (n,): from the cosines and own window sides already in ``side``."""
    return side.own_similarity[:, at] * (side.own_scale[:, at] + scale_p) + (side.own_offset[:, at] + offset_p)


def _window_side(similarity: np.ndarray, own: np.ndarray, top_n: int) -> tuple[np.ndarray, ...]:
    """Each window's s-norm terms ``a = ½ / σ``, ``b = −½ · μ / σ`` over the population, from its
    similarities (W, C + M) to it: ``(scale, offset)`` (W, 1) for a performer who is not in it, and
    ``(own_scale, own_offset)`` (W, M) without each of the M performers who are (``own`` (W, M): the
    windows' similarities to them).

    The top n + 1 are taken once per window. A serving performer among the top n is taken out and the
    next comes in; for the others, most pairs, the top n stand and so do the window's terms.
    """
    n = min(top_n, similarity.shape[1] - 1)
    if n <= 0:
        scale, offset = _snorm_terms(np.zeros((len(similarity), 1), np.float32), np.ones((len(similarity), 1)))
        return scale, offset, np.repeat(scale, own.shape[1], axis=1), np.repeat(offset, own.shape[1], axis=1)
    top = -np.sort(-np.partition(similarity, similarity.shape[1] - n - 1, axis=1)[:, -n - 1:], axis=1)  # desc
    sum_n, squares_n = top[:, :n].sum(axis=1, keepdims=True), np.square(top[:, :n]).sum(axis=1, keepdims=True)
    mean_n = sum_n / n
    scale, offset = _snorm_terms(mean_n, np.sqrt(np.maximum(squares_n / n - np.square(mean_n), 0.0)))
    rows, columns = np.nonzero(own >= top[:, n - 1 : n])  # the performer is among the top n (ties count as inside)
    own_scale, own_offset = np.repeat(scale, own.shape[1], axis=1), np.repeat(offset, own.shape[1], axis=1)
    inside, next_in = own[rows, columns], top[rows, n]
    mean = (sum_n[rows, 0] + next_in - inside) / n
    squares = squares_n[rows, 0] + np.square(next_in) - np.square(inside)
    own_scale[rows, columns], own_offset[rows, columns] = _snorm_terms(
        mean, np.sqrt(np.maximum(squares / n - np.square(mean), 0.0)))
    return scale, offset, own_scale, own_offset


def _snorm_terms(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(½ / σ, −½ · μ / σ)`` float32, σ floored at STD_FLOOR."""
    std = np.maximum(std, STD_FLOOR).astype(np.float32)
    return 0.5 / std, -0.5 * mean.astype(np.float32) / std


def population_rank(similarity: float, performer: int, condition: int, population: VoicePopulation) -> dict:
    """Where a similarity to ``performer``'s voiceprint falls among the other voices, in ``condition``.

    ``{"compared": N, "closer_than": k, "percentile": 100·k/N}``: the window is closer to the voiceprint
    than ``k`` of the ``N`` cohort voices and other performers are.
    """
    prints = population.prints[condition]
    others = np.concatenate([population.cohort[condition] @ prints[performer],
                             np.delete(prints @ prints[performer], performer)])
    return rank_among(similarity, others)


def rank_among(similarity: float, others: np.ndarray) -> dict:
    """``{"compared": N, "closer_than": k, "percentile": 100·k/N}``: ``similarity`` beats ``k`` of the
    ``N`` values of ``others`` (N,) (voices' or faces' similarities to the same performer)."""
    closer_than = int(np.sum(others < similarity))
    compared = len(others)
    return {"compared": compared, "closer_than": closer_than,
            "percentile": round(100.0 * closer_than / compared, 1) if compared else None}
