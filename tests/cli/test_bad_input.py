"""Bad input: every broken, hostile or useless item gets one clear line, never a traceback.

README, "Bad input": corrupt or truncated media, a text file named .mp3, an empty file, a 10-hour
recording, a 20000×20000 image, a photo without a face, a URL that 404s: each gets a clear one-line
reason (or "nothing found"), never a traceback and never a half-written row; one bad file does not
stop the others in the same command. Size and duration limits live in config.

Every file is made at test time (nothing is mocked); URLs are served by a real HTTP server on
127.0.0.1. Failures print ``error: <source>: <reason>`` on stderr, one line per failed item.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from enrollment.agencies import agency_for
from enrollment.models import Performer
from monitor.config import load_config
from monitor.demo.synthetic import OTHER_VOICE, PERFORMER_VOICE, TEXTS, synthesise, write_audio, write_video
from monitor.storage.db import open_database
from monitor.storage.models import Detection, Media, Sighting
from tests.support.faults import (
    RATE_HZ,
    cut,
    fifo,
    garble,
    long_silent_wav,
    noise_image,
    png_header_only,
    seconds,
    understate_duration,
)

HTML = b"<!doctype html><html><head><title>Not audio</title></head><body>" + b"<p>lorem ipsum</p>" * 200 + b"</body>"


# -------------------------------------------------------------------------------------- helpers


def assert_one_line_per_failure(result, rows: list[dict], reason_key: str) -> None:
    """No traceback; stderr is one ``error: <item>: <reason>`` line for each failed row (and any ``warning:``)."""
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    failed = [row for row in rows if row.get(reason_key) and not row.get("accepted", False)]
    for row in failed:
        assert "\n" not in row[reason_key], row[reason_key]
    item_key = "file" if reason_key == "reason" else "source"
    expected = sorted(f"error: {row[item_key]}: {row[reason_key]}" for row in failed)
    assert sorted(line for line in result.stderr.splitlines() if not line.startswith("warning: ")) == expected


@pytest.fixture
def web(monkeypatch) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (random port): /page.mp3 is HTML sent as audio/mpeg, /silent.mp3
    answers nothing until the server stops, anything else is a 404."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "127.0.0.1")  # a loopback address must be allowed explicitly
    stopping = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/silent.mp3":
                stopping.wait()
            elif self.path == "/page.mp3":
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(HTML)))
                self.end_headers()
                self.wfile.write(HTML)
            else:
                self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    stopping.set()
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    """A loopback URL where no server listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/clip.mp3"


# ------------------------------------------------------------------------------------------ scan


@pytest.fixture
def bad_batch(tmp_path: Path, home: Path, likeness, make_performer, make_speech, grace_hopper_path, web) -> dict:
    """One ``scan --json`` of every kind of bad item among good ones, for a performer with voice and face."""
    home.mkdir(parents=True)
    # a timeout /silent.mp3 outlasts (it never answers) and the other URLs, answered at once, never come near
    (home / "config.toml").write_text("[fetch]\ntimeout_s = 5.0\n")
    performer_id = make_performer("Ada Voice", voice=[make_speech("reference", texts=(0, 1))],
                                  face=[grace_hopper_path])
    clone = make_speech("clone", texts=(2,), suffix=".mp3")
    tone = (0.3 * np.sin(2 * np.pi * 220 * seconds(6))).astype(np.float32)
    video = write_video(tmp_path / "video.mp4", [np.full((64, 64, 3), 40 * i, np.uint8) for i in range(6)],
                        audio=tone)
    random_bytes, text, empty, folder = (tmp_path / name for name in ("random.mp3", "notes.mp3", "empty.wav", "dir"))
    random_bytes.write_bytes(np.random.default_rng(2).bytes(20_000))
    text.write_text("These are my notes, not a recording.\n" * 50)
    empty.touch()
    folder.mkdir()
    # label: (target, what its error says; "": scanned without error, what can be decoded of it)
    items: dict[str, tuple[str, str]] = {
        "clone": (str(clone), ""),
        "random bytes named .mp3": (str(random_bytes), "not a readable audio, video or image file"),
        "clone with garbage over its middle third": (str(garble(clone, tmp_path / "garbled.mp3", 1 / 3, 1 / 3)), ""),
        "clone damaged near its start": (str(garble(clone, tmp_path / "damaged.mp3", 0.2, 0.01)), ""),
        "clone cut in half (mp3 decodes)": (str(cut(clone, tmp_path / "half-clone.mp3")), ""),
        "m4a cut in half (index lost)": (str(cut(write_audio(tmp_path / "tone.m4a", tone), tmp_path / "half.m4a")),
                                         "not a readable audio, video or image file"),
        "mp4 cut in half (index lost)": (str(cut(video, tmp_path / "half.mp4")), "not a readable"),
        "text named .mp3": (str(text), "a text file, not audio, video or an image"),
        "empty file": (str(empty), "empty file (0 bytes)"),
        "missing path": (str(tmp_path / "no-such-file.mp3"), "no such file"),
        "directory": (str(folder), "is a directory, not a file"),
        "named pipe (reading it would block)": (str(fifo(tmp_path / "pipe.mp3")), "not a regular file"),
        "10-hour recording": (str(long_silent_wav(tmp_path / "ten-hours.wav", 10 * 3600)),
                              "media is 10.0 h long; the limit is media.max_duration_s = 4.0 h"),
        "20000×20000 image": (str(png_header_only(tmp_path / "huge.png", 20_000, 20_000)),
                              "image is 20000×20000 = 400 Mpx; the limit is media.max_image_pixels = 50 Mpx"),
        "corrupt JPEG": (str(garble(grace_hopper_path, tmp_path / "corrupt.jpg", 1 / 3, 1 / 3)), "corrupt"),
        "JPEG with a garbled header": (str(garble(grace_hopper_path, tmp_path / "bad-header.jpg", 0.005, 0.08)),
                                       "not a readable audio, video or image file"),
        "photo without a face": (str(noise_image(tmp_path / "no-face.png")), ""),
        "URL that 404s": (f"{web}/gone.mp3", "HTTP 404 Not Found"),
        "URL whose server is down": (closed_port_url(), "cannot connect to 127.0.0.1:"),
        "URL that never answers": (f"{web}/silent.mp3", "timed out after 5 s"),
        "HTML served as audio/mpeg": (f"{web}/page.mp3", "an HTML page, not audio, video or an image"),
    }
    result = likeness("scan", *(target for target, _ in items.values()), "--json")
    return {"items": items, "result": result, "performer_id": performer_id}


