"""The evidence tests' fixtures: signing keys, and a bundle's members, written (the timestamp authority
is tests/conftest.py's)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from monitor.evidence.bundle import Member, write_bundle
from monitor.evidence.keys import ensure_key, load_key
from monitor.storage.chain import link
from tests.support.bundles import CREATED_BY, EVENTS, MEDIA_BYTES, fake_timestamper, jsonl

# ------------------------------------------------------------------------------------------ bundles


@pytest.fixture
def key(tmp_path: Path):
    ensure_key(tmp_path / "keys")
    return load_key(tmp_path / "keys")


@pytest.fixture
def other_key(tmp_path: Path):
    ensure_key(tmp_path / "other-keys")
    return load_key(tmp_path / "other-keys")


@pytest.fixture
def members(tmp_path: Path) -> list[Member]:
    media = tmp_path / "clip.mp4"
    media.write_bytes(random.Random(5).randbytes(MEDIA_BYTES))
    return [
        Member("media/clip.mp4", "evidence", media, media_type="video/mp4"),
        Member("analysis.json", "analysis", b'{"score": "0.91", "threshold": "0.75"}\n',
               media_type="application/json"),
        Member("derived/excerpt.wav", "derived", b"RIFF" + bytes(range(256)) * 40, derived_from="media/clip.mp4",
               how="excerpt 00:00:05-00:00:35, 16 kHz mono WAV", media_type="audio/wav"),
        Member("custody.jsonl", "custody", jsonl(link(EVENTS)), media_type="application/jsonl"),
        Member("report.html", "report", b"<!doctype html><title>Report</title><p>Match.</p>\n" * 50),
    ]


@pytest.fixture
def written(tmp_path: Path, members: list[Member], key) -> Path:
    out = tmp_path / "bundle.zip"
    write_bundle(out, members, key, created_by=CREATED_BY, timestamper=fake_timestamper)
    return out
