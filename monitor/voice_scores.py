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
    the top-n statistics of each performer against ``others`` (never itself); ``top_n`` is the adaptive n.
    """

    prints: np.ndarray
    cohort: np.ndarray
    serving: np.ndarray
    others: np.ndarray
    top_n: int
    mean_p: np.ndarray
    std_p: np.ndarray
    known: np.ndarray


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
    return VoicePopulation(prints, cohort, serving, others, top_n, mean_p, std_p, known)


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
    """Normalised scores of W windows against P performers.

    ``score`` (W, P): the best condition's s-norm; ``condition`` (W, P) int: which condition gave it;
    ``similarity`` (W, P): raw cosine to the clean voiceprint.
    """

    score: np.ndarray
    condition: np.ndarray
    similarity: np.ndarray


def score_windows(windows: np.ndarray, population: VoicePopulation) -> WindowScores:
    """S-norm of every window (W, D) against every performer, best condition each."""
    chunks = [_score_chunk(windows[i : i + WINDOW_CHUNK], population)
              for i in range(0, len(windows), WINDOW_CHUNK)]
    if not chunks:
        n_performers = population.prints.shape[1]
        empty = np.zeros((0, n_performers), np.float32)
        return WindowScores(empty, empty.astype(np.int64), empty)
    return WindowScores(*(np.concatenate(parts) for parts in zip(*chunks, strict=True)))


def _score_chunk(windows: np.ndarray, population: VoicePopulation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    serving, n_cohort = population.serving, population.cohort.shape[1]
    for condition in range(population.prints.shape[0]):
        similarity = windows @ population.others[condition].T  # (W, C + M)
        x = windows @ population.prints[condition].T  # (W, P): the windows against the performers themselves
        x[:, serving] = similarity[:, n_cohort:]  # the same values, bit for bit
        window_side = _window_side(similarity, x[:, serving], population.top_n)
        score = _snorm(x, population.mean_p[condition], population.std_p[condition], *window_side[:2])
        score[:, serving] = _snorm(x[:, serving], population.mean_p[condition, serving],
                                   population.std_p[condition, serving], *window_side[2:])
        if condition:  # a voiceprint made before this condition existed is not scored in it
            score[:, ~population.known[condition]] = -np.inf
        if condition == 0:  # a running best: (K, W, P) is never held, it is the bulk of a large gallery's cost
            clean_similarity, best, best_condition = x, score, np.zeros(score.shape, np.int8)
        else:
            better = score > best
            best_condition[better] = condition
            np.maximum(best, score, out=best)
    return best, best_condition, clean_similarity


def _snorm(x: np.ndarray, mean_p: np.ndarray, std_p: np.ndarray, mean_w: np.ndarray,
           std_w: np.ndarray) -> np.ndarray:
    """½ · ((x − μ_p) / σ_p + (x − μ_w) / σ_w) for x (W, n), performer sides (n,), window sides (W, 1) or (W, n)."""
    score = (x - mean_p) / std_p
    score += (x - mean_w) / std_w
    score *= 0.5
    return score.astype(np.float32, copy=False)


def _window_side(similarity: np.ndarray, own: np.ndarray, top_n: int) -> tuple[np.ndarray, ...]:
    """Each window's top-n statistics over the population: ``(mean, std)`` (W, 1) for a performer who is
    not in it, and ``(mean, std)`` (W, M) without each of the M performers who are (``own`` (W, M): the
    windows' similarities to them).

    The top n + 1 are taken once per window; a serving performer inside them is taken out, otherwise the
    top n stand.
    """
    n = min(top_n, similarity.shape[1] - 1)
    if n <= 0:
        rows = len(similarity)
        return (np.zeros((rows, 1), np.float32), np.ones((rows, 1), np.float32),
                np.zeros(own.shape, np.float32), np.ones(own.shape, np.float32))
    top = -np.sort(-np.partition(similarity, similarity.shape[1] - n - 1, axis=1)[:, -n - 1:], axis=1)  # desc
    sum_n, squares_n = top[:, :n].sum(axis=1, keepdims=True), np.square(top[:, :n]).sum(axis=1, keepdims=True)
    mean_n = sum_n / n
    std_n = np.sqrt(np.maximum(squares_n / n - np.square(mean_n), 0.0))
    inside = own >= top[:, n - 1 : n]  # the performer is among the top n (ties count as inside)
    total = np.where(inside, sum_n + top[:, n : n + 1] - own, sum_n)
    squares = np.where(inside, squares_n + np.square(top[:, n : n + 1]) - np.square(own), squares_n)
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - np.square(mean), 0.0))
    return (mean_n.astype(np.float32), np.maximum(std_n, STD_FLOOR).astype(np.float32),
            mean.astype(np.float32), np.maximum(std, STD_FLOOR).astype(np.float32))


def population_rank(similarity: float, performer: int, condition: int, population: VoicePopulation) -> dict:
    """Where a similarity to ``performer``'s voiceprint falls among the other voices, in ``condition``.

    ``{"compared": N, "closer_than": k, "percentile": 100·k/N}``: the window is closer to the voiceprint
    than ``k`` of the ``N`` cohort voices and other performers are.
    """
    prints = population.prints[condition]
    others = np.concatenate([population.cohort[condition] @ prints[performer],
                             np.delete(prints, performer, axis=0) @ prints[performer]])
    return rank_among(similarity, others)


def rank_among(similarity: float, others: np.ndarray) -> dict:
    """``{"compared": N, "closer_than": k, "percentile": 100·k/N}``: ``similarity`` beats ``k`` of the
    ``N`` values of ``others`` (N,) (voices' or faces' similarities to the same performer)."""
    closer_than = int(np.sum(others < similarity))
    compared = len(others)
    return {"compared": compared, "closer_than": closer_than,
            "percentile": round(100.0 * closer_than / compared, 1) if compared else None}
