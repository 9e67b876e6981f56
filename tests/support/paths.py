"""Where things are: the repository's root, and the calibration and accuracy data beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # tests/support/paths.py → the repository
SHARED_DATA = ROOT.parent / "shared" / "data"  # ../shared/data: tests marked shared_data skip where it is absent
