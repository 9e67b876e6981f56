"""Speakers by their turns: a file's voice windows grouped into speakers, each speaker judged as a whole.

A scan embeds a file's speech in overlapping 3.2 s windows. Judging a performer on their best window lets
one stranger's few close windows become a detection, and the chance of that grows with the number of
windows and of performers. Here the windows are first grouped into speakers by agglomerative clustering
(SciPy's average linkage on cosine distance): windows of one speaker are at least 0.715 cosine apart (1st
percentile on ../shared/data's speakers) and windows of two different speakers at most 0.717 (99.9th), so
a cut at ``SAME_SPEAKER_DISTANCE`` keeps most clusters to one speaker, and splitting one speaker in two
only costs a comparison more. A speaker's *turn* is the normalised mean of their windows: steadier than
any one window (its chance score against a stranger's voiceprint is lower; docs/calibration.md), and what
a detection is decided on. The window scores stay for timestamps and the score-over-time picture.

Long media are not clustered window by window (average linkage holds W² distances): at most
``MAX_CLUSTERED_WINDOWS`` windows, evenly spread, are clustered, and every window then joins the nearest
turn.

Shapes: W windows, T turns, D = 256; embeddings L2-normalised float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Groups of windows further apart than this on average (cosine distance, 1 − cosine) are different speakers.
# One speaker's windows are within 0.285 of each other at the 1st percentile, two speakers' at least 0.283
# apart at the 99.9th (../shared/data). In the voice benchmark's 10 minutes of 46 LibriSpeech speakers, a cut
# at 0.30 made 35 turns, 10 of them holding several speakers (138 of 660 windows in a turn not theirs); at
# 0.25, 47 turns, 2 of them mixed (27 windows). A speaker split in two costs a comparison more; speakers mixed
# blur both voices.
SAME_SPEAKER_DISTANCE = 0.25
# At most this many windows are clustered (about 27 minutes of speech at the default stride; 2000² / 2
# distances, 16 MB); the other windows join the nearest turn.
MAX_CLUSTERED_WINDOWS = 2000


@dataclass(frozen=True)
class SpeakerTurns:
    """``turn_of_window`` (W,) int64 in 0..T-1, which turn each window belongs to; ``embeddings`` (T, D)
    float32, each turn's normalised mean window; ``windows`` (T,) int64, how many windows each turn has."""

    turn_of_window: np.ndarray
    embeddings: np.ndarray
    windows: np.ndarray

    def __len__(self) -> int:
        return len(self.embeddings)


def speaker_turns(windows: np.ndarray) -> SpeakerTurns:
    """Group ``windows`` (W, D), L2-normalised, into speakers' turns; turns are numbered by first window."""
    if len(windows) == 0:
        return SpeakerTurns(np.zeros(0, np.int64), np.zeros((0, windows.shape[1]), np.float32), np.zeros(0, np.int64))
    clustered = np.unique(np.linspace(0, len(windows) - 1, min(len(windows), MAX_CLUSTERED_WINDOWS)).round()
                          .astype(np.int64))
    labels = _clusters(windows[clustered])
    if len(clustered) < len(windows):  # the rest join the nearest turn
        labels = np.argmax(windows @ _turn_means(windows[clustered], labels).T, axis=1)
    _, first_window = np.unique(labels, return_index=True)
    renumber = np.empty(labels.max() + 1, np.int64)
    renumber[labels[np.sort(first_window)]] = np.arange(len(first_window))
    turn_of_window = renumber[labels]
    return SpeakerTurns(turn_of_window, _turn_means(windows, turn_of_window),
                        np.bincount(turn_of_window, minlength=len(first_window)))


def _clusters(windows: np.ndarray) -> np.ndarray:
    """(W,) int64 cluster of each window (0-based), average linkage cut at SAME_SPEAKER_DISTANCE."""
    if len(windows) == 1:
        return np.zeros(1, np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(windows.astype(np.float64), method="average", metric="cosine")
    return fcluster(tree, SAME_SPEAKER_DISTANCE, criterion="distance").astype(np.int64) - 1


def _turn_means(windows: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(T, D) float32: the normalised mean of each label's windows (labels 0..T-1, T = labels.max() + 1)."""
    sums = np.zeros((labels.max() + 1, windows.shape[1]), np.float64)
    np.add.at(sums, labels, windows)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return (sums / np.maximum(norms, 1e-12)).astype(np.float32)
