"""How likely a voice score is by chance, for one file against the whole roster, and the threshold that follows.

A stranger's speaker turn compared with one performer reaches a normalised score ``s`` (s-norm,
monitor.matching.voice_scores) with a chance that falls tenfold every ``tenfold_snorm``:

    p(s) = at_center · 10^(−(s − center) / tenfold_snorm)

fitted on the population (strangers' turns against enrolled LibriSpeech speakers, clean and degraded:
docs/calibration.md; ``likeness eval --roster`` prints the fit for any folder). A file of T turns is
compared with P performers, T × P comparisons, so a stranger's file raises a detection against someone
with chance ``1 − (1 − p)^(T·P)``. The ``soundalike`` threshold is raised until that chance is at most
``voice.max_false_alarms_per_file``: it grows with the logarithm of the roster, and the per-file rate
does not grow with it, up to the ``same_voice`` threshold (monitor.matching.voice_match: past the scores
strangers were measured at, the line is an extrapolation). Each voice detection carries its chance in
words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ChanceModel:
    """``at_center``: the chance (0-1) that a stranger's turn reaches ``center`` (s-norm) against one performer;
    ``tenfold_snorm``: the s-norm that divides it by ten; ``max_per_file``: the per-file chance allowed (0-1)."""

    center: float
    at_center: float
    tenfold_snorm: float
    max_per_file: float

    def per_comparison(self, snorm: float) -> float:
        """The chance (0-1) that a stranger's turn reaches ``snorm`` against one performer."""
        return min(1.0, self.at_center * 10.0 ** (-(snorm - self.center) / self.tenfold_snorm))

    def per_file(self, snorm: float, comparisons: int) -> float:
        """The chance (0-1) that a stranger's file reaches ``snorm`` in any of ``comparisons`` (turns × performers)."""
        p = self.per_comparison(snorm)
        return 1.0 if p >= 1.0 else -math.expm1(max(comparisons, 1) * math.log1p(-p))

    def threshold(self, comparisons: int) -> float:
        """The s-norm at which a stranger's file of ``comparisons`` (turns × performers) reaches it with chance
        ``max_per_file``."""
        per_comparison = -math.expm1(math.log1p(-self.max_per_file) / max(comparisons, 1))
        return self.center + self.tenfold_snorm * math.log10(self.at_center / per_comparison)


def chance_words(per_file: float, performers: int, turns: int) -> str:
    """``per_file`` (0-1) for a user: "a stranger's voice reaches this in about 1 of 5,000 files like this one
    (2 voices) against your 300 performers"."""
    files = _round_files(1.0 / per_file) if per_file > 0 else None
    how_often = f"about 1 of {files:,} files" if files and files > 1 else "most files"
    speakers = f" ({turns} voices)" if turns > 1 else ""
    whom = "your performer" if performers == 1 else f"your {performers:,} performers"
    return f"a stranger's voice reaches this in {how_often} like this one{speakers} against {whom}"


def _round_files(files: float) -> int:
    """``files`` to two significant figures (1 → 1, 4,873 → 4,900), capped at a billion."""
    if files >= 1e9:
        return 1_000_000_000
    if files < 10:
        return max(1, round(files))
    digits = math.floor(math.log10(files)) - 1
    return int(round(files, -digits))
