"""Offline verification of evidence bundles (the format is described in :mod:`monitor.evidence.bundle`).

Checks, in this order, each failure one line naming the file: the ZIP is readable and its names are safe
and unique; manifest.json is present and well formed; its signature verifies with public-key.pem, whose
fingerprint is the manifest's (and the expected one, when given); every listed file is present with its
size and SHA-256 (streamed); no file is unlisted; every "custody" member is an unbroken hash chain
(:mod:`monitor.storage.chain`); a manifest.json.tsr token passes the caller's timestamp check.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from enrollment.errors import LikenessError, error_line, unexpected
from monitor.evidence.bundle import (
    CHUNK,
    FORMAT,
    MANIFEST,
    PUBLIC_KEY,
    SIGNATURE,
    SIGNATURE_FILES,
    TIMESTAMP,
    name_problem,
)
from monitor.evidence.keys import fingerprint
from monitor.storage.chain import chain_problems

MAX_MANIFEST = 64 << 20  # bytes; a manifest lists names and hashes, a few hundred bytes per file
MAX_SMALL = 1 << 20  # bytes; public key, signature and timestamp token are a few KiB at most
MAX_LINE = 1 << 20  # bytes; one custody entry
MAX_CHAIN_PROBLEMS = 10  # per custody file; after one break the rest adds little
_HEX = frozenset("0123456789abcdef")


@dataclass
class VerifyReport:
    """What :func:`verify_bundle` found. ``problems``: one line each, the first problem first (empty when
    the bundle is intact); ``fingerprint``: of the bundled public key ("SHA256:<hex>"), when readable;
    ``files``: how many listed files matched their size and SHA-256; ``notes``: facts that are not problems
    (e.g. a timestamp token that was not checked)."""

    problems: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    files: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(
    path: Path,
    *,
    expected_fingerprint: str | None = None,
    verify_timestamp: Callable[[bytes, bytes], str | None] | None = None,
) -> VerifyReport:
    """Check the bundle at ``path``; never raises for a damaged or forged bundle (the report says why).

    ``expected_fingerprint``: the signer's key fingerprint the reader trusts ("SHA256:<hex>", case and
    prefix optional); a bundle signed by another key is then a problem. ``verify_timestamp(manifest_bytes,
    token_bytes)``: returns a one-line problem or None; without it a manifest.json.tsr is only noted.
    """
    report = VerifyReport()
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        report.problems.append(f"{path}: no such file")
        return report
    except OSError as error:
        report.problems.append(f"{path}: cannot be read: {error.strerror or error}")
        return report
    except Exception as error:  # BadZipFile and whatever else a mangled archive provokes
        report.problems.append(f"{path.name}: not a readable zip archive ({error_line(error)})")
        return report
    with archive:
        try:
            _check(archive, report, expected_fingerprint, verify_timestamp)
        except Exception as error:  # a defect nobody anticipated still gives one line, not a traceback
            report.problems.append(f"{path.name}: cannot be checked ({unexpected(error)})")
    return report


def _check(archive: zipfile.ZipFile, report: VerifyReport, expected_fingerprint: str | None,
           verify_timestamp: Callable[[bytes, bytes], str | None] | None) -> None:
    """Every check, in the module docstring's order; problems, files and notes added to ``report``."""
    problems = report.problems
    names = [info.filename for info in archive.infolist()]
    present = set(names)
    _check_names(names, problems)
    manifest_bytes = _read_small(archive, MANIFEST, MAX_MANIFEST, problems)
    if manifest_bytes is None:
        return
    manifest, why = _parse_manifest(manifest_bytes)
    if manifest is None:
        problems.append(f"manifest.json: {why}")
        return
    _check_signature(archive, manifest, manifest_bytes, report, expected_fingerprint)

    damaged = _check_members(archive, manifest, present, report)
    listed = {entry["name"] for entry in manifest["members"]}
    for name in dict.fromkeys(names):
        if name not in listed and name not in SIGNATURE_FILES:
            problems.append(f"extra file not in the manifest: {name}")

    for entry in manifest["members"]:
        if entry["role"] == "custody" and entry["name"] in present and entry["name"] not in damaged:
            problems.extend(_custody_problems(archive, entry["name"]))

    if TIMESTAMP in present:
        _check_timestamp(archive, manifest_bytes, report, verify_timestamp)


