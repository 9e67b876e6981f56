"""Which performers a scan must score exactly: every one whose best s-norm over a file's windows reaches the
threshold, and the closest few. What makes a gallery of 10,000 cost a few percent of a scan.

Scoring every window against every voiceprint exactly, in every listening condition, costs more than
the rest of the matching at that size. Each performer's best score is first bounded from above in one
cheap pass. Only those whose bound can matter are then scored exactly (voice_scores.score_windows). The
bound is proven, so the answer is exact, never an approximation: a performer left out could not have
reached the threshold or the closest.

The cheap pass, where the processor has int8 dot-product instructions (AVX-512 VNNI, AVX-VNNI, AMX):

- Windows and voiceprints are quantised to 8 bits, row by row, and multiplied into exact int32 sums:
  2.3× faster than bfloat16 and 4.5× faster than float32 on the benchmark machine. Windows use 256
  levels, since the encoder's ReLU leaves them non-negative; voiceprints use ±127.
- ``|w·p − ŵ·p̂| ≤ ‖w‖·‖p − p̂‖ + ‖w − ŵ‖·‖p̂‖`` (Cauchy–Schwarz). Each row's quantisation error is
  known, so the bound is about 0.017 for unit vectors of 256.
- The s-norm ``x·(a_w + a_p) + b_w + b_p`` grows with the cosine x (a = ½/σ > 0). The s-norm of the
  largest cosine the product allows therefore bounds the score. monitor.matching.screening_kernel computes it
  and each performer's maximum in one pass over the products.

Performers who serve in the population are scored exactly; their cosines are already in the window sides.
In galleries under MIN_PERFORMERS_SCREENED, or without those instructions, the bound is each performer's
exact float32 best (voice_scores.best_per_performer).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
import uuid
import weakref
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from monitor.matching.voice_scores import (
    CACHED_SCORES,
    FLOAT32_ERROR,
    WINDOW_CHUNK,
    VoicePopulation,
    WindowSides,
    best_per_performer,
    own_scores,
    performer_terms,
    score_windows,
    window_sides,
)

MIN_PERFORMERS_SCREENED = 500  # below this the float32 scores cost too little to be worth a second pass
SCORE_SLACK = 1e-3  # s-norm units: covers the float32 rounding of the bounds and of the exact scores (< 10³)
WINDOW_LEVELS = 255  # non-negative windows: 0 … 255, stored as −128 … 127
PRINT_LEVELS = 127  # voiceprints, whatever their sign: −127 … 127


@dataclass
class QuantisedPrints:
    """The voiceprints (K, P, D) on 8 bits, row by row, with what the pass needs of each performer, (K, P):

    ``values`` int8 (K, P, D) with ``p̂ = scale · values``, in memory or mapped from ``path`` (share);
    ``scale`` float32; ``error`` ‖p − p̂‖ and ``norm`` ‖p̂‖, float32 rounded up; ``shifted_sums`` int32,
    128 × the sum of each row's values (what windows stored 128 lower add to each product); ``slope`` a_p
    and ``intercept`` b_p of the s-norm, float32, the intercept −inf in a condition the voiceprint lacks.
    """

    values: np.ndarray
    scale: np.ndarray
    error: np.ndarray
    norm: np.ndarray
    shifted_sums: np.ndarray
    slope: np.ndarray
    intercept: np.ndarray
    path: Path | None = None

    def __getstate__(self) -> dict:  # shared: the receiver maps the same file
        return self.__dict__ | {"values": None} if self.path else self.__dict__

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.path:
            self.values = np.load(self.path, mmap_mode="c")  # copy on write, never written: shared pages


def prepare(population: VoicePopulation) -> None:
    """Make now what candidate_columns would make on first use (the quantised prints, where they serve): a
    command's or a worker's start-up cost, not its first file's."""
    if _screened(population):
        _quantised_prints(population)


