"""Evidence bundles: exported for legal teams, and verified offline."""

from __future__ import annotations

from pathlib import Path

from monitor.services import audit
from monitor.services.context import Context


def export_evidence(ctx: Context, detection_ids: list[int], output: Path, overwrite: bool = False) -> dict:
    """Write a signed bundle of the detections (of one agency) to ``output`` (.zip; an existing file only with
    ``overwrite``) → ``{"bundle", "files", "fingerprint", "size_bytes"}``. The "exported" custody entry and the
    audit event name the actor."""
    from monitor.evidence.export import export_bundle
    from monitor.services.detections import get_detection

    ctx.require("evidence")
    for detection_id in dict.fromkeys(detection_ids):
        get_detection(ctx, detection_id)  # NotFound for what this actor may not see

    def audited(session, agency_id: int) -> None:
        audit.record(ctx, "evidence.export", output.name, session=session, agency_id=agency_id,
                     detection_ids=sorted(set(detection_ids)))

    manifest = export_bundle(ctx.config, ctx.sessions, detection_ids, output, overwrite, actor=ctx.actor.name,
                             agency_id=ctx.scoped_agency_id(), on_exported=audited)
    return {"bundle": str(output), "files": len(manifest["members"]),
            "fingerprint": manifest["public_key_fingerprint"], "size_bytes": output.stat().st_size}


def verify_evidence(ctx: Context, bundle: Path, expected_fingerprint: str | None = None,
                    tsa_roots: Path | None = None) -> dict:
    """Check every hash, the signature, the custody chains and any timestamp of ``bundle`` (no database)
    → ``{"bundle", "ok", "problems", "fingerprint", "files", "notes"}``; ``problems`` is empty when ``ok``."""
    from monitor.evidence.timestamp import verify_timestamp
    from monitor.evidence.verify import verify_bundle

    roots = tsa_roots.read_bytes() if tsa_roots is not None else None
    report = verify_bundle(bundle, expected_fingerprint=expected_fingerprint,
                           verify_timestamp=lambda data, token: verify_timestamp(data, token, roots, name=""))
    return {"bundle": str(bundle), "ok": report.ok, "problems": report.problems, "fingerprint": report.fingerprint,
            "files": report.files, "notes": report.notes}
