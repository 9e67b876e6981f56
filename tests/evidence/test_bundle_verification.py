"""Evidence bundles verified offline: any changed, removed, added or reordered byte or file is found and named,
in one line per problem, and nothing a damaged bundle holds makes the verifier raise."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

from monitor.evidence.bundle import Member, write_bundle
from monitor.evidence.keys import fingerprint, public_key_pem
from monitor.evidence.verify import verify_bundle
from monitor.storage.chain import entry_hash, link
from tests.support.bundles import CREATED_BY, EVENTS, check, fake_timestamper, flip, jsonl, rewrite

# ------------------------------------------------------------------------------------------ verification

FIRST_PROBLEM = {
    "manifest.json": "manifest.json:",
    "manifest.json.sig": "manifest.json: signature does not verify with public-key.pem",
    "public-key.pem": "public-key.pem:",
    "manifest.json.tsr": "manifest.json.tsr: the token does not cover manifest.json",
}


@pytest.mark.parametrize("name", ["VERIFY.txt", "analysis.json", "custody.jsonl", "derived/excerpt.wav",
                                  "media/clip.mp4", "report.html", "SHA256SUMS", "manifest.json",
                                  "manifest.json.sig", "public-key.pem", "manifest.json.tsr"])
def test_one_changed_byte_in_any_file_is_found_and_named(tmp_path: Path, written: Path, name: str) -> None:
    problems = check(rewrite(written, tmp_path / "changed.zip", change={name: flip}))
    assert problems, f"a changed byte in {name} went unnoticed"
    assert problems[0].startswith(FIRST_PROBLEM.get(name, f"{name}: sha256 does not match the manifest")), problems


def test_a_changed_byte_in_the_archive_itself_is_found_in_each_file(tmp_path: Path, written: Path) -> None:
    with zipfile.ZipFile(written) as archive:
        infos = archive.infolist()
    raw = written.read_bytes()
    for info in infos:
        # The member's stored or deflated data starts after its local header (30 bytes, name, extra field).
        name_length, extra_length = int.from_bytes(raw[info.header_offset + 26:info.header_offset + 28], "little"), \
            int.from_bytes(raw[info.header_offset + 28:info.header_offset + 30], "little")
        start = info.header_offset + 30 + name_length + extra_length
        # A deflate stream's first bit (BFINAL) and last byte's high bits (padding) can change without changing
        # the content, which is what the manifest vouches for; inside the stream every bit counts.
        middle = start + info.compress_size // 2
        stored = info.compress_type == zipfile.ZIP_STORED
        for offset in (start, middle, start + info.compress_size - 1) if stored else (middle,):
            damaged = tmp_path / "damaged.zip"
            damaged.write_bytes(raw[:offset] + bytes([raw[offset] ^ 0x01]) + raw[offset + 1:])
            problems = check(damaged)
            assert problems, f"a flipped byte at {offset} in {info.filename} went unnoticed"
            assert info.filename in problems[0] or info.filename.startswith("manifest.json"), problems


def test_random_damage_never_raises_and_every_problem_is_one_line(tmp_path: Path, members: list[Member], key) -> None:
    small = tmp_path / "small.zip"
    write_bundle(small, members[1:], key, created_by=CREATED_BY, timestamper=fake_timestamper)
    raw, rng = small.read_bytes(), random.Random(7)
    for _ in range(300):
        offset = rng.randrange(len(raw))
        damaged = tmp_path / "damaged.zip"
        damaged.write_bytes(raw[:offset] + bytes([raw[offset] ^ (1 << rng.randrange(8))]) + raw[offset + 1:])
        check(damaged)  # one-line problems (or none, for a flip in a field nobody reads such as a time)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04" + bytes(100)])
def test_a_file_that_is_not_a_zip_is_one_problem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bundle.zip"
    path.write_bytes(content)
    assert check(path) == ["bundle.zip: not a readable zip archive (File is not a zip file)"]


def test_a_truncated_or_absent_bundle_is_one_problem(tmp_path: Path, written: Path) -> None:
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(written.read_bytes()[: written.stat().st_size // 2])
    assert len(check(truncated)) == 1 and check(truncated)[0].startswith("truncated.zip: not a readable zip")
    assert check(tmp_path / "nothing.zip") == [f"{tmp_path / 'nothing.zip'}: no such file"]


@pytest.mark.parametrize("name", ["media/clip.mp4", "custody.jsonl", "SHA256SUMS", "manifest.json.sig",
                                  "public-key.pem", "manifest.json"])
def test_a_removed_file_is_missing(tmp_path: Path, written: Path, name: str) -> None:
    problems = check(rewrite(written, tmp_path / "less.zip", drop=(name,)))
    assert problems[0] == f"missing file: {name}"


def test_an_added_file_is_extra_and_a_duplicate_or_unsafe_name_is_refused(tmp_path: Path, written: Path) -> None:
    assert check(rewrite(written, tmp_path / "more.zip", add={"notes.txt": b"x"})) == [
        "extra file not in the manifest: notes.txt"]
    problems = check(rewrite(written, tmp_path / "twice.zip", add={"report.html": b"<p>Other</p>"}))
    assert problems[0] == "duplicate entry in the zip: report.html"
    problems = check(rewrite(written, tmp_path / "unsafe.zip", add={"../outside.txt": b"x"}))
    assert problems[0].startswith("unsafe name in the zip: '../outside.txt'")
    assert "extra file not in the manifest: ../outside.txt" in problems


def test_reordered_or_rewritten_custody_entries_break_the_chain_even_when_re_signed(
        tmp_path: Path, members: list[Member], key) -> None:
    entries = link(EVENTS)
    swapped = [entries[0], entries[2], entries[1], entries[3]]
    forged = [*members[:3], Member("custody.jsonl", "custody", jsonl(swapped)), members[4]]
    problems = check(_write(tmp_path / "swapped.zip", forged, key))
    assert problems[0] == "custody.jsonl: entry 2 has seq 3, expected 2 (entries removed or reordered)"
    assert all(problem.startswith("custody.jsonl: entry") for problem in problems)
    edited = [dict(entry) for entry in entries]
    edited[1]["event"] = "nothing happened"
    edited[1]["hash"] = entry_hash(edited[1])  # a forger who recomputes the edited entry's own hash
    forged = [*members[:3], Member("custody.jsonl", "custody", jsonl(edited)), members[4]]
    assert check(_write(tmp_path / "edited.zip", forged, key)) == [
        "custody.jsonl: entry 3 does not carry the hash of entry 2"]
    empty = [*members[:3], Member("custody.jsonl", "custody", b""), members[4]]
    assert check(_write(tmp_path / "empty.zip", empty, key)) == ["custody.jsonl: the custody log holds no entries"]


def _write(out: Path, members: list[Member], key) -> Path:
    write_bundle(out, members, key, created_by=CREATED_BY)
    return out


def test_a_bundle_signed_by_another_key_is_found(tmp_path: Path, written: Path, key, other_key) -> None:
    manifest = zipfile.ZipFile(written).read("manifest.json")
    def their_signature(_: bytes) -> bytes:
        return other_key.sign(manifest)

    resigned = rewrite(written, tmp_path / "resigned.zip", change={"manifest.json.sig": their_signature})
    assert check(resigned) == ["manifest.json: signature does not verify with public-key.pem"]
    swapped = rewrite(written, tmp_path / "swapped.zip", change={"manifest.json.sig": their_signature,
                                                                 "public-key.pem": lambda _: public_key_pem(other_key)})
    assert check(swapped) == [f"public-key.pem: its fingerprint {fingerprint(other_key)} is not the manifest's "
                              f"{fingerprint(key)}"]
    theirs = _write(tmp_path / "theirs.zip", [Member("a.txt", "evidence", b"a")], other_key)
    assert check(theirs) == []  # a consistent bundle by another key: only the expected fingerprint tells
    assert check(theirs, expected_fingerprint=fingerprint(key)) == [
        f"signed by key {fingerprint(other_key)} not the expected {fingerprint(key)}"]
    assert check(theirs, expected_fingerprint=fingerprint(other_key).upper().removeprefix("SHA256:")) == []


def test_the_timestamp_hook(tmp_path: Path, written: Path, members: list[Member], key) -> None:
    unchecked = verify_bundle(written)
    assert unchecked.ok and any("not checked" in note for note in unchecked.notes)
    assert verify_bundle(written, verify_timestamp=lambda manifest, token: "the authority is not trusted").problems \
        == ["manifest.json.tsr: the authority is not trusted"]

    def broken(manifest: bytes, token: bytes) -> str | None:
        raise RuntimeError("parser fell over\nsecond line")

    assert verify_bundle(written, verify_timestamp=broken).problems == [
        "manifest.json.tsr: unexpected RuntimeError: parser fell over"]
    none = tmp_path / "none.zip"
    write_bundle(none, members, key, created_by=CREATED_BY, timestamper=lambda manifest: None)
    assert "manifest.json.tsr" not in zipfile.ZipFile(none).namelist() and check(none) == []
