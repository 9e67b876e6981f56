"""Evidence bundles (format ``likeness-evidence/1``): a signed ZIP that a court expert can check offline.

A bundle is a ZIP archive; every entry has the fixed time 1980-01-01 00:00 and mode 0644, in this order:

* ``VERIFY.txt`` (role ``readme``): how to check the bundle with unzip, sha256sum and openssl.
* the caller's members in name order (media, WARC captures, analysis.json, report.html, custody.jsonl, …),
  media and other compressed files stored, text deflated.
* ``SHA256SUMS`` (role ``readme``): ``<sha256>  <name>`` lines (sha256sum format) for every member except
  itself; it is a member, so its own hash is in the signed manifest.
* ``manifest.json``: UTF-8 JSON, keys sorted, 2-space indent, ``\\n`` at the end (readable by a person;
  verifiers check the signature over the exact bytes and never re-serialise)::

      {"format": "likeness-evidence/1",
       "created_by": {...the caller's dict: tool, version; no time unless the caller put one there...},
       "public_key_fingerprint": "SHA256:<64 hex>",          # see monitor.evidence.keys.fingerprint
       "signature": "Ed25519 over the exact bytes of manifest.json; 64 raw bytes in manifest.json.sig",
       "members": [{"name", "size" (bytes), "sha256" (hex), "role", "derived_from", "how", "media_type"}, ...]}

  ``members`` is sorted by name and lists every entry except the four below, so the same members always
  give byte-identical manifests.
* ``manifest.json.sig``: the raw 64-byte Ed25519 signature (raw, not base64, so that
  ``openssl pkeyutl -verify -rawin -sigfile`` reads it as it is).
* ``public-key.pem``: the signing key's public half (PEM SubjectPublicKeyInfo); its fingerprint must equal
  the manifest's ``public_key_fingerprint``.
* ``manifest.json.tsr`` (optional, role "timestamp"): an RFC 3161 TimeStampToken (DER) over manifest.json,
  from the ``timestamper`` callable (see ``timestamp``); it cannot be listed in the manifest it stamps.

Bundles are checked by :func:`monitor.evidence.verify.verify_bundle`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import shlex
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, BinaryIO

from enrollment.errors import LikenessError, unexpected
from monitor.evidence.keys import fingerprint, public_key_pem

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

FORMAT = "likeness-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
PUBLIC_KEY = "public-key.pem"
TIMESTAMP = "manifest.json.tsr"
README = "VERIFY.txt"
SUMS = "SHA256SUMS"
SIGNATURE_FILES = (MANIFEST, SIGNATURE, PUBLIC_KEY, TIMESTAMP)
"""Entries covered by the signature rule rather than listed in the manifest."""
RESERVED = (*SIGNATURE_FILES, README, SUMS)
"""Names the bundle writes itself; no caller member may take them."""
SIGNATURE_NOTE = "Ed25519 over the exact bytes of manifest.json; 64 raw bytes in manifest.json.sig"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time ZIP can hold: entries never carry the export time
CHUNK = 1 << 20  # bytes copied and hashed at a time: memory stays bounded whatever the file size

# Already compressed: deflating them again costs time and saves nothing.
STORE_ABOVE = 64 << 20  # bytes; larger files are stored whatever their type (see _store)
_STORED_TYPES = ("application/zip", "application/gzip", "application/x-gzip", "application/warc+gzip")
_STORED_SUFFIXES = frozenset({
    ".mp3", ".mp4", ".m4a", ".m4v", ".aac", ".ogg", ".oga", ".opus", ".webm", ".mkv", ".mov", ".avi", ".flac",
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic", ".gz", ".zip", ".zst", ".xz", ".bz2", ".7z",
})


@dataclass(frozen=True)
class Member:
    """One file to put in a bundle.

    ``name``: path inside the archive (POSIX, relative, no ``..``, no backslash or control characters).
    ``role``: what it is for: "evidence", "derived", "capture", "analysis", "report", "custody",
    "declaration", "readme" (members with role "custody" are checked as hash chains, see ``chain``).
    ``source``: a file (streamed, never read whole) or the bytes themselves.
    ``derived_from``/``how``: for working copies, normally the name of the member it was made from and
    how (e.g. "excerpt 00:01:05-00:01:35, re-encoded to 16 kHz mono WAV").
    ``media_type``: e.g. "video/mp4"; also decides whether the entry is stored or deflated.
    """

    name: str
    role: str
    source: Path | bytes
    derived_from: str | None = None
    how: str | None = None
    media_type: str | None = None


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a safe archive path, or ``None`` if it is (shared with the verifier)."""
    if not isinstance(name, str) or not name:
        return "empty"
    if any(ord(char) < 32 or ord(char) == 127 for char in name) or "\\" in name:
        return "control character or backslash"
    if name.startswith("/") or any(part in ("", ".", "..") for part in name.split("/")):
        return "absolute, empty or '..' path component"
    return None