@pytest.mark.slow
def test_one_scan_gives_each_bad_item_a_one_line_reason_and_still_finds_the_clones(bad_batch: dict) -> None:
    items, result = bad_batch["items"], bad_batch["result"]
    assert result.exit_code == 1, result.stderr
    rows = result.json
    assert len(rows) == len(items), "every item is listed, failed or not"
    for (label, (target, expected)), row in zip(items.items(), rows, strict=True):
        assert row["source"] in (target, str(Path(target).resolve())), label
        if expected:
            assert expected in (row["error"] or ""), f"{label}: {row['error']!r}"
            assert row["detections"] == [], label
        else:
            assert row["error"] is None, f"{label}: {row['error']!r}"
    assert_one_line_per_failure(result, rows, "error")

    by_label = dict(zip(items, rows, strict=True))
    for label in ("clone", "clone cut in half (mp3 decodes)", "clone damaged near its start",
                  "clone with garbage over its middle third"):
        found = [(d["performer_id"], d["modality"]) for d in by_label[label]["detections"]]
        assert found == [(bad_batch["performer_id"], "voice")], label
    [damaged] = by_label["clone damaged near its start"]["detections"]
    assert max(span["end_s"] for span in damaged["segments"]) > 7, "the damage does not hide the rest of the clip"
    assert by_label["photo without a face"]["media_type"] == "image"
    assert by_label["photo without a face"]["detections"] == []


@pytest.mark.slow
def test_a_failed_item_leaves_no_half_written_rows_and_its_reason_is_kept(bad_batch: dict, likeness) -> None:
    rows = dict(zip(bad_batch["items"], bad_batch["result"].json, strict=True))
    with open_database(load_config().database_url)() as session:
        detected = {d.media.sha256 for d in session.scalars(select(Detection))}
        media_rows = list(session.scalars(select(Media)))
        seen = {s.source: s.media for s in session.scalars(select(Sighting))}
    assert detected == {row["sha256"] for row in rows.values() if row["detections"]}
    assert all(not row["error"] for row in rows.values() if row["sha256"] in detected), "no detection for bad media"
    for media in media_rows:  # each one analysed to the end: a result or a reason, never neither
        assert media.analysis_key is not None and (media.error is None) == (media.media_type is not None)
    never_read = {"missing path", "directory", "named pipe (reading it would block)", "URL that 404s",
                  "URL whose server is down", "URL that never answers",
                  "HTML served as audio/mpeg"}  # refused from its first bytes, before anything is stored
    for label, row in rows.items():
        if label in never_read:
            assert row["source"] not in seen and row["sha256"] is None, label
        elif row["error"]:
            assert seen[row["source"]].error == row["error"], label

    assert not list(load_config().store_dir.glob(".incoming-*")), "no partial download left in the store"
    again = likeness("scan", *(target for target, _ in bad_batch["items"].values()), "--json")
    assert again.exit_code == 1
    assert [row["error"] for row in again.json] == [row["error"] for row in rows.values()], "the same reasons"
    assert_one_line_per_failure(again, again.json, "error")


