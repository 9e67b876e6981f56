"""Proof of removal: after a notice is sent, what it names is captured again; the verdict follows what the
platform did (removed, still up, replaced, or out of reach), is kept as evidence, and adds up per host."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest

pytestmark = pytest.mark.slow


def _recheck(likeness, notice_id: int) -> dict[str, dict]:
    done = likeness("notice", "recheck", notice_id, "--now", "--json")
    assert done.exit_code == 0, done.stderr
    return {row["kind"]: row for row in done.json}


def test_a_clip_taken_down_is_proven_removed_and_a_bundle_afterwards_shows_both_captures(likeness, found,
                                                                                           sent_notice, home):
    site = found["site"]
    first = _recheck(likeness, sent_notice["id"])
    assert (first["media"]["verdict"], first["page"]["verdict"]) == ("still_up", "still_up")
    assert first["media"]["notice_status"] == "still_up"
    site.routes.pop("/voice.mp3")
    site.add("/clips.html", "<html><body><p>This clip is no longer available.</p></body></html>")
    second = _recheck(likeness, sent_notice["id"])
    assert (second["media"]["verdict"], second["media"]["status_code"]) == ("removed", 404)
    assert second["page"]["verdict"] == "removed"  # the page no longer shows it
    shown = likeness("notice", "show", sent_notice["id"], "--json").json
    assert [step["status"] for step in shown["history"]] == ["drafted", "sent", "still_up", "removed"]

    bundle = home / "after.zip"
    assert likeness("evidence", "export", found["detection"]["id"], "-o", bundle).exit_code == 0
    assert likeness("evidence", "verify", bundle).exit_code == 0
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        custody = [json.loads(line) for name in names if name.startswith("custody")
                   for line in archive.read(name).splitlines()]
        [capture] = [archive.read(name) for name in names if name.startswith("capture/") and ".warc" in name]
    assert [e["details"]["verdict"] for e in custody if e["event"] == "rechecked"] == ["still_up"] * 2 + ["removed"] * 2
    assert _media_statuses(capture, f"{site.url}/voice.mp3") == ["200", "200", "404"]  # first found, then both
    [stats] = likeness("notice", "stats", "--json").json
    assert stats == {"host": "127.0.0.1", "sent": 1, "removed": 1, "removal_rate": 1.0,
                     "median_hours_to_removal": stats["median_hours_to_removal"]}
    assert 0 <= stats["median_hours_to_removal"] < 1


def _media_statuses(warc: bytes, url: str) -> list[str]:
    from warcio.archiveiterator import ArchiveIterator

    return [record.http_headers.get_statuscode() for record in ArchiveIterator(io.BytesIO(warc))
            if record.rec_type in ("response", "revisit")  # a body the excerpt holds once is a revisit after
            and record.rec_headers.get_header("WARC-Target-URI") == url]


def test_other_bytes_are_a_change_and_a_redirect_to_a_private_address_proves_nothing(likeness, found, sent_notice):
    site = found["site"]
    site.add("/voice.mp3", b"ID3" + bytes(range(256)) * 64, "audio/mpeg")
    changed = _recheck(likeness, sent_notice["id"])
    assert changed["media"]["verdict"] == "changed" and changed["media"]["notice_status"] == "sent"
    site.redirect("/voice.mp3", "http://10.20.30.40/voice.mp3")
    refused = _recheck(likeness, sent_notice["id"])
    assert refused["media"]["verdict"] == "unreachable" and "10.20.30.40" in refused["media"]["error"]
    assert refused["media"]["notice_status"] == "sent"  # not proof of removal


def test_what_a_notice_names_is_due_again_48_hours_and_7_days_after_it_was_sent(likeness, sent_notice, home):
    from monitor.config import load_config
    from monitor.pipeline.recheck import due_notices
    from monitor.storage.db import open_database
    from monitor.storage.notices import NoticeEvent, NoticeRecheck

    sessions = open_database(load_config(home).database_url)
    with sessions() as session:
        sent = session.query(NoticeEvent).filter_by(notice_id=sent_notice["id"], status="sent").one().at

    def due(after: timedelta) -> list[int]:
        with sessions() as session:
            return due_notices(session, [48.0, 168.0], sent + after)

    assert due(timedelta(hours=47)) == [] and due(timedelta(hours=49)) == [sent_notice["id"]]
    with sessions.begin() as session:  # captured again 50 h after it was sent
        session.add(NoticeRecheck(notice_id=sent_notice["id"], agency_id=1, url="https://x.example/a", kind="media",
                                  verdict="still_up", captured_at=sent + timedelta(hours=50)))
    assert due(timedelta(hours=100)) == [] and due(timedelta(hours=169)) == [sent_notice["id"]]
    assert likeness("notice", "recheck", "--json").json == []  # nothing is due yet at the real clock's time


def test_a_drafted_notice_is_not_rechecked(likeness, found):
    assert likeness("detections", "review", found["detection"]["id"], "confirmed").exit_code == 0
    drafted = likeness("notice", "draft", found["detection"]["id"], "--basis", "publicity", "--signer",
                       "lee@stars.example", "--signer-name", "Lee Roe", "--json").json
    refused = likeness("notice", "recheck", drafted["id"], "--now")
    assert refused.exit_code == 1
    assert "is drafted: what a notice names is captured again once it is sent" in refused.stderr


def test_a_configured_timestamp_authority_stamps_each_capture_again(likeness, sent_notice, home, tsa):
    import base64

    from monitor.evidence.timestamp import verify_timestamp

    with open(home / "config.toml", "a") as config:
        config.write(f'\n[evidence]\ntimestamp_urls = ["{tsa.url}"]\n')
    assert likeness("notice", "recheck", sent_notice["id"], "--now").exit_code == 0
    bundle = home / "stamped.zip"
    assert likeness("evidence", "export", *sent_notice["detection_ids"], "-o", bundle).exit_code == 0
    with zipfile.ZipFile(bundle) as archive:
        rechecked = [json.loads(line) for name in archive.namelist() if name.startswith("custody")
                     for line in archive.read(name).splitlines() if b'"rechecked"' in line]
    assert len(rechecked) == 2
    for entry in rechecked:
        details = dict(entry["details"])
        stamp = details.pop("timestamp")
        signed = json.dumps(details, sort_keys=True).encode()
        assert verify_timestamp(signed, base64.b64decode(stamp["token"]), tsa.pki.ca_pem.read_bytes()) is None