def write_bundle(
    out: Path,
    members: list[Member],
    key: Ed25519PrivateKey,
    *,
    created_by: dict,
    timestamper: Callable[[bytes], bytes | None] | None = None,
    overwrite: bool = False,
) -> dict:
    """Write a signed bundle of ``members`` to ``out`` and return its manifest (the dict in manifest.json).

    Streams every file in 1 MiB chunks (bounded memory, each file stored once). The archive is written to a
    hidden temporary file beside ``out`` (mode 0600) and renamed into place only when complete; on any
    failure the temporary file is removed and a one-line ``LikenessError`` says why ("no space left on the
    disk holding …: nothing was written"). ``KeyboardInterrupt`` also removes it, then propagates.
    ``timestamper(manifest_bytes)`` may return an RFC 3161 token (DER) to store as manifest.json.tsr, or None.
    """
    out = Path(out)
    _check_members(members)
    try:
        json.dumps(created_by, allow_nan=False)
    except (TypeError, ValueError):
        raise LikenessError("cannot write a bundle: created_by must hold only JSON values (text, numbers)") from None
    if (out.exists() or out.is_symlink()) and not overwrite:
        raise LikenessError(f"{out} already exists: not overwritten (remove it or choose another name)")
    if not out.parent.is_dir():
        raise LikenessError(f"cannot write {out}: the folder {out.parent} does not exist")
    temp: Path | None = None
    try:
        temp, raw = _open_temp(out)
        with raw:
            with zipfile.ZipFile(raw, "w", allowZip64=True) as archive:
                manifest = _fill(archive, members, key, created_by, timestamper)
            raw.flush()
            os.fsync(raw.fileno())  # the rename below must never publish a bundle still in the page cache
        os.replace(temp, out)
    except BaseException as error:
        if temp is not None:
            with contextlib.suppress(OSError):
                temp.unlink()
        if isinstance(error, (LikenessError, KeyboardInterrupt, SystemExit)):
            raise
        raise LikenessError(_write_failure(error, out)) from error
    return manifest


def verify_text(manifest: dict) -> str:
    """The text of VERIFY.txt for a manifest: what is inside and how to check it with standard tools.

    Uses the format, creator, fingerprint and each member's name, role, derived_from and how (never sizes
    or hashes, which are not known when VERIFY.txt is written first), so the bundle's own manifest gives
    back exactly the VERIFY.txt it holds.
    """
    creator = manifest.get("created_by") or {}
    tool = " ".join(str(creator[field]) for field in ("tool", "version") if creator.get(field)) or "Likeness Monitor"
    members = manifest.get("members", [])
    width = max([len(m["name"]) for m in members] + [len(TIMESTAMP)]) + 2
    listing = []
    for member in members:
        line = f"  {member['name']:<{width}}{member['role']}"
        if member.get("derived_from"):
            line += f", from {member['derived_from']}"
        if member.get("how"):
            line += f": {member['how']}"
        listing.append(line)
    custody = [m["name"] for m in members if m["role"] == "custody"]
    chains = _CUSTODY_STEP.format(names=", ".join(custody), args=" ".join(map(shlex.quote, custody))) if custody else ""
    return _VERIFY_TEMPLATE.format(
        format=manifest.get("format", FORMAT), tool=tool, fingerprint=manifest.get("public_key_fingerprint", "?"),
        listing="\n".join(listing), custody=chains,
        manifest=f"{MANIFEST:<{width}}", sig=f"{SIGNATURE:<{width}}", pub=f"{PUBLIC_KEY:<{width}}",
        tsr=f"{TIMESTAMP:<{width}}",
    )


# ------------------------------------------------------------------------------------------------ internals


