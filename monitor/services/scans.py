"""Scanning files and URLs on demand, every target against every enrolled performer: at once (the command
line), asked for and run in the background (the API), or the analysis a worker is handed by the broker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from enrollment.errors import LikenessError, NotFound
from monitor.services import audit
from monitor.services.context import Context

if TYPE_CHECKING:
    from monitor.pipeline.scan import Scanner

_SCANNERS: dict[Path, Scanner] = {}  # a worker process's scanner, per install: performers and models loaded once
_SCANNERS_LOCK = threading.Lock()
NO_REFERENCES = "no performer has references yet: nothing can match (likeness enroll voice|face ...)"


def scan(ctx: Context, targets: list[str], workers: int | None = None,
         on_done: Callable[[dict], None] | None = None,
         on_warning: Callable[[str], None] | None = None) -> list[dict]:
    """Scan each file path or http(s) URL for the context's agency; one row per target, in the order given.

    A row (the ``scan`` command's JSON): ``source``, ``sha256``, ``media_type``, ``duration_s``, ``error`` (one
    line, or None), ``detections`` (DETECTION objects) and ``closest``. One target's failure is its row's
    ``error``; the others go on. ``workers``: analyses at once (None: ``[workers] analysis``). ``on_done(row)``
    as each finishes; ``on_warning(text)`` when nothing can match (no references enrolled).
    """
    from monitor.pipeline.scan import Scanner

    ctx.require("scan")
    scanner = Scanner(ctx.config, ctx.sessions, workers, ctx.actor.name, ctx.acting_agency_id())
    if scanner.gallery.is_empty and on_warning is not None:
        on_warning(NO_REFERENCES)
    done = (lambda row: on_done(row.as_json())) if on_done is not None else None
    return [row.as_json() for row in scanner.scan_all(targets, on_done=done)]


def analyse_stored(ctx: Context, sha256: str, analysis_key: str, models: dict[str, str | None] | None = None) -> None:
    """Analyse content already stored and recorded (a worker's task), once: nothing where it is analysed under
    the key already or being analysed by another process. The performers and models are loaded once per process,
    again when ``analysis_key`` is not this process's (a performer enrolled since the scan asked). ModelsDiffer,
    its reason stored for whoever waits, where this process's models are not the ``models`` asked for
    (``{"voice", "face"}`` versions): results are kept per model version."""
    from monitor.analysis.analyse import models_differing
    from monitor.storage.claims import claimant

    ctx.require("install")
    if models and (differing := models_differing(models)):
        reason = (f"worker {claimant()} refused the analysis: {differing} (run one version of Likeness Monitor, "
                  f"with the same models, on every machine)")
        tell_not_analysed(ctx, sha256, analysis_key, reason)
        raise ModelsDiffer(reason)
    _scanner(ctx, analysis_key).analyse_content(sha256)


def analysis_time_limit_s(ctx: Context, sha256: str) -> float | None:
    """Seconds the analysis of stored content ``sha256`` may take, sized to its duration (fetched from the shared
    store where this machine lacks it); None: no limit, or content nobody stored (its analysis says so)."""
    from monitor.analysis.analyse import time_limit_s
    from monitor.storage.content_store import content_store

    ctx.require("install")
    try:
        path = content_store(ctx.config).path_for(sha256)
    except LikenessError:
        return None
    return time_limit_s(path, ctx.config)


def prepare_analyses(ctx: Context) -> None:
    """Load the performers and the models a worker process analyses with, before its first task."""
    from enrollment import face, voice

    ctx.require("install")
    gallery = _scanner(ctx).gallery
    if len(gallery.voice_ids):
        voice.voice_encoder()
    if len(gallery.face_ids):
        face.face_api()


def _scanner(ctx: Context, analysis_key: str | None = None) -> Scanner:
    """This process's scanner of the install, made again where ``analysis_key`` is not its key."""
    from monitor.pipeline.scan import Scanner
    from monitor.storage.claims import claimant

    with _SCANNERS_LOCK:
        scanner = _SCANNERS.get(ctx.config.home)
        if scanner is None or (analysis_key is not None and scanner.key != analysis_key):
            actor = f"{ctx.actor.name} (worker {claimant()})"  # which process of which machine analysed it
            scanner = _SCANNERS[ctx.config.home] = Scanner(ctx.config, ctx.sessions, 1, actor)
        return scanner


def tell_not_analysed(ctx: Context, sha256: str, analysis_key: str, reason: str) -> None:
    """Tell whoever waits for the analysis of ``sha256`` under ``analysis_key`` why a worker did not do it
    (``reason``, one line); asked again, it is analysed (monitor.pipeline.record.record_not_analysed)."""
    from monitor.pipeline.record import record_not_analysed

    ctx.require("install")
    with ctx.sessions.begin() as session:
        record_not_analysed(session, sha256, analysis_key, reason)


class ModelsDiffer(LikenessError):
    """A worker's models are not those of the process that asked for the analysis."""


def give_up_analysis(ctx: Context, sha256: str, analysis_key: str, reason: str) -> None:
    """Store ``reason`` as the failure of the analysis of ``sha256`` under ``analysis_key``, which will not be
    tried again under that key (a file that stopped every worker that opened it)."""
    from monitor.pipeline.record import record_given_up

    ctx.require("install")
    with ctx.sessions.begin() as session:
        record_given_up(session, sha256, analysis_key, reason)


def request_scan(ctx: Context, url: str | None = None, upload: Path | None = None,
                 upload_name: str | None = None) -> dict:
    """Ask for a scan in the background for the context's agency: of an http(s) ``url``, or of an ``upload``
    (a file, kept in the content store now, shown as ``upload_name``) → ``{"id", "status": "queued"}``."""
    from monitor.fetch.download import is_url
    from monitor.pipeline.scan_requests import UPLOAD_PREFIX
    from monitor.storage.content_store import content_store
    from monitor.storage.models import ScanRequest

    ctx.require("scan")
    if (url is None) == (upload is None):
        raise LikenessError("give either a file or a URL to scan")
    if url is not None and not (is_url(url) and url.isprintable() and len(url) <= 2000):
        raise LikenessError("a scan's url must be an http(s) URL of at most 2,000 printable characters")
    sha256 = size_bytes = None
    if upload is not None:
        sha256, size_bytes = content_store(ctx.config).add_file(upload, ctx.config.media.max_file_bytes)
    agency_id = ctx.acting_agency_id()
    with ctx.sessions.begin() as session:
        request = ScanRequest(agency_id=agency_id, requested_by=ctx.actor.name, status="queued",
                              target=url if url is not None else f"{UPLOAD_PREFIX}{upload_name or 'file'}",
                              sha256=sha256, size_bytes=size_bytes)
        session.add(request)
        session.flush()
        audit.record(ctx, "scan.request", f"scan {request.id}", session=session, agency_id=agency_id,
                     target=request.target, sha256=sha256)
        return {"id": request.id, "status": request.status}


def get_scan_request(ctx: Context, request_id: int) -> dict:
    """A scan asked for → ``{"id", "status", "target", "requested_by", "created_at", "started_at",
    "finished_at", "error", "result"}``; ``result`` is the ``scan`` command's row once done."""
    from monitor.storage.models import ScanRequest

    ctx.require("read")
    with ctx.reading() as session:
        request = session.get(ScanRequest, request_id)
        agency_id = ctx.scoped_agency_id()
        if request is None or (agency_id is not None and request.agency_id != agency_id):
            raise NotFound(f"no scan with id {request_id}")
        result = request.result
        if result is not None and ctx.performer_ids is not None:  # an artist: their own performers' only
            result = result | {"detections": [d for d in result["detections"]
                                              if d["performer_id"] in ctx.performer_ids],
                               "closest": [c for c in result["closest"] if c["performer_id"] in ctx.performer_ids]}

        def when(moment):
            return moment.isoformat(timespec="seconds") if moment is not None else None

        return {"id": request.id, "status": request.status, "target": request.target,
                "requested_by": request.requested_by, "created_at": when(request.created_at),
                "started_at": when(request.started_at), "finished_at": when(request.finished_at),
                "error": request.error, "result": result}


def run_requested_scans(ctx: Context, stop: threading.Event | None = None) -> int:
    """Scan what was asked for (oldest first, each for its own agency) until none is queued → how many ran."""
    from monitor.pipeline.scan_requests import run_queued

    ctx.require("install")
    return run_queued(ctx.config, ctx.sessions, stop)


def requeue_interrupted_scans(ctx: Context) -> int:
    """Scans a dead process left running are queued again → how many."""
    from monitor.pipeline.scan_requests import requeue_interrupted

    ctx.require("install")
    return requeue_interrupted(ctx.sessions)