# ------------------------------------------------------------------------------------ enrolment


@pytest.fixture
def performer_id(likeness) -> int:
    added = likeness("performer", "add", "Ada Voice", "--consent-by", "Ada Voice", "--json")
    assert added.exit_code == 0, added.stderr
    return added.json["id"]


def enrol(likeness, kind: str, performer: int, files: dict[str, Path], *options: str) -> dict[str, dict]:
    result = likeness("enroll", kind, performer, *files.values(), *options, "--json")
    rows = result.json
    assert [row["file"] for row in rows] == [str(path) for path in files.values()], "every file is listed"
    assert_one_line_per_failure(result, rows, "reason")
    assert result.exit_code == (1 if any(not row["accepted"] for row in rows) else 0)
    return dict(zip(files, rows, strict=True))


def assert_refused(rows: dict[str, dict], expected: dict[str, str]) -> None:
    """Each labelled file was refused with a reason containing the expected words."""
    wrong = {label: rows[label]["reason"] for label, words in expected.items()
             if rows[label]["accepted"] or words not in (rows[label]["reason"] or "")}
    assert wrong == {}, f"expected {[expected[label] for label in wrong]}"


@pytest.mark.slow
def test_enrol_voice_refuses_each_unusable_recording_with_a_reason_and_accepts_the_good_one(
    tmp_path: Path, likeness, performer_id: int, make_speech, grace_hopper_path: Path
) -> None:
    rng = np.random.default_rng(3)
    speech = synthesise("The quick brown fox jumps over the lazy dog, and then it runs away.", PERFORMER_VOICE)
    short = synthesise("Hello there, friend.", PERFORMER_VOICE)
    text = tmp_path / "script.wav"
    text.write_text("INT. STUDIO - NIGHT\nShe reads the line again.\n")
    files = {
        "good": make_speech("good", texts=(0, 1)),
        "silence": write_audio(tmp_path / "silence.wav", np.zeros(8 * RATE_HZ, np.float32)),
        "white noise": write_audio(tmp_path / "noise.wav", rng.normal(0, 0.1, 8 * RATE_HZ).astype(np.float32)),
        "pure tone": write_audio(tmp_path / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * seconds(8))),
        "clipped speech": write_audio(tmp_path / "clipped.wav", np.clip(20 * speech, -1, 1)),
        "under 5 s of speech": write_audio(tmp_path / "short.wav", short),
        "text file": text,
        "image as a voice file": grace_hopper_path,
        "missing path": tmp_path / "no-such-file.wav",
        "named pipe": fifo(tmp_path / "pipe.wav"),
    }
    expected = {
        "silence": "silence",
        "white noise": "no speech found",
        "pure tone": "a steady tone, not a voice",
        "clipped speech": "clipped",
        "under 5 s of speech": "s of speech; at least 5 s is needed",
        "text file": "a text file, not audio, video or an image",
        "image as a voice file": "an image, not a recording",
        "missing path": "no such file",
        "named pipe": "not a regular file (a pipe, socket or device)",
    }
    rows = enrol(likeness, "voice", performer_id, files)
    assert rows["good"]["accepted"], rows["good"]["reason"]
    assert_refused(rows, expected)
    assert [p["voice_clips"] for p in likeness("performer", "list", "--json").json] == [1], "only the good clip"