def _check_members(members: list[Member]) -> None:
    """Refuse, before anything is written, names that are unsafe, reserved or given twice."""
    seen: set[str] = set()
    for member in members:
        why = name_problem(member.name)
        if why:
            raise LikenessError(f"cannot put {member.name!r} in a bundle: the name is unsafe ({why})")
        if member.name in RESERVED:
            raise LikenessError(f"cannot put {member.name} in a bundle: the bundle writes that name itself")
        if member.name in seen:
            raise LikenessError(f"cannot put {member.name} in a bundle twice")
        if not isinstance(member.source, (Path, bytes)):
            raise LikenessError(f"cannot put {member.name} in a bundle: its source is neither a file nor bytes")
        if not isinstance(member.role, str) or not member.role:
            raise LikenessError(f"cannot put {member.name} in a bundle without a role")
        seen.add(member.name)


def _open_temp(out: Path) -> tuple[Path, BinaryIO]:
    """A new hidden file beside ``out`` (same disk, so the final rename is atomic), open for writing."""
    fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    return Path(name), os.fdopen(fd, "wb")


def _fill(archive: zipfile.ZipFile, members: list[Member], key: Ed25519PrivateKey, created_by: dict,
          timestamper: Callable[[bytes], bytes | None] | None) -> dict:
    """Write every entry of the bundle into ``archive``; return the manifest."""
    own = [Member(README, "readme", b""), Member(SUMS, "readme", b"")]
    entries = {m.name: _entry(m) for m in sorted([*members, *own], key=lambda m: m.name)}
    manifest = {
        "format": FORMAT,
        "created_by": created_by,
        "public_key_fingerprint": fingerprint(key),
        "signature": SIGNATURE_NOTE,
        "members": list(entries.values()),  # sizes and hashes are filled in below, as each file is copied
    }
    readme = verify_text(manifest).encode("utf-8")
    entries[README].update(_copy(archive, Member(README, "readme", readme)))
    for member in sorted(members, key=lambda m: m.name):
        entries[member.name].update(_copy(archive, member))
    sums = "".join(f"{e['sha256']}  {e['name']}\n" for e in entries.values() if e["name"] != SUMS)
    entries[SUMS].update(_copy(archive, Member(SUMS, "readme", sums.encode("utf-8"))))
    manifest_bytes = json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=True).encode("ascii") + b"\n"
    _copy(archive, Member(MANIFEST, "manifest", manifest_bytes))
    _copy(archive, Member(SIGNATURE, "signature", key.sign(manifest_bytes)))
    _copy(archive, Member(PUBLIC_KEY, "key", public_key_pem(key)))
    token = timestamper(manifest_bytes) if timestamper is not None else None
    if token:
        _copy(archive, Member(TIMESTAMP, "timestamp", token))
    return manifest


def _entry(member: Member) -> dict:
    """The manifest entry of a member, before its size and hash are known."""
    return {"name": member.name, "size": None, "sha256": None, "role": member.role,
            "derived_from": member.derived_from, "how": member.how, "media_type": member.media_type}


def _copy(archive: zipfile.ZipFile, member: Member) -> dict:
    """Stream one member into the archive; return its ``{"size": bytes, "sha256": hex}``."""
    source: BinaryIO
    if isinstance(member.source, bytes):
        source, size = io.BytesIO(member.source), len(member.source)
    else:
        try:
            source = open(member.source, "rb")  # noqa: SIM115  (closed by the with below)
            size = os.fstat(source.fileno()).st_size
        except OSError as error:
            raise LikenessError(_read_failure(member, error)) from None
    info = zipfile.ZipInfo(member.name, date_time=ZIP_TIME)
    info.compress_type = zipfile.ZIP_STORED if _store(member, size) else zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16  # a regular file, rw-r--r-- once unpacked
    info.create_system = 3  # Unix, whichever system writes it: same bytes everywhere
    info.file_size = size  # lets zipfile choose ZIP64 before writing; the real count replaces it at the end
    digest, copied = hashlib.sha256(), 0
    with source, archive.open(info, "w") as target:
        while True:
            try:
                chunk = source.read(CHUNK)
            except OSError as error:
                raise LikenessError(_read_failure(member, error)) from None
            if not chunk:
                break
            digest.update(chunk)
            target.write(chunk)
            copied += len(chunk)
    return {"size": copied, "sha256": digest.hexdigest()}


