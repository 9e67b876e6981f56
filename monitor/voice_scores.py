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
STD_FLOOR = 1e-3  # a population of identical scores must not divide by zero


@dataclass
class VoicePopulation:
    """Voiceprints and cohort in every condition, with each performer's population statistics.

    ``prints`` (K, P, D); ``cohort`` (K, C, D); ``mean_p``, ``std_p`` (K, P): the top-n statistics of
    each performer against the cohort and the other performers; ``top_n`` is the adaptive n.
    """

    prints: np.ndarray
    cohort: np.ndarray
    top_n: int
    mean_p: np.ndarray
    std_p: np.ndarray

    @property
    def n_cohort(self) -> int:
        return self.cohort.shape[1]


def build_population(prints: np.ndarray, cohort: np.ndarray, top_n: int,
                     cohort_mask: np.ndarray | None = None) -> VoicePopulation:
    """Precompute each performer's statistics. ``cohort_mask`` (C,) bool: False rows are left out."""
    if cohort_mask is not None:
        cohort = cohort[:, cohort_mask]
    k, n_performers, _ = prints.shape
    mean_p = np.zeros((k, n_performers), np.float32)
    std_p = np.ones((k, n_performers), np.float32)
    for condition in range(k):
        for start in range(0, n_performers, WINDOW_CHUNK):
            rows = slice(start, min(start + WINDOW_CHUNK, n_performers))
            similarity = _against_population(prints[condition, rows], cohort[condition], prints[condition])
            own = np.arange(rows.start, rows.stop)
            similarity[np.arange(len(own)), cohort.shape[1] + own] = -np.inf  # never oneself
            mean_p[condition, rows], std_p[condition, rows] = _top_stats(similarity, top_n)
    return VoicePopulation(prints, cohort, top_n, mean_p, std_p)


def _against_population(vectors: np.ndarray, cohort: np.ndarray, prints: np.ndarray) -> np.ndarray:
    """(n, C + P) similarities of ``vectors`` (n, D) to the cohort then the performers."""
    return np.concatenate([vectors @ cohort.T, vectors @ prints.T], axis=1).astype(np.float32)


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
    n_cohort = population.n_cohort
    per_condition = []
    for condition in range(population.prints.shape[0]):
        prints = population.prints[condition]
        similarity = _against_population(windows, population.cohort[condition], prints)  # (W, C + P)
        x = similarity[:, n_cohort:]  # (W, P): the windows against the performers themselves
        mean_w, std_w = _top_stats_without_own(similarity, x, population.top_n)
        mean_p, std_p = population.mean_p[condition], population.std_p[condition]
        per_condition.append(0.5 * ((x - mean_p) / std_p + (x - mean_w) / std_w))
        if condition == 0:
            clean_similarity = x
    stacked = np.stack(per_condition)  # (K, W, P)
    best = stacked.argmax(axis=0)
    score = np.take_along_axis(stacked, best[None], axis=0)[0]
    return score.astype(np.float32), best, clean_similarity


def _top_stats_without_own(similarity: np.ndarray, own: np.ndarray, top_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Each window's top-n statistics over the population without performer p, for every p: (W, P) each.

    The top n + 1 are taken once per window; for a performer inside them, they lose that performer,
    otherwise the top n stand. ``own`` (W, P) is each window's similarity to each performer.
    """
    n = min(top_n, similarity.shape[1] - 1)
    if n <= 0:
        shape = own.shape
        return np.zeros(shape, np.float32), np.ones(shape, np.float32)
    top = -np.sort(-np.partition(similarity, similarity.shape[1] - n - 1, axis=1)[:, -n - 1:], axis=1)  # desc
    sum_n, squares_n = top[:, :n].sum(axis=1), np.square(top[:, :n]).sum(axis=1)
    sum_more, squares_more = sum_n + top[:, n], squares_n + np.square(top[:, n])
    inside = own >= top[:, n - 1 : n]  # the performer is among the top n (ties count as inside)
    total = np.where(inside, sum_more[:, None] - own, sum_n[:, None])
    squares = np.where(inside, squares_more[:, None] - np.square(own), squares_n[:, None])
    mean = total / n
    std = np.sqrt(np.maximum(squares / n - np.square(mean), 0.0))
    return mean.astype(np.float32), np.maximum(std, STD_FLOOR).astype(np.float32)


def population_rank(similarity: float, performer: int, condition: int, population: VoicePopulation) -> dict:
    """Where a similarity to ``performer``'s voiceprint falls among the other voices, in ``condition``.

    ``{"compared": N, "closer_than": k, "percentile": 100·k/N}``: the window is closer to the voiceprint
    than ``k`` of the ``N`` cohort voices and other performers are.
    """
    prints = population.prints[condition]
    others = np.concatenate([population.cohort[condition] @ prints[performer],
                             np.delete(prints, performer, axis=0) @ prints[performer]])
    closer_than = int(np.sum(others < similarity))
    compared = len(others)
    return {"compared": compared, "closer_than": closer_than,
            "percentile": round(100.0 * closer_than / compared, 1) if compared else None}
