"""The inner loop of large-gallery screening (monitor.matching.voice_screening), compiled with numba.

Imported only when a gallery is screened: numba is already loaded by then (librosa uses it). The
compiled code is cached next to this file (or in numba's user-wide cache), so a process after the first
loads it instead of compiling it (about 0.5 s).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np


def _compiled(function: Callable) -> Callable:
    try:
        return numba.njit(cache=True, nogil=True)(function)
    except RuntimeError:  # no cache can be written: compiled in each process instead
        return numba.njit(nogil=True)(function)


@_compiled
def raise_column_bounds(products: np.ndarray, column_offset: np.ndarray, window_scale: np.ndarray,
                        window_slope: np.ndarray, window_intercept: np.ndarray, print_scale: np.ndarray,
                        print_slope: np.ndarray, print_error: np.ndarray, bound: np.ndarray) -> None:
    """Raise ``bound`` (n,) float32 to each column's largest upper bound on ``x · (a_w + a_p) + b_w``.

    ``products`` (W, n) int32 are quantised dot products; the cosine of window i and voiceprint j is within
    ``print_error[j]`` of ``(products[i, j] + column_offset[j]) · window_scale[i] · print_scale[j]``.
    ``window_slope`` a_w, ``window_intercept`` b_w (W,) and ``print_slope`` a_p (n,) are the s-norm's terms;
    a_w + a_p > 0, so the bound is the s-norm of the largest cosine the product allows. One pass over
    ``products``: the four whole-array passes it replaces cost more than the product itself.
    """
    rows, columns = products.shape
    for i in range(rows):
        scale, slope, intercept = window_scale[i], window_slope[i], window_intercept[i]
        for j in range(columns):
            cosine = np.float32(products[i, j] + column_offset[j]) * scale * print_scale[j] + print_error[j]
            value = cosine * (slope + print_slope[j]) + intercept
            if value > bound[j]:
                bound[j] = value