def _store(member: Member, size: int) -> bool:
    """True for media, archives and large files, stored as they are: deflating them again costs minutes
    for a few percent at best. Media types may be full ("video/mp4") or bare ("video", as the database keeps them)."""
    media_type = (member.media_type or "").lower()
    if size > STORE_ABOVE or media_type in _STORED_TYPES or media_type.split("/")[0] in ("audio", "video", "image"):
        return media_type != "image/svg+xml"
    return PurePosixPath(member.name).suffix.lower() in _STORED_SUFFIXES


def _read_failure(member: Member, error: OSError) -> str:
    return f"{member.name}: cannot read {member.source}: {error.strerror or error}; nothing was written"


def _write_failure(error: BaseException, out: Path) -> str:
    """One line for a failure while writing ``out``."""
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"no space left on the disk holding {out}: nothing was written"
    if isinstance(error, OSError):
        return f"cannot write {out}: {error.strerror or error}; nothing was written"
    return f"cannot write {out}: {unexpected(error)}; nothing was written"


_VERIFY_TEMPLATE = """\
Evidence bundle, format {format}, written by {tool}.

Its manifest is signed with the Ed25519 key whose fingerprint is
  {fingerprint}
Compare it with the fingerprint the sender gave you by another channel (letter, telephone).

WHAT IS INSIDE
{listing}
  {manifest}every file above with its size in bytes, SHA-256 and role (JSON)
  {sig}Ed25519 signature over the exact bytes of manifest.json (64 raw bytes)
  {pub}the public key that made the signature (PEM)
  {tsr}(only if present) RFC 3161 time-stamp token over manifest.json (DER)

HOW TO CHECK IT WITH STANDARD TOOLS
OpenSSL 3.0 or later. On macOS use `shasum -a 256` wherever this says `sha256sum`.
BUNDLE.zip stands for the name of this bundle's file.

1. Unpack it into a new folder and work there:
     unzip BUNDLE.zip -d bundle && cd bundle

2. The signature over the manifest; openssl must print "Signature Verified Successfully":
     openssl pkeyutl -verify -pubin -inkey public-key.pem -rawin -in manifest.json -sigfile manifest.json.sig

3. The key is the one you expect. This prints 64 hex digits that must equal the fingerprint above
   (after "SHA256:") and the one the sender gave you (the fingerprint is the SHA-256 of the raw
   32-byte public key, which ends the key's DER form):
     openssl pkey -pubin -in public-key.pem -outform DER | tail -c 32 | sha256sum

4. Every file is unchanged; each line must end in "OK":
     sha256sum -c SHA256SUMS

5. SHA256SUMS itself is covered by the signed manifest: this must print its "sha256" line of manifest.json:
     grep "$(sha256sum SHA256SUMS | cut -c1-64)" manifest.json

6. Nothing was added or removed: the archive must hold exactly the files listed in manifest.json plus
   manifest.json, manifest.json.sig, public-key.pem and, if present, manifest.json.tsr:
     unzip -Z1 ../BUNDLE.zip

7. If manifest.json.tsr is present: when the manifest existed, according to the time-stamp authority
   (tsa-ca.pem is that authority's root CA certificate; add -untrusted with its intermediate
   certificates if the token does not carry them); openssl must print "Verification: OK":
     openssl ts -verify -data manifest.json -in manifest.json.tsr -token_in -CAfile tsa-ca.pem

{custody}All of the above in one command, where Likeness Monitor is installed:
  likeness evidence verify BUNDLE.zip
"""

# Step 8 of VERIFY.txt, for bundles with custody logs. The script is flush left: it is pasted into a shell.
_CUSTODY_STEP = """\
8. The custody logs ({names}): one JSON object per line with "seq" (1, 2, ...), "prev_hash"
   (the "hash" of the line before; 64 zeros on the first line) and "hash" (the SHA-256 of the line's
   canonical JSON without "hash": keys sorted, no spaces, ASCII). Any edited, removed, added or reordered
   line breaks the chain. With Python 3 (every line must say OK):
python3 - {args} <<'EOF'
import hashlib, json, sys
for name in sys.argv[1:]:
    prev = "0" * 64
    for n, line in enumerate(open(name, "rb"), 1):
        e = json.loads(line); h = e.pop("hash")
        ok = e["seq"] == n and e["prev_hash"] == prev and h == hashlib.sha256(
            json.dumps(e, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        print(name, n, "OK" if ok else "BROKEN"); prev = h
EOF

"""
