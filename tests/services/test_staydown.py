"""Staydown: once a clone is confirmed, the same recording re-encoded at another bitrate, trimmed by a tenth and
put at another URL is known again: linked to the confirmed case, confirmed in its name, alerted, and given a
notice like the case's; another recording of the same voice is not linked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _reencoded(mp3: bytes, tmp_path: Path, bitrate: int, trim: float) -> bytes:
    """The mp3's sound without its first ``trim`` share, encoded again at ``bitrate`` bits/s, 22.05 kHz."""
    import av

    source = tmp_path / "source.mp3"
    source.write_bytes(mp3)
    with av.open(str(source)) as container:
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=22_050)
        samples = np.concatenate([chunk.to_ndarray()[0] for frame in container.decode(audio=0)
                                  for chunk in resampler.resample(frame)])
    samples = samples[int(trim * samples.size):]
    out = tmp_path / "reencoded.mp3"
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libmp3lame", rate=22_050, layout="mono")
        stream.bit_rate = bitrate
        for start in range(0, samples.size, 1152):
            frame = av.AudioFrame.from_ndarray(samples[None, start:start + 1152].copy(), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 22_050, start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.read_bytes()


def _page(site, path: str, media: str) -> None:
    site.add(path, f'<html><body><audio src="{media}"></audio></body></html>')


def test_a_confirmed_clone_reuploaded_reencoded_and_trimmed_is_linked_but_another_recording_is_not(
        likeness, found, tmp_path, clone_mp3, make_speech):
    site, case = found["site"], found["detection"]
    assert likeness("detections", "review", case["id"], "confirmed").exit_code == 0
    first = likeness("notice", "draft", case["id"], "--basis", "publicity", "--signer", "lee@stars.example",
                     "--signer-name", "Lee Roe", "--json").json
    site.add("/mirror/copy.mp3", _reencoded(clone_mp3, tmp_path, 48_000, 0.10), "audio/mpeg")
    _page(site, "/mirror/index.html", "/mirror/copy.mp3")
    other = make_speech("other take", texts=(3,), suffix=".mp3").read_bytes()  # the same voice, saying else
    site.add("/other/take.mp3", other, "audio/mpeg")
    _page(site, "/other/index.html", "/other/take.mp3")
    for page in ("/mirror/index.html", "/other/index.html"):
        assert likeness("source", "add", f"{site.url}{page}").exit_code == 0
    crawled = likeness("crawl", "--json")
    assert crawled.exit_code == 0, crawled.stderr
    found_now = {d["media"]["source"]: d for d in likeness("detections", "list", "--json").json}
    copy = found_now[f"{site.url}/mirror/copy.mp3"]
    assert (copy["reupload_of"], copy["status"]) == (case["id"], "confirmed")
    take = found_now[f"{site.url}/other/take.mp3"]
    assert (take["reupload_of"], take["status"]) == (None, "new")
    alerted = {alert["detection_id"] for alert in likeness("alerts", "list", "--json").json}
    assert {copy["id"], take["id"]} <= alerted
    # a notice like the case's, to the contact of where the copy is, drafted after the crawl
    [notice] = [n for n in likeness("notice", "list", "--json").json if n["id"] != first["id"]]
    assert (notice["detection_ids"], notice["basis"], notice["signer"]) == ([copy["id"]], "publicity",
                                                                             first["signer"])
    assert notice["to"] == "copyright@site.example" and f"notice {notice['id']} drafted" in crawled.stderr
    bundle = tmp_path / "copy.zip"
    assert likeness("evidence", "export", copy["id"], "-o", bundle).exit_code == 0
    assert likeness("evidence", "verify", bundle).exit_code == 0


def test_a_dismissed_detection_keeps_no_fingerprint_and_links_nothing(likeness, found, tmp_path, clone_mp3):
    site, first = found["site"], found["detection"]
    assert likeness("detections", "review", first["id"], "dismissed").exit_code == 0
    site.add("/mirror/copy.mp3", _reencoded(clone_mp3, tmp_path, 64_000, 0.0), "audio/mpeg")
    _page(site, "/mirror/index.html", "/mirror/copy.mp3")
    assert likeness("source", "add", f"{site.url}/mirror/index.html").exit_code == 0
    assert likeness("crawl").exit_code == 0
    copy = [d for d in likeness("detections", "list", "--json").json if d["id"] != first["id"]]
    assert [(d["reupload_of"], d["status"]) for d in copy] == [(None, "new")]


def test_a_confirmed_video_reuploaded_smaller_and_trimmed_is_linked_by_its_frames_but_other_footage_is_not(
        likeness, make_performer, grace_hopper_path, tmp_path):
    from PIL import Image

    from monitor.demo.synthetic import write_video
    from tests.enforcement.test_fingerprints import _footage

    make_performer("Grace Hopper", face=[grace_hopper_path])
    footage = _footage(grace_hopper_path, 12.0, 25)  # no sound: the frames alone know it again
    videos = {"case": footage,
              "copy": [np.asarray(Image.fromarray(f).resize((480, 270))) for f in footage[33:]],  # 1.32 s off
              "other": _footage(grace_hopper_path, 12.0, 25, "bob")}  # her too, in other footage
    found = {}
    for name, frames in videos.items():
        scanned = likeness("scan", write_video(tmp_path / f"{name}.mp4", frames, fps=25), "--json")
        assert scanned.exit_code == 0, scanned.stderr
        [found[name]] = [d for row in scanned.json for d in row["detections"]]
        if name == "case":
            assert likeness("detections", "review", found[name]["id"], "confirmed").exit_code == 0
    listed = {d["id"]: d for d in likeness("detections", "list", "--json").json}
    shown = {name: listed[found[name]["id"]] for name in ("copy", "other")}
    assert (shown["copy"]["reupload_of"], shown["copy"]["status"]) == (found["case"]["id"], "confirmed")
    assert (shown["other"]["reupload_of"], shown["other"]["status"]) == (None, "new")