def share(population: VoicePopulation) -> None:
    """Map the population's 8-bit prints, where it has them, from a file that lives as long as they do (in a
    temporary folder this process removes at exit), so that the processes it is sent to (analysis workers)
    map the same pages instead of each holding a copy.

    Two workers streaming one copy through the processor's shared cache made 10,000 performers cost a pool
    about 2 % of its CPU instead of about 4 % (bench.pool_throughput).
    """
    prints = population.screening
    if prints is None or prints.path is not None:
        return
    path = _scratch_directory() / f"voiceprints-{uuid.uuid4().hex}.npy"
    np.save(path, prints.values)
    prints.values, prints.path = np.load(path, mmap_mode="c"), path
    weakref.finalize(prints, _remove, path, os.getpid())  # a scheduler reloads its gallery: no file per reload


def _remove(path: Path, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # a forked child dropping its copy must not remove its parent's file
        path.unlink(missing_ok=True)


@functools.cache
def _scratch_directory() -> Path:
    directory = Path(tempfile.mkdtemp(prefix="likeness-screening-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def candidate_columns(windows: np.ndarray, population: VoicePopulation, threshold: float, n_closest: int,
                      sides: WindowSides | None = None) -> np.ndarray:
    """The performers (n,) int64 ascending among whom are every one whose best s-norm over the windows
    (W, D) reaches ``threshold`` and the ``n_closest`` best: what score_windows must then score exactly.

    Kept: every performer whose upper bound reaches the threshold, and the closest. These are found by
    scoring exactly in order of upper bound, until no bound left can beat the n-th best exact score.
    """
    n_performers = population.prints.shape[1]
    if n_performers == 0 or len(windows) == 0:
        return np.zeros(0, np.int64)
    sides = sides or window_sides(windows, population)
    upper = upper_bounds(windows, population, sides)
    kept = upper >= threshold
    order = np.argsort(-upper, kind="stable")
    n_closest = min(n_closest, n_performers)
    exact = np.zeros(0, np.float32)
    for start in range(0, n_performers, max(2 * n_closest, 1)):
        if len(exact) >= n_closest and (n_closest == 0 or np.sort(exact)[-n_closest] > upper[order[start]]):
            break  # no performer left can be among the closest
        batch = order[start : start + 2 * n_closest]
        exact = np.concatenate([exact, score_windows(windows, population, batch, sides).score.max(axis=0)])
    kept[order[: len(exact)]] = True
    return np.flatnonzero(kept)


def upper_bounds(windows: np.ndarray, population: VoicePopulation, sides: WindowSides) -> np.ndarray:
    """(P,) float32: at least each performer's best s-norm over the windows (W, D) and the conditions, as
    score_windows computes it; −inf for a performer known in no condition scored."""
    if not _screened(population):
        best, slope = best_per_performer(windows, population, sides)
        return best + slope * FLOAT32_ERROR + SCORE_SLACK
    import torch

    from monitor.matching.screening_kernel import raise_column_bounds

    prints = _quantised_prints(population)
    n_performers = population.prints.shape[1]
    upper = np.full(n_performers, -np.inf, np.float32)
    for start, chunk_sides in zip(range(0, len(windows), WINDOW_CHUNK), sides, strict=True):
        chunk = windows[start : start + WINDOW_CHUNK]
        values, window_scale, offset, window_error = _quantise_windows(chunk)
        left = torch.from_numpy(values)
        largest_norm = float(np.linalg.norm(chunk, axis=1).max())
        block = max(64, CACHED_SCORES // len(chunk))  # the block's int32 products stay in L2
        for condition, side in enumerate(chunk_sides):
            error = prints.error[condition] * np.float32(largest_norm)
            error += prints.norm[condition] * np.float32(window_error) + np.float32(FLOAT32_ERROR)
            column_offset = prints.shifted_sums[condition] if offset else np.zeros(n_performers, np.int32)
            bound = np.full(n_performers, -np.inf, np.float32)
            for first in range(0, n_performers, block):
                columns = slice(first, min(first + block, n_performers))
                products = torch._int_mm(left, torch.from_numpy(prints.values[condition, columns]).T).numpy()
                raise_column_bounds(products, column_offset[columns], window_scale, side.scale.ravel(),
                                    side.offset.ravel(), prints.scale[condition, columns],
                                    prints.slope[condition, columns], error[columns], bound[columns])
            bound += prints.intercept[condition]
            np.maximum(upper, bound, out=upper)
    upper[population.serving] = _serving_best(windows, population, sides)
    return upper + SCORE_SLACK


def _serving_best(windows: np.ndarray, population: VoicePopulation, sides: WindowSides) -> np.ndarray:
    """The exact best s-norm (M,) of each performer serving in the population, as score_windows computes
    it: their cosines and own window sides are already in ``sides``."""
    best = np.full(len(population.serving), -np.inf, np.float32)
    for chunk_sides in sides:
        for condition, side in enumerate(chunk_sides):
            score = own_scores(side, slice(None), *performer_terms(population, condition, population.serving))
            score = score.max(axis=0)
            score[~population.known[condition, population.serving]] = -np.inf
            np.maximum(best, score, out=best)
    return best


def _quantise_windows(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, float]:
    """Windows (W, D) on 8 bits: ``(values, scale, offset, error)`` with ``ŵ = scale · (values + offset)``:
    ``values`` (W, D) int8, ``scale`` (W,) float32, ``offset`` 128 where no value is negative (256 levels),
    else 0 (±127), and ``error`` the largest ‖w − ŵ‖."""
    exact = windows.astype(np.float64)
    levels, offset = (WINDOW_LEVELS, 128) if exact.min(initial=0.0) >= 0 else (PRINT_LEVELS, 0)
    scale = _row_scale(exact, levels)
    steps = np.rint(exact / scale[:, None].astype(np.float64))
    error = np.linalg.norm(exact - steps * scale[:, None], axis=1)
    return (steps - offset).astype(np.int8), scale, offset, float(error.max(initial=0.0))


def _quantised_prints(population: VoicePopulation) -> QuantisedPrints:
    """The population's prints on 8 bits, made once per process (population.screening)."""
    if population.screening is None:
        values = np.zeros(population.prints.shape, np.int8)
        scale, error, norm = (np.zeros(population.prints.shape[:2], np.float32) for _ in range(3))
        for condition, prints in enumerate(population.prints):  # float64 copies of 10,000 prints: 20 MB each
            exact = prints.astype(np.float64)
            scale[condition] = _row_scale(exact, PRINT_LEVELS)
            steps = np.rint(exact / scale[condition, :, None].astype(np.float64))
            restored = steps * scale[condition, :, None]
            values[condition] = steps
            error[condition] = _rounded_up(np.linalg.norm(exact - restored, axis=1))
            norm[condition] = _rounded_up(np.linalg.norm(restored, axis=1))
        slope = (0.5 / population.std_p).astype(np.float32)
        intercept = np.where(population.known, -0.5 * population.mean_p / population.std_p, -np.inf)
        population.screening = QuantisedPrints(values, scale, error, norm,
                                               128 * values.sum(axis=2, dtype=np.int32), slope,
                                               intercept.astype(np.float32))
    return population.screening


def _rounded_up(values: np.ndarray) -> np.ndarray:
    """float64 values as the float32 at or above each."""
    rounded = values.astype(np.float32)
    return np.where(rounded < values, np.nextafter(rounded, np.float32(np.inf)), rounded)


def _row_scale(rows: np.ndarray, levels: int) -> np.ndarray:
    """Each row's step (n,) float32: its largest magnitude over ``levels`` (1 for a row of zeros)."""
    largest = np.abs(rows).max(axis=1, initial=0.0)
    return np.where(largest > 0, largest / levels, 1.0).astype(np.float32)


def _screened(population: VoicePopulation) -> bool:
    return population.prints.shape[1] >= MIN_PERFORMERS_SCREENED and _fast_int8()


@functools.cache
def _fast_int8() -> bool:
    """Whether this processor has int8 dot-product instructions (Linux's CPU flags) and torch multiplies int8
    matrices; elsewhere the exact float32 pass is as fast."""
    try:
        import torch

        with open("/proc/cpuinfo") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except (OSError, ImportError):
        return False
    return hasattr(torch, "_int_mm") and bool({"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags))
