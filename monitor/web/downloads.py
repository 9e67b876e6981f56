"""Evidence bundles as downloads: written to a temporary folder, sent, and the folder removed once sent."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from monitor.services import evidence
from monitor.services.context import Context


def evidence_bundle(ctx: Context, detection_ids: list[int], filename: str) -> FileResponse:
    """The signed bundle of ``detection_ids`` as an ``application/zip`` download named ``filename``; nothing is
    left behind when the export is refused."""
    folder = Path(tempfile.mkdtemp(prefix="likeness-evidence-"))
    bundle = folder / filename
    try:
        evidence.export_evidence(ctx, detection_ids, bundle)
    except BaseException:
        _remove(folder)
        raise
    return FileResponse(bundle, media_type="application/zip", filename=filename,
                        background=BackgroundTask(_remove, folder))


def _remove(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