@pytest.mark.slow
def test_enrol_voice_refuses_two_speakers_in_one_clip(tmp_path: Path, likeness, performer_id: int) -> None:
    """About 10 s of each voice; the gate measures their similarity at ≈0.59 (one voice ≈0.93)."""
    pause = np.zeros(RATE_HZ // 2, np.float32)
    first, second = synthesise(TEXTS[2], PERFORMER_VOICE), synthesise(TEXTS[3], OTHER_VOICE)
    both = write_audio(tmp_path / "two-voices.wav", np.concatenate([first, pause, second]))
    rows = enrol(likeness, "voice", performer_id, {"two voices": both})
    assert not rows["two voices"]["accepted"]
    assert "more than one speaker" in rows["two voices"]["reason"]


@pytest.mark.slow
def test_enrol_face_refuses_each_unusable_photo_and_picks_the_largest_face_only_when_asked(
    tmp_path: Path, likeness, performer_id: int, grace_hopper_path: Path, two_people_path: Path
) -> None:
    with Image.open(grace_hopper_path) as photo:
        photo.resize((photo.width * 3 // 10, photo.height * 3 // 10)).save(tmp_path / "small-face.png")
    files = {
        "good": grace_hopper_path,
        "no face": noise_image(tmp_path / "no-face.jpg"),
        "two faces": two_people_path,
        "face under 80 px": tmp_path / "small-face.png",
        "20000×20000 image": png_header_only(tmp_path / "huge.png", 20_000, 20_000),
        "corrupt JPEG": garble(grace_hopper_path, tmp_path / "corrupt.jpg", 1 / 3, 1 / 3),
        "truncated JPEG": cut(grace_hopper_path, tmp_path / "truncated.jpg"),
        "JPEG with a garbled header": garble(grace_hopper_path, tmp_path / "garbled-header.jpg", 0.005, 0.08),
    }
    expected = {
        "no face": "no face found",
        "two faces": "use --pick largest",
        "face under 80 px": "at least 80 px is needed",
        "20000×20000 image": "media.max_image_pixels",
        "corrupt JPEG": "corrupt",
        "truncated JPEG": "truncated",
        "JPEG with a garbled header": "corrupt or unsupported image file",
    }
    rows = enrol(likeness, "face", performer_id, files)
    assert rows["good"]["accepted"], rows["good"]["reason"]
    assert_refused(rows, expected)

    assert [p["face_photos"] for p in likeness("performer", "list", "--json").json] == [1], "only the good photo"
    picked = enrol(likeness, "face", performer_id, {"two faces": two_people_path}, "--pick", "largest")
    assert picked["two faces"]["accepted"], picked["two faces"]["reason"]


def test_a_performer_without_consent_cannot_be_enrolled(likeness, make_speech) -> None:
    assert likeness("init").exit_code == 0
    with open_database(load_config().database_url).begin() as session:
        # `performer add` always records consent: made directly
        performer = Performer(name="No Consent", agency=agency_for(session))
        session.add(performer)
        session.flush()
        performer_id = performer.id
    result = likeness("enroll", "voice", performer_id, make_speech("reference"), "--json")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        f"error: performer {performer_id} has no recorded consent; record it first with "
        f"`likeness performer consent {performer_id} --by NAME [--document FILE]`"
    ]
    listed = likeness("performer", "list", "--json").json
    assert [(p["id"], p["voice_clips"]) for p in listed] == [(performer_id, 0)]


# --------------------------------------------------------------------------------------- config


@pytest.mark.slow
def test_the_duration_limit_comes_from_config(tmp_path: Path, home: Path, likeness, performer_id: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[media]\nmax_duration_s = 5.0\n")
    tone = 0.3 * np.sin(2 * np.pi * 220 * seconds(10))
    ten_seconds = write_audio(tmp_path / "ten-seconds.wav", tone)
    says_one_second = understate_duration(write_audio(tmp_path / "10s.webm", tone), tmp_path / "says-1s.webm")
    too_long = "media is 10.0 s long; the limit is media.max_duration_s = 5.0 s"

    enrolled = enrol(likeness, "voice", performer_id, {"10 s": ten_seconds, "says 1 s": says_one_second})
    assert enrolled["10 s"]["reason"] == too_long
    assert enrolled["says 1 s"]["reason"] == "audio is longer than media.max_duration_s = 5.0 s", "decoding stops"
    scanned = likeness("scan", ten_seconds, says_one_second, "--json")
    assert scanned.exit_code == 1
    assert [row["error"] for row in scanned.json] == [too_long, "audio is longer than media.max_duration_s = 5.0 s"]
    assert_one_line_per_failure(scanned, scanned.json, "error")


def test_an_unknown_setting_in_config_is_refused_with_one_line_naming_it(home: Path, likeness) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[media]\nmax_duration = 5.0\n")
    result = likeness("performer", "list")
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"error: {home / 'config.toml'}: unknown setting media.max_duration"]


def test_a_face_detector_that_does_not_exist_is_refused_with_one_line_naming_the_choices(home: Path, likeness) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[face]\ndetector = "cnn"\n')
    result = likeness("performer", "list")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == ["error: face.detector must be one of yunet, hog, not 'cnn'"]


def test_a_ten_hour_recording_is_refused_at_once_and_a_photo_without_a_face_finds_nothing(
    tmp_path: Path, likeness
) -> None:
    recording = long_silent_wav(tmp_path / "ten-hours.wav", 10 * 3600)
    photo = noise_image(tmp_path / "no-face.png")
    started = time.process_time()  # CPU time: the work done, however loaded the machine (decoding is CPU-bound)
    result = likeness("scan", recording, photo)  # as people read it, without --json
    assert time.process_time() - started < 5, "refused from its headers, not by decoding 10 hours"
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if not line.startswith("warning: ")] == [
        f"error: {recording}: media is 10.0 h long; the limit is media.max_duration_s = 4.0 h"]
    assert result.stdout.splitlines() == [f"{photo}: image", "  nothing found"]
