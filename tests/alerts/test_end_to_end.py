"""Alerts end to end: a scan finds a performer, their contacts get one e-mail (or one digest), exactly once.

A real SMTP server (aiosmtpd) and a real webhook receiver run on 127.0.0.1; the messages are parsed
back as MIME. No mocks: the real CLI, the real voice model, the real outbox in the database.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json

import pytest

from monitor.demo.synthetic import OTHER_VOICE
from tests.support.mailserver import MailServer

pytestmark = pytest.mark.slow

ARTIST, AGENT = "ada@example.org", "agent@example.org"


@pytest.fixture
def smtp(mail_server: MailServer, home, monkeypatch) -> MailServer:
    """The loopback server as the configured one; retries due at once, so a test can re-send right away."""
    monkeypatch.setenv("LIKENESS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LIKENESS_SMTP_PORT", str(mail_server.port))
    monkeypatch.setenv("LIKENESS_SMTP_FROM", "Likeness Monitor <alerts@monitor.example>")
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[alerts]\nretry_first_s = 0.0\n")
    return mail_server


@pytest.fixture
def ada(likeness, make_speech) -> int:
    added = likeness("performer", "add", "Ada Voice", "--consent-by", "Ada Voice", "--email", ARTIST,
                     "--email", AGENT, "--json")
    assert added.exit_code == 0, added.stderr
    performer_id = added.json["id"]
    enrolled = likeness("enroll", "voice", performer_id, make_speech("reference", texts=(0, 2)), "--json")
    assert enrolled.exit_code == 0, enrolled.stderr
    return performer_id


def alerts(likeness, *options: str) -> list[dict]:
    listed = likeness("alerts", "list", *options, "--json")
    assert listed.exit_code == 0, listed.stderr
    return listed.json


def test_a_detection_emails_the_artist_and_the_agent_once(likeness, smtp, ada, make_speech):
    found = make_speech("found", texts=(1,))
    scanned = likeness("scan", found, "--json")
    assert scanned.exit_code == 0, scanned.stderr
    [detection] = scanned.json[0]["detections"]

    assert sorted(r for received in smtp.messages for r in received.recipients) == sorted([ARTIST, AGENT])
    message = smtp.messages[0].message
    assert "Ada Voice" in message["Subject"] and message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert "Ada Voice" in body and str(found) in body and "voice" in body
        assert f"likeness detections review {detection['id']}" in body
    [image] = [part for part in message.walk() if part.get_content_maintype() == "image"]
    assert f"cid:{image['Content-ID'].strip('<>')}" in html and image.get_content_subtype() == "png"

    [alert] = alerts(likeness)
    assert alert["status"] == "sent" and alert["detection_id"] == detection["id"]
    assert {(r["recipient"], r["status"], r["attempts"]) for r in alert["recipients"]} == {
        (ARTIST, "sent", 1), (AGENT, "sent", 1)}

    # the same content again, a copy at another path, and an explicit send: no second alert
    likeness("scan", found)
    copy = found.with_name("copy.wav")
    copy.write_bytes(found.read_bytes())
    likeness("scan", copy)
    likeness("alerts", "send")
    assert len(smtp.messages) == 2 and len(alerts(likeness)) == 1


def test_several_detections_in_one_run_reach_each_recipient_as_one_digest(likeness, smtp, ada, make_speech):
    files = [make_speech(f"found{i}", texts=(i,)) for i in (1, 3)]
    likeness("scan", *files)
    assert len(smtp.messages) == 2  # one per recipient, each about both files
    for received in smtp.messages:
        text = received.message.get_body(("plain",)).get_content()
        assert all(str(path) in text for path in files)
    assert {r["status"] for a in alerts(likeness) for r in a["recipients"]} == {"sent"}


def test_a_mail_server_down_delays_alerts_and_loses_none(likeness, smtp, ada, make_speech):
    smtp.stop()
    scanned = likeness("scan", make_speech("found", texts=(1,)))
    assert scanned.exit_code == 0 and "alert not delivered yet" in scanned.stderr
    [alert] = alerts(likeness, "--status", "pending")
    assert all(r["attempts"] == 1 and "127.0.0.1" in r["last_error"] for r in alert["recipients"])

    assert likeness("alerts", "send").exit_code == 0  # still down: another attempt, nothing lost
    assert {r["attempts"] for r in alerts(likeness)[0]["recipients"]} == {2}

    smtp.start()
    sent = likeness("alerts", "send", "--json")
    assert sent.json["messages"] == 2 and sent.json["errors"] == []
    likeness("alerts", "send")
    assert sorted(r for m in smtp.messages for r in m.recipients) == sorted([ARTIST, AGENT])  # each exactly once
    assert alerts(likeness)[0]["status"] == "sent"


def test_a_refused_recipient_fails_for_good_and_the_other_still_gets_it(likeness, smtp, ada, make_speech):
    smtp.rcpt_reply = "550 5.1.1 no such user"
    likeness("scan", make_speech("found", texts=(1,)))
    [alert] = alerts(likeness, "--status", "failed")
    assert {r["status"] for r in alert["recipients"]} == {"failed"} and "550" in alert["recipients"][0]["last_error"]
    smtp.rcpt_reply = None
    likeness("alerts", "send")
    assert smtp.messages == []  # a permanent failure is not retried


def test_the_hourly_cap_holds_messages_back_without_dropping_them(likeness, smtp, ada, make_speech, home):
    (home / "config.toml").write_text("[alerts]\nretry_first_s = 0.0\nmax_per_recipient_per_hour = 1\n")
    likeness("scan", make_speech("first", texts=(1,)))
    likeness("scan", make_speech("second", texts=(3,)))
    assert len(smtp.messages) == 2  # the first alert, to each recipient
    [second, first] = alerts(likeness)
    assert first["status"] == "sent" and second["status"] == "pending"
    assert all(r["attempts"] == 0 and r["next_attempt_at"] for r in second["recipients"])


def test_a_muted_performer_is_not_alerted_and_low_scores_stay_quiet(likeness, smtp, ada, make_speech):
    assert likeness("performer", "mute", ada, "--json").json["muted"] is True
    likeness("scan", make_speech("found", texts=(1,)))
    assert smtp.messages == [] and alerts(likeness)[0]["status"] == "muted"

    likeness("performer", "unmute", ada)
    likeness("performer", "alerts", ada, "--voice-threshold", "1.0")
    likeness("scan", make_speech("again", texts=(3,)))
    assert smtp.messages == [] and len(alerts(likeness)) == 1
    likeness("scan", make_speech("stranger", voice=OTHER_VOICE, texts=(1,)))
    assert smtp.messages == []


def test_a_json_webhook_is_signed_and_its_token_never_stored(likeness, smtp, receiver, ada, make_speech,
                                                              monkeypatch, home):
    url = f"json://127.0.0.1:{receiver.port}/hook?token=s3cr3t-token"
    monkeypatch.setenv("LIKENESS_ALERT_URLS", url)
    monkeypatch.setenv("LIKENESS_WEBHOOK_SECRET", "shared-secret")
    likeness("scan", make_speech("found", texts=(1,)))
    [posted] = receiver.requests
    timestamp = posted.header("X-Likeness-Timestamp")
    expected = hmac.new(b"shared-secret", f"{timestamp}.".encode() + posted.body, hashlib.sha256).hexdigest()
    assert posted.header("X-Likeness-Signature") == f"sha256={expected}"
    payload = json.loads(posted.body)
    assert payload["findings"][0]["performer_name"] == "Ada Voice"

    [alert] = alerts(likeness)
    [hook] = [r for r in alert["recipients"] if r["channel"] == "url"]
    assert hook["status"] == "sent" and "s3cr3t-token" not in hook["recipient"]
    assert not any(b"s3cr3t-token" in path.read_bytes() for path in home.glob("likeness.db*"))


def test_the_smtp_password_never_reaches_the_database_or_the_output(likeness, home, ada, make_speech, monkeypatch):
    server = MailServer(username="monitor", password="hunter2-very-secret")
    server.start()
    (home / "config.toml").write_text("[alerts]\nretry_first_s = 0.0\n")
    try:
        monkeypatch.setenv("LIKENESS_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("LIKENESS_SMTP_PORT", str(server.port))
        monkeypatch.setenv("LIKENESS_SMTP_USERNAME", "monitor")
        monkeypatch.setenv("LIKENESS_SMTP_PASSWORD", "wrong-password-also-secret")
        scanned = likeness("scan", make_speech("found", texts=(1,)))
        listed = likeness("alerts", "list", "--json")
        assert "wrong-password" not in scanned.stderr + scanned.stdout + listed.stdout
        assert "535" in listed.stdout or "authentication" in listed.stdout.lower()
        monkeypatch.setenv("LIKENESS_SMTP_PASSWORD", "hunter2-very-secret")
        likeness("alerts", "send")
        assert len(server.messages) == 2 and server.logins == ["monitor", "monitor"]
        stored = b"".join(path.read_bytes() for path in home.glob("likeness.db*"))
        assert b"hunter2" not in stored and b"wrong-password" not in stored
    finally:
        server.stop()


def test_alerts_test_sends_a_message_or_says_why_not_in_one_line(likeness, smtp):
    sent = likeness("alerts", "test", "--to", "ops@example.org", "--json")
    assert sent.exit_code == 0 and sent.json["sent"] is True
    [received] = smtp.messages
    assert received.recipients == ["ops@example.org"] and "test" in received.message["Subject"]
    smtp.stop()
    failed = likeness("alerts", "test", "--to", "ops@example.org")
    assert failed.exit_code == 1 and len(failed.stderr.strip().splitlines()) == 1


def test_a_face_alert_shows_the_found_face_next_to_the_reference(likeness, smtp, make_performer, grace_hopper_path,
                                                                  tmp_path):
    from PIL import Image

    make_performer("Grace Face", face=[grace_hopper_path], email=ARTIST)
    found = tmp_path / "repost.jpg"  # the same face, re-encoded smaller, as a site would repost it
    with Image.open(grace_hopper_path) as photo:
        photo.resize((photo.width * 3 // 4, photo.height * 3 // 4)).save(found, quality=80)
    scanned = likeness("scan", found, "--json")
    assert scanned.json[0]["detections"][0]["modality"] == "face"
    [received] = smtp.messages
    html = received.message.get_body(("html",)).get_content()
    [image] = [part for part in received.message.walk() if part.get_content_maintype() == "image"]
    assert image.get_content_subtype() == "jpeg" and f"cid:{image['Content-ID'].strip('<>')}" in html
    with Image.open(io.BytesIO(image.get_content())) as picture:
        assert picture.width > picture.height  # two faces side by side: the found one and the reference


def test_the_daemon_job_delivers_what_waited_for_the_server(likeness, smtp, ada, make_speech, home):
    from monitor.pipeline.scheduler import send_alerts_job

    smtp.stop()
    likeness("scan", make_speech("found", texts=(1,)))
    assert smtp.messages == [] and alerts(likeness)[0]["status"] == "pending"
    smtp.start()
    send_alerts_job(str(home))  # what `likeness run` runs every alerts.send_every_s
    assert sorted(r for m in smtp.messages for r in m.recipients) == sorted([ARTIST, AGENT])
    assert alerts(likeness)[0]["status"] == "sent"