def _check_names(names: list[str], problems: list[str]) -> None:
    """The zip's entry names, in its directory's order: one problem per repeat of a name and per unsafe name."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.append(f"duplicate entry in the zip: {name}")
        seen.add(name)
        why = name_problem(name)
        if why:
            problems.append(f"unsafe name in the zip: {name!r} ({why})")


def _check_members(archive: zipfile.ZipFile, manifest: dict, present: set[str], report: VerifyReport) -> set[str]:
    """Each listed file's presence, size in bytes and SHA-256 against the manifest's; ``report.files`` counts those
    that match. Returns the names of listed files that could not be read from the zip (damaged entries)."""
    problems = report.problems
    damaged: set[str] = set()
    for entry in manifest["members"]:
        name = entry["name"]
        if name not in present:
            problems.append(f"missing file: {name}")
            continue
        try:
            size, digest = _hash(archive, name, entry["size"])
        except Exception as error:
            problems.append(f"{name}: cannot be read from the zip ({error_line(error)})")
            damaged.add(name)
            continue
        if size > entry["size"]:
            problems.append(f"{name}: larger than the {entry['size']} bytes the manifest says")
        elif size != entry["size"]:
            problems.append(f"{name}: {size} bytes, the manifest says {entry['size']}")
        elif digest != entry["sha256"]:
            problems.append(f"{name}: sha256 does not match the manifest")
        else:
            report.files += 1
    return damaged


def _check_timestamp(archive: zipfile.ZipFile, manifest_bytes: bytes, report: VerifyReport,
                     verify_timestamp: Callable[[bytes, bytes], str | None] | None) -> None:
    """The manifest.json.tsr token (present in the zip) through ``verify_timestamp``: a problem when it fails,
    a note when it passes or when there is no checker."""
    token = _read_small(archive, TIMESTAMP, MAX_SMALL, report.problems)
    if token is not None and verify_timestamp is None:
        report.notes.append(f"{TIMESTAMP}: a timestamp token is present but was not checked")
    elif token is not None:
        try:
            why = verify_timestamp(manifest_bytes, token)
        except LikenessError as error:
            why = str(error)
        except Exception as error:  # the checker's defect must not hide the rest of the report
            why = unexpected(error)
        if why:
            report.problems.append(f"{TIMESTAMP}: {why}")
        else:
            report.notes.append(f"{TIMESTAMP}: the timestamp token is valid for manifest.json")


def _check_signature(archive: zipfile.ZipFile, manifest: dict, manifest_bytes: bytes, report: VerifyReport,
                     expected_fingerprint: str | None) -> None:
    """Signature, bundled key and its fingerprint; problems appended to the report."""
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    problems = report.problems
    pem = _read_small(archive, PUBLIC_KEY, MAX_SMALL, problems)
    signature = _read_small(archive, SIGNATURE, MAX_SMALL, problems)
    if pem is None:
        return
    try:
        public = load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        public = None
    if not isinstance(public, Ed25519PublicKey):
        problems.append(f"{PUBLIC_KEY}: not an Ed25519 public key in PEM form")
        return
    report.fingerprint = fingerprint(public)
    # Most telling first: a key other than the trusted one, then a key swapped in, then a bad signature.
    if expected_fingerprint is not None and _plain(expected_fingerprint) != _plain(report.fingerprint):
        problems.append(f"signed by key {report.fingerprint} not the expected SHA256:{_plain(expected_fingerprint)}")
    if _plain(manifest["public_key_fingerprint"]) != _plain(report.fingerprint):
        problems.append(f"{PUBLIC_KEY}: its fingerprint {report.fingerprint} is not the manifest's "
                        f"{manifest['public_key_fingerprint']}")
    if signature is not None:
        try:
            public.verify(signature, manifest_bytes)
        except (InvalidSignature, ValueError):
            problems.append(f"{MANIFEST}: signature does not verify with {PUBLIC_KEY}")


def _parse_manifest(data: bytes) -> tuple[dict | None, str]:
    """The manifest, or None and why it is not one (every field the checks rely on is validated here)."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        return None, f"not valid JSON ({error_line(error)})"
    if not isinstance(manifest, dict):
        return None, "not a JSON object"
    if manifest.get("format") != FORMAT:
        return None, f"unknown format {manifest.get('format')!r} (this tool reads {FORMAT})"
    if not isinstance(manifest.get("public_key_fingerprint"), str):
        return None, "has no public_key_fingerprint"
    members = manifest.get("members")
    if not isinstance(members, list):
        return None, "has no members list"
    names: set[str] = set()
    for number, entry in enumerate(members, start=1):
        if not isinstance(entry, dict):
            return None, f"member {number} is not a JSON object"
        name, size, sha256, role = entry.get("name"), entry.get("size"), entry.get("sha256"), entry.get("role")
        if name_problem(name):
            return None, f"member {number} has an unsafe name {name!r} ({name_problem(name)})"
        if name in names or name in SIGNATURE_FILES:
            return None, f"lists {name} twice" if name in names else f"lists {name}, which cannot be a member"
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return None, f"{name} has no valid size"
        if not (isinstance(sha256, str) and len(sha256) == 64 and set(sha256) <= _HEX):
            return None, f"{name} has no valid sha256"
        if not isinstance(role, str) or not role:
            return None, f"{name} has no role"
        names.add(name)
    return manifest, ""


