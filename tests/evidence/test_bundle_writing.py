"""Evidence bundles: writing, signing and offline verification, with real keys, real files and the real
openssl/sha256sum command-line tools (those tests skip where the binaries are missing)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from enrollment.errors import LikenessError
from monitor.evidence import bundle
from monitor.evidence.bundle import Member, verify_text, write_bundle
from monitor.evidence.keys import ensure_key, fingerprint, load_key, public_key_pem
from monitor.evidence.verify import verify_bundle
from monitor.storage.chain import canonical, entry_hash, link

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


# ----------------------------------------------------------------------------------------------- writing


def test_a_written_bundle_verifies_and_describes_every_file(written: Path, members: list[Member], key) -> None:
    report = verify_bundle(written, verify_timestamp=fake_verifier, expected_fingerprint=fingerprint(key))
    assert report.ok, report.problems
    assert report.fingerprint == fingerprint(key)
    assert report.files == len(members) + 2  # plus VERIFY.txt and SHA256SUMS
    assert any("manifest.json.tsr" in note and "valid" in note for note in report.notes)
    with zipfile.ZipFile(written) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
        infos = archive.infolist()
        assert archive.read("VERIFY.txt").decode() == verify_text(manifest)
        assert archive.read("public-key.pem") == public_key_pem(key)
        assert len(archive.read("manifest.json.sig")) == 64
        sums = archive.read("SHA256SUMS").decode().splitlines()
    assert names == ["VERIFY.txt", "analysis.json", "custody.jsonl", "derived/excerpt.wav", "media/clip.mp4",
                     "report.html", "SHA256SUMS", "manifest.json", "manifest.json.sig", "public-key.pem",
                     "manifest.json.tsr"]
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in infos)
    media_info = next(info for info in infos if info.filename == "media/clip.mp4")
    assert media_info.compress_type == zipfile.ZIP_STORED
    assert written.stat().st_size < MEDIA_BYTES + 64 * 1024  # the media is held once
    assert manifest["format"] == "likeness-evidence/1"
    assert manifest["created_by"] == CREATED_BY
    assert manifest["public_key_fingerprint"] == fingerprint(key)
    listed = [entry["name"] for entry in manifest["members"]]
    assert listed == sorted(listed) == sorted([*(m.name for m in members), "VERIFY.txt", "SHA256SUMS"])
    entry = next(e for e in manifest["members"] if e["name"] == "derived/excerpt.wav")
    assert entry["role"] == "derived" and entry["derived_from"] == "media/clip.mp4" and "16 kHz" in entry["how"]
    media = next(e for e in manifest["members"] if e["name"] == "media/clip.mp4")
    assert media["size"] == MEDIA_BYTES
    assert media["sha256"] == hashlib.sha256(members[0].source.read_bytes()).hexdigest()
    assert set(media) == {"name", "size", "sha256", "role", "derived_from", "how", "media_type"}
    assert len(sums) == len(members) + 1 and all(re.fullmatch(r"[0-9a-f]{64}  \S+", line) for line in sums)
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_the_same_members_give_byte_identical_bundles(tmp_path: Path, members: list[Member], key) -> None:
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    manifest = write_bundle(first, members, key, created_by=CREATED_BY)
    assert write_bundle(second, list(reversed(members)), key, created_by=CREATED_BY) == manifest
    assert first.read_bytes() == second.read_bytes()
    assert "manifest.json.tsr" not in zipfile.ZipFile(first).namelist()
    assert verify_bundle(first).ok


def test_media_and_archives_are_stored_and_text_deflated(tmp_path: Path, key) -> None:
    out = tmp_path / "kinds.zip"
    write_bundle(out, [Member("media/a.audio", "evidence", b"a" * 1000, media_type="audio"),
                       Member("media/b.video", "evidence", b"b" * 1000, media_type="video/mp4"),
                       Member("capture/c.warc.gz", "capture", b"c" * 1000),
                       Member("notes.txt", "declaration", b"d" * 1000)], key, created_by=CREATED_BY)
    kinds = {info.filename: info.compress_type for info in zipfile.ZipFile(out).infolist()}
    assert [kinds[name] for name in ("media/a.audio", "media/b.video", "capture/c.warc.gz")] == [zipfile.ZIP_STORED] * 3
    assert kinds["notes.txt"] == kinds["manifest.json"] == zipfile.ZIP_DEFLATED


def test_standard_tools_check_the_bundle_as_verify_txt_says(tmp_path: Path, written: Path, key) -> None:
    tools = {name: shutil.which(name) for name in ("openssl", "sha256sum", "bash")}
    if not all(tools.values()):
        pytest.skip(f"missing: {', '.join(name for name, path in tools.items() if not path)}")
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(written) as archive:
        archive.extractall(folder)
    text = (folder / "VERIFY.txt").read_text()

    def run(command: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", "-c", command], cwd=folder, capture_output=True, text=True, timeout=60)

    def command_after(marker: str) -> str:
        return next(line.strip() for line in text.splitlines() if line.strip().startswith(marker))

    signature = run(command_after("openssl pkeyutl -verify"))
    assert signature.returncode == 0 and "Signature Verified Successfully" in signature.stdout
    printed = run(command_after("openssl pkey -pubin")).stdout.split()[0]
    assert f"SHA256:{printed}" == fingerprint(key) and fingerprint(key) in text
    sums = run(command_after("sha256sum -c"))
    assert sums.returncode == 0 and sums.stdout.count(": OK") == 6, sums.stdout + sums.stderr
    assert '"sha256"' in run(command_after('grep "$(sha256sum SHA256SUMS')).stdout
    script = text[text.index("python3 - "):text.index("\nEOF\n") + 5]
    chain = run(script)
    assert chain.returncode == 0 and chain.stdout.count(" OK") == len(EVENTS) and "BROKEN" not in chain.stdout

    (folder / "manifest.json").write_bytes(flip((folder / "manifest.json").read_bytes()))
    assert run(command_after("openssl pkeyutl -verify")).returncode != 0
    (folder / "report.html").write_bytes(flip((folder / "report.html").read_bytes()))
    assert "report.html: FAILED" in run(command_after("sha256sum -c")).stdout
    lines = (folder / "custody.jsonl").read_bytes().splitlines(keepends=True)
    (folder / "custody.jsonl").write_bytes(lines[0] + lines[2] + lines[1] + lines[3])
    assert "BROKEN" in run(script).stdout


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


# -------------------------------------------------------------------------------------- failing to write


def leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.endswith(".partial") or path.name == "out.zip")


def test_a_source_that_cannot_be_read_leaves_nothing(tmp_path: Path, members: list[Member], key) -> None:
    out = tmp_path / "out.zip"
    gone = Member("media/gone.mp4", "evidence", tmp_path / "gone.mp4")
    with pytest.raises(LikenessError, match=r"^media/gone\.mp4: cannot read .*gone\.mp4: No such file or directory; "
                                            r"nothing was written$"):
        write_bundle(out, [*members, gone], key, created_by=CREATED_BY)
    folder = Member("media/folder", "evidence", tmp_path)
    with pytest.raises(LikenessError, match=r"^media/folder: cannot read .*: Is a directory; nothing was written$"):
        write_bundle(out, [*members, folder], key, created_by=CREATED_BY)
    assert leftovers(tmp_path) == []


def test_an_interruption_or_a_failing_timestamper_leaves_nothing(tmp_path: Path, members: list[Member], key) -> None:
    out = tmp_path / "out.zip"

    def interrupted(manifest: bytes) -> bytes:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_bundle(out, members, key, created_by=CREATED_BY, timestamper=interrupted)
    assert leftovers(tmp_path) == []

    def failing(manifest: bytes) -> bytes:
        raise RuntimeError("boom")

    with pytest.raises(LikenessError, match=r"^cannot write .*out\.zip: unexpected RuntimeError: boom; nothing was "
                                            r"written$"):
        write_bundle(out, members, key, created_by=CREATED_BY, timestamper=failing)
    assert leftovers(tmp_path) == []


class FullDisk:
    """The temporary bundle file on a disk that fills up after ``room`` bytes."""

    def __init__(self, handle, room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, data) -> int:
        if self._handle.tell() + len(data) > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._handle.write(data)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def __enter__(self) -> FullDisk:
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()


def test_a_full_disk_gives_one_line_and_leaves_nothing(tmp_path: Path, members: list[Member], key,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    real = bundle._open_temp

    def on_full_disk(out: Path):
        path, handle = real(out)
        return path, FullDisk(handle, room=1 << 20)

    monkeypatch.setattr(bundle, "_open_temp", on_full_disk)
    out = tmp_path / "out.zip"
    with pytest.raises(LikenessError) as raised:
        write_bundle(out, members, key, created_by=CREATED_BY)
    assert str(raised.value) == f"no space left on the disk holding {out}: nothing was written"
    assert leftovers(tmp_path) == []


def test_an_existing_bundle_is_kept_unless_overwriting_is_asked(tmp_path: Path, members: list[Member], key) -> None:
    out = tmp_path / "out.zip"
    out.write_bytes(b"earlier bundle")
    with pytest.raises(LikenessError, match="already exists: not overwritten"):
        write_bundle(out, members, key, created_by=CREATED_BY)
    gone = Member("media/gone.mp4", "evidence", tmp_path / "gone.mp4")
    with pytest.raises(LikenessError):
        write_bundle(out, [*members, gone], key, created_by=CREATED_BY, overwrite=True)
    assert out.read_bytes() == b"earlier bundle"  # a failed overwrite leaves the old bundle whole
    write_bundle(out, members, key, created_by=CREATED_BY, overwrite=True)
    assert verify_bundle(out).ok and leftovers(tmp_path) == ["out.zip"]
    with pytest.raises(LikenessError, match=r"the folder .* does not exist"):
        write_bundle(tmp_path / "no" / "out.zip", members, key, created_by=CREATED_BY)


@pytest.mark.parametrize("name", ["../up.txt", "/etc/passwd", "a//b", "a/./b", "a\\b", "line\nbreak", "", "dir/",
                                  "manifest.json", "VERIFY.txt", "SHA256SUMS"])
def test_unsafe_or_reserved_member_names_are_refused_before_writing(tmp_path: Path, key, name: str) -> None:
    with pytest.raises(LikenessError, match=r"^cannot put"):
        write_bundle(tmp_path / "out.zip", [Member(name, "evidence", b"x")], key, created_by=CREATED_BY)
    with pytest.raises(LikenessError, match="twice"):
        write_bundle(tmp_path / "out.zip", [Member("a", "evidence", b"x")] * 2, key, created_by=CREATED_BY)
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------------ memory

MEMORY_SCRIPT = """
import json, resource, sys
from pathlib import Path
from monitor.evidence.bundle import Member, write_bundle
from monitor.evidence.keys import ensure_key, load_key
from monitor.evidence.verify import verify_bundle

folder = Path(sys.argv[1])
key = load_key(ensure_key(folder / "keys"))
big = folder / "big.mp4"
with open(big, "wb") as handle:
    handle.truncate(200 << 20)  # sparse: 200 MB to stream without 200 MB of disk for the source
write_bundle(folder / "warm.zip", [Member("a.mp4", "evidence", b"x" * 4096)], key, created_by={})
verify_bundle(folder / "warm.zip")  # every code path loaded before the baseline is taken
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # ru_maxrss is in KiB on Linux
base = peak()
write_bundle(folder / "big.zip", [Member("media/big.mp4", "evidence", big, media_type="video/mp4")], key,
             created_by={"tool": "likeness-monitor"})
written = peak()
report = verify_bundle(folder / "big.zip")
print(json.dumps({"write": written - base, "verify": peak() - base, "ok": report.ok,
                  "size": (folder / "big.zip").stat().st_size}))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss units differ outside Linux")
def test_a_200_mb_file_is_written_and_verified_in_bounded_memory(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                            timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["ok"]
    assert measured["write"] < 50 << 20 and measured["verify"] < 50 << 20, measured
    assert (200 << 20) < measured["size"] < (200 << 20) + (1 << 20)  # stored once, not deflated, not copied twice
