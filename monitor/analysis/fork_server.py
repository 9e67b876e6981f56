"""Imported first by the analysis pool's fork server (and so inherited by every worker it forks): its
failures are never a traceback on the user's terminal.

A worker is forked, then reads its orders from the parent. When the parent dies at that moment (kill -9 of a
crawl), the order arrives cut short, and multiprocessing hands the error to ``sys.excepthook``: nobody is left
to tell, so nothing is printed. Anything else is one line. Library warnings are dropped here too. With
``LIKENESS_DEBUG=1`` both are left as Python has them.
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings
from types import TracebackType

from enrollment.errors import unexpected

PARENT_GONE = (EOFError, ConnectionError, pickle.UnpicklingError, KeyboardInterrupt)


def _one_line(_kind: type[BaseException], error: BaseException, _traceback: TracebackType | None) -> None:
    if isinstance(error, PARENT_GONE):
        return
    sys.stderr.write(f"error: analysis worker: {unexpected(error)}\n")


if not os.environ.get("LIKENESS_DEBUG"):
    sys.excepthook = _one_line
    warnings.simplefilter("ignore")
