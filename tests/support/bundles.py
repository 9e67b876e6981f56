"""Evidence bundles' test material: the members' shared facts, a stand-in timestamp authority, and ways to
damage a bundle and check what the verifier says about it."""

from __future__ import annotations

import hashlib
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

from monitor.evidence.verify import verify_bundle
from monitor.storage.chain import canonical

CREATED_BY = {"tool": "likeness-monitor", "version": "0.1.0"}
EVENTS = [{"event": "fetched", "at": "2026-11-25T12:00:00Z"}, {"event": "hashed", "at": "2026-11-25T12:00:01Z"},
          {"event": "analysed", "at": "2026-11-25T12:00:02Z"}, {"event": "exported", "at": "2026-11-25T12:00:03Z"}]
MEDIA_BYTES = 3 << 20


def jsonl(entries: list[dict]) -> bytes:
    return b"".join(canonical(entry) + b"\n" for entry in entries)


def fake_timestamper(manifest: bytes) -> bytes:
    """Stands in for an RFC 3161 authority (timestamp.py is tested on its own): a token bound to the bytes."""
    return b"TOKEN:" + hashlib.sha256(manifest).hexdigest().encode()


def fake_verifier(manifest: bytes, token: bytes) -> str | None:
    return None if token == fake_timestamper(manifest) else "the token does not cover manifest.json"


def check(path: Path, **options) -> list[str]:
    report = verify_bundle(path, verify_timestamp=fake_verifier, **options)
    assert all("\n" not in problem for problem in report.problems)
    assert report.ok == (not report.problems)
    return report.problems


def rewrite(src: Path, dst: Path, *, change: dict[str, Callable[[bytes], bytes]] | None = None,
            drop: tuple[str, ...] = (), add: dict[str, bytes] | None = None) -> Path:
    """A copy of the bundle with some entries' contents changed, some left out and some added."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w") as new, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names some tests add on purpose
        for info in old.infolist():
            if info.filename not in drop:
                data = old.read(info)
                new.writestr(info, (change or {}).get(info.filename, lambda same: same)(data))
        for name, data in (add or {}).items():
            new.writestr(name, data)
    return dst


def flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]