def _read_small(archive: zipfile.ZipFile, name: str, limit: int, problems: list[str]) -> bytes | None:
    """A whole small entry, or None with the problem appended (missing, too large, damaged)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        problems.append(f"missing file: {name}")
        return None
    if info.file_size > limit:
        problems.append(f"{name}: {info.file_size} bytes, more than a {name} can be ({limit})")
        return None
    try:
        with archive.open(info) as source:
            data = source.read(limit + 1)  # the directory's size may lie: never read more than the limit
    except Exception as error:
        problems.append(f"{name}: cannot be read from the zip ({error_line(error)})")
        return None
    if len(data) > limit:
        problems.append(f"{name}: more than {limit} bytes, more than a {name} can be")
        return None
    return data


def _hash(archive: zipfile.ZipFile, name: str, expected_size: int) -> tuple[int, str]:
    """Size in bytes and hex SHA-256 of an entry, streamed; stops once past ``expected_size`` (a zip bomb
    or a padded file need not be read to the end to be wrong)."""
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as source:
        while size <= expected_size and (chunk := source.read(CHUNK)):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _custody_problems(archive: zipfile.ZipFile, name: str) -> list[str]:
    """A custody member's chain breaks, prefixed with its name; at most MAX_CHAIN_PROBLEMS and a count."""
    count = 0

    def lines() -> Iterator[bytes]:
        nonlocal count
        with archive.open(name) as source:
            while line := source.readline(MAX_LINE + 1):  # an overlong line is cut and fails as JSON
                count += 1
                yield line

    try:
        found = chain_problems(lines())
    except Exception as error:
        return [f"{name}: cannot be read from the zip ({error_line(error)})"]
    if count == 0:
        return [f"{name}: the custody log holds no entries"]
    shown = [f"{name}: {problem}" for problem in found[:MAX_CHAIN_PROBLEMS]]
    if len(found) > MAX_CHAIN_PROBLEMS:
        shown.append(f"{name}: and {len(found) - MAX_CHAIN_PROBLEMS} more breaks in the chain")
    return shown


def _plain(fingerprint_text: str) -> str:
    """A fingerprint without its "SHA256:" prefix, lowercase, for comparison."""
    text = fingerprint_text.strip().lower()
    return text.removeprefix("sha256:")


