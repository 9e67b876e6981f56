"""Evidence bundles written: what is in them, that standard tools check them as VERIFY.txt says, and that a
write that fails (a source unreadable, an interruption, a full disk) leaves nothing behind. Real keys, real
files and the real openssl/sha256sum command-line tools (those tests skip where the binaries are missing)."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from enrollment.errors import LikenessError
from monitor.evidence import bundle
from monitor.evidence.bundle import Member, verify_text, write_bundle
from monitor.evidence.keys import fingerprint, public_key_pem
from monitor.evidence.verify import verify_bundle
from tests.support.bundles import CREATED_BY, EVENTS, MEDIA_BYTES, fake_verifier, flip
from tests.support.paths import ROOT

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
                            timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    measured = json.loads(result.stdout)
    assert measured["ok"]
    assert measured["write"] < 50 << 20 and measured["verify"] < 50 << 20, measured
    assert (200 << 20) < measured["size"] < (200 << 20) + (1 << 20)  # stored once, not deflated, not copied twice
