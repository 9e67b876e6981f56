"""One item's failure is that item's one-line error, never the batch's end."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from enrollment.errors import LikenessError, unexpected

logger = logging.getLogger(__name__)


@contextmanager
def item_failures(report: Callable[[str], None], item: str) -> Iterator[None]:
    """Inside, a failure is passed to ``report`` as one line and swallowed, so that the next item goes on.

    A :class:`LikenessError` reports its own message; anything else (a bug, a library's surprise) reports
    :func:`enrollment.errors.unexpected`, with the traceback logged at debug level only. ``LIKENESS_DEBUG=1``
    lets a bug through instead, traceback and all. ``item``: what the log names (a path or URL).
    """
    try:
        yield
    except LikenessError as error:
        report(str(error))
    except Exception as error:
        if os.environ.get("LIKENESS_DEBUG"):
            raise
        logger.debug("%s failed", item, exc_info=True)
        report(unexpected(error))
