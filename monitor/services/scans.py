"""Scanning files and URLs on demand: every target against every enrolled performer."""

from __future__ import annotations

from collections.abc import Callable

from monitor.services.context import Context

NO_REFERENCES = "no performer has references yet: nothing can match (likeness enroll voice|face ...)"


def scan(ctx: Context, targets: list[str], workers: int | None = None,
         on_done: Callable[[dict], None] | None = None,
         on_warning: Callable[[str], None] | None = None) -> list[dict]:
    """Scan each file path or http(s) URL; one row per target, in the order given.

    A row (the ``scan`` command's JSON): ``source``, ``sha256``, ``media_type``, ``duration_s``, ``error`` (one
    line, or None), ``detections`` (DETECTION objects) and ``closest``. One target's failure is its row's
    ``error``; the others go on. ``workers``: analyses at once (None: ``[workers] analysis``). ``on_done(row)``
    as each finishes; ``on_warning(text)`` when nothing can match (no references enrolled).
    """
    from monitor.pipeline.scan import Scanner

    scanner = Scanner(ctx.config, ctx.sessions, workers, ctx.actor.name)
    if scanner.gallery.is_empty and on_warning is not None:
        on_warning(NO_REFERENCES)
    done = (lambda row: on_done(row.as_json())) if on_done is not None else None
    return [row.as_json() for row in scanner.scan_all(targets, on_done=done)]
