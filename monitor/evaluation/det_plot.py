"""The DET plot: miss rate against false-alarm rate, both on a normal-deviate (probit) scale.

On that scale two normal score distributions give a straight line, so curves of different conditions
(clean, telephone, …) compare at a glance. matplotlib and scipy are imported inside the function (importing
this module stays cheap) and the figure is drawn with the Agg canvas directly, not pyplot: matplotlib's
global backend and state stay as they were.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

SIZE_IN = (6.0, 6.0)
DPI = 100
# Rates of 0 (or 1) have no probit; they are drawn at the edge, 0.01 %, one decade past the last tick.
RATE_FLOOR = 1e-4
# Up to 50 %: chance performance (FA + miss = 1) touches the top-right corner, worse is off the plot.
RATE_CEILING = 0.5
TICKS = (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4)
# Points closer than 1/1000 of the axis are merged: a monotone curve keeps at most ~2000 of them, so 10⁶
# trials draw as fast as 10³ and look the same.
GRID_STEPS = 1000
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _probit_path(false_alarm: np.ndarray, miss: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The curve's points in normal deviates, shapes (k,), k ≤ n, with runs that fall into one grid cell merged."""
    import numpy as np
    from scipy.stats import norm

    fa = np.clip(np.asarray(false_alarm, dtype=np.float64).ravel(), RATE_FLOOR, 1.0 - RATE_FLOOR)
    ms = np.clip(np.asarray(miss, dtype=np.float64).ravel(), RATE_FLOOR, 1.0 - RATE_FLOOR)
    if fa.shape != ms.shape:
        raise ValueError(f"false-alarm and miss rates differ in length: {fa.size} and {ms.size}")
    x, y = norm.ppf(fa), norm.ppf(ms)
    if x.size <= 2:
        return x, y
    span = norm.ppf(1.0 - RATE_FLOOR) - norm.ppf(RATE_FLOOR)
    cells = np.round(np.stack([x, y]) / span * GRID_STEPS)
    keep = np.ones(x.size, dtype=bool)
    keep[1:] = (cells[:, 1:] != cells[:, :-1]).any(axis=0)
    keep[-1] = True  # the end point stays exact
    return x[keep], y[keep]


def save_det_plot(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path, title: str,
                  operating_points: dict[str, tuple[float, float]] | None = None) -> None:
    """Write the DET plot of ``curves`` to ``path`` as a PNG of 600 × 600 px (6 × 6 in at 100 dpi).

    ``curves``: label → ``(false_alarm_rate, miss_rate)``, two arrays of shape (n,) with rates 0..1 (as
    :func:`monitor.evaluation.metrics.det_curve` returns them); one line each, named in the legend.
    ``operating_points``: label → ``(false_alarm_rate, miss_rate)``, drawn as markers. Axes run from
    0.01 % to 50 %, ticks labelled in percent; the dashed diagonal is where false alarms equal misses
    (the EER). The parent folders of ``path`` are created.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from scipy.stats import norm

    low, high = norm.ppf(RATE_FLOOR), norm.ppf(RATE_CEILING)
    tick_positions = norm.ppf(TICKS)
    tick_labels = [f"{100 * tick:g}" for tick in TICKS]

    figure = Figure(figsize=SIZE_IN, dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot([low, high], [low, high], linestyle="--", color="0.6", linewidth=1, label="EER (FA = miss)")
    for label, (false_alarm, miss) in curves.items():
        x, y = _probit_path(false_alarm, miss)
        axes.plot(x, y, linewidth=1.5, label=label)
    for number, (label, (false_alarm, miss)) in enumerate((operating_points or {}).items()):
        x, y = _probit_path([false_alarm], [miss])  # not clipped by the axes: a rate of 0 sits on the edge
        axes.plot(x, y, linestyle="none", marker=MARKERS[number % len(MARKERS)], markersize=7,
                  markeredgecolor="black", clip_on=False, label=label)

    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_aspect("equal")
    axes.set_xticks(tick_positions, tick_labels)
    axes.set_yticks(tick_positions, tick_labels)
    axes.grid(True, color="0.9")
    axes.set_xlabel("False-alarm rate (%)")
    axes.set_ylabel("Miss rate (%)")
    axes.set_title(title)
    # Bottom left is where only near-perfect systems go; weak conditions fill the top right.
    axes.legend(loc="lower left", fontsize="small")
    figure.tight_layout()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.print_png(path)
