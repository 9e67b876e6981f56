"""``likeness evidence export|verify``: tamper-evident bundles for legal teams, and their offline check."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from monitor.cli.common import App, emit, json_option, warn


@click.group()
def evidence() -> None:
    """Export signed evidence bundles of detections, and verify them."""


@evidence.command("export")
@click.argument("detection_ids", nargs=-1, required=True, type=int, metavar="DETECTION_ID...")
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The bundle to write (a .zip); an existing file is not overwritten.")
@click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")
@json_option
@click.pass_obj
def evidence_export(app: App, detection_ids: tuple[int, ...], output: Path, overwrite: bool, as_json: bool) -> None:
    """Write a signed bundle: the media as fetched, the capture, the analysis, the custody log, a report."""
    from monitor.services.evidence import export_evidence

    data = export_evidence(app.context, list(detection_ids), output, overwrite)
    emit(data, as_json, lambda: click.echo(
        f"wrote {output} ({data['files']} files, {data['size_bytes']:,} bytes), signed by {data['fingerprint']}"))


@evidence.command("verify")
@click.argument("bundle", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--fingerprint", "expected", default=None,
              help="The signer's key fingerprint you trust (SHA256:…); another key is then a failure.")
@click.option("--tsa-roots", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="PEM root certificates of the timestamp authorities you trust.")
@json_option
@click.pass_obj
def evidence_verify(app: App, bundle: Path, expected: str | None, tsa_roots: Path | None, as_json: bool) -> None:
    """Check every hash, the signature, the custody chains and any timestamp; exit 1 naming the first problem."""
    from monitor.services.evidence import verify_evidence

    data = verify_evidence(app.context, bundle, expected, tsa_roots)
    problems = data["problems"]
    if not data["ok"]:
        if as_json:
            emit(data, True, lambda: None)
        warn(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""))
        sys.exit(1)
    emit(data, as_json, lambda: click.echo(
        f"{bundle}: intact: {data['files']} files match the signed manifest, signed by {data['fingerprint']}"
        + "".join(f"\nnote: {note}" for note in data["notes"])))
