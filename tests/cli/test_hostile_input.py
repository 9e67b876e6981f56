"""Hostile input, as a user's terminal sees it: the real ``likeness`` in a process of its own.

Every item of a batch gets its own result or one error line (at most 300 characters, printable, names
escaped); the good items of the same batch keep theirs; no warning or traceback reaches the user; a bad
config names its file. The names, files, URLs and servers are made here (tests/support/hostile.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from monitor.demo.synthetic import OTHER_VOICE
from tests.support.hostile import (
    UNPARSABLE_URLS,
    garbage_server,
    is_one_short_line,
    jpeg_with_hostile_exif,
    not_utf8_name,
    run_likeness,
    symlink_loop,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def loopback_allowed(monkeypatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "127.0.0.1")


def test_a_hostile_batch_gives_each_item_its_own_short_line_and_the_clones_are_still_found(
        tmp_path, make_performer, make_speech, grace_hopper_path, loopback_allowed):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 1))], face=[grace_hopper_path])
    clone = make_speech("clone", texts=(2,), suffix=".mp3")
    strange = tmp_path / "names"
    strange.mkdir()
    latin1_clone = not_utf8_name(strange, make_speech("clone2", texts=(3,)).read_bytes())
    newline_clone = strange / "two\nlines.mp3"
    shutil.copy(clone, newline_clone)
    with garbage_server() as garbage:
        targets = [
            clone, latin1_clone, newline_clone, symlink_loop(tmp_path),
            jpeg_with_hostile_exif(grace_hopper_path, tmp_path / "exif.jpg"),
            strange / "\x1b[31mred\x1b[0m.mp3",  # an escape sequence, in a name that does not exist
            strange / ("long-" * 50 + ".mp3"),
            *UNPARSABLE_URLS, f"{garbage}/clip.mp3",
        ]
        run = run_likeness("scan", *targets, "--json")

    assert run.code == 1  # some items failed
    rows = json.loads(run.stdout)
    assert len(rows) == len(targets)
    found = {i for i, row in enumerate(rows) if row["detections"]}
    assert {0, 1, 2, 4} <= found  # the clone under each name, and the photo despite its EXIF
    assert "\\xe9" in rows[1]["source"] and "\\n" in rows[2]["source"]
    failed = [row for row in rows if row["error"]]
    assert len(failed) == len(targets) - 4
    assert all(is_one_short_line(row["error"]) for row in failed)
    assert all(row["detections"] == [] for row in failed)
    errors = [line for line in run.stderr_lines if line.startswith("error: ")]
    assert len(errors) == len(failed) and len(run.stderr_lines) == len(failed)  # no warning, no traceback
    assert all(is_one_short_line(line) for line in run.stderr_lines)
    assert not any("\x1b" in line for line in run.stderr_lines)
    garbage_reason = rows[-1]["error"]
    assert garbage_reason.startswith("fetch failed") and len(garbage_reason) <= 200


def test_a_name_that_is_not_utf8_in_a_watched_folder_stops_nothing(tmp_path, likeness, make_performer, make_speech):
    make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 1))])
    folder = tmp_path / "watched"
    folder.mkdir()
    not_utf8_name(folder, make_speech("other", voice=OTHER_VOICE, texts=(3,)).read_bytes())  # walked first
    shutil.copy(make_speech("clone", texts=(2,), suffix=".mp3"), folder / "c-clone.mp3")
    assert likeness("source", "add", folder).exit_code == 0

    report = likeness("crawl", "--json").json
    assert report["errors"] == [] and report["media_new"] == 2
    assert [d["media"]["source"] for d in report["detections"]] == [str(folder / "c-clone.mp3")]


def test_a_config_that_is_not_utf8_is_one_line_naming_the_file(home):
    home.mkdir(parents=True)
    (home / "config.toml").write_bytes(b"[fetch]\nuser_agent = \"caf\xe9\"\n")
    run = run_likeness("performer", "list")
    assert run.code == 1 and run.stdout == ""
    assert run.stderr_lines == [f"error: {home / 'config.toml'}: not UTF-8 text (byte 26 cannot be read)"]


@pytest.mark.parametrize(("raised", "printed"), [
    ("pickle.UnpicklingError('pickle data was truncated')", ""),  # the parent died mid-order: nobody to tell
    ("EOFError()", ""),
    ("ValueError('bad\\nthing')", "error: analysis worker: unexpected ValueError: bad\n"),
])
def test_the_worker_fork_servers_failures_are_one_line_or_nothing(raised, printed):
    """What the fork server and its workers would otherwise print as a traceback (after a kill -9 of a crawl)."""
    code = f"import pickle, monitor.analysis.fork_server\nraise {raised}"
    environment = {key: value for key, value in os.environ.items() if key != "LIKENESS_DEBUG"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr == printed


def test_library_warnings_never_reach_the_terminal_but_do_with_likeness_debug(tmp_path, grace_hopper_path,
                                                                            make_performer):
    make_performer("Grace", face=[grace_hopper_path])
    photo = jpeg_with_hostile_exif(grace_hopper_path, tmp_path / "exif.jpg")
    quiet = run_likeness("scan", photo)
    assert quiet.code == 0 and quiet.stderr_lines == []
    other = tmp_path / "exif-again.jpg"  # other bytes: analysed again, not the stored result reused
    other.write_bytes(photo.read_bytes() + b"\0")
    loud = run_likeness("scan", other, env={**os.environ, "LIKENESS_DEBUG": "1"})
    assert any("Warning" in line for line in loud.stderr_lines)


def test_a_hostile_file_name_given_to_enrol_is_escaped_in_its_error(tmp_path, make_performer, home):
    performer_id = make_performer("Ada Voice")
    bad = tmp_path / "no\nsuch\x1b.wav"
    run = run_likeness("enroll", "voice", str(performer_id), bad)
    assert run.code == 1
    assert len(run.stderr_lines) == 1 and "no\\nsuch\\x1b.wav" in run.stderr_lines[0]
    assert is_one_short_line(run.stderr_lines[0])


@pytest.mark.parametrize("args", [
    ("performer", "add", "Evil\x1b[31mName", "--consent-by", "me"),
    ("performer", "add", "Two\nLines", "--consent-by", "me"),
    ("performer", "add", "Ada", "--consent-by", "me\x07"),
    ("source", "add", "/tmp/folder-\udce9"),  # a folder name that is not UTF-8, as Python holds it
    ("source", "add", "http://example.com/\x1b[2J", "--kind", "page"),
])
def test_text_that_is_kept_and_shown_again_must_be_printable(likeness, args):
    refused = likeness(*args)
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "must be printable text" in refused.stderr
    assert is_one_short_line(refused.stderr.rstrip("\n"))


def test_a_reference_whose_file_name_is_not_utf8_is_enrolled_under_its_escaped_name(tmp_path, likeness, make_speech,
                                                                                    make_performer):
    performer_id = make_performer("Ada Voice")
    reference = os.fsdecode(not_utf8_name(tmp_path, make_speech("reference", texts=(0, 1)).read_bytes()))
    enrolled = likeness("enroll", "voice", performer_id, reference, "--json")
    assert enrolled.exit_code == 0, enrolled.stderr
    [row] = enrolled.json
    assert row["accepted"] and row["file"].endswith("b-\\xe9t\\xe9.wav")
