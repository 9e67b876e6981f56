"""`likeness notice`: a confirmed clone found by a real crawl becomes a signed notice with the evidence it cites;
what cannot be a notice is refused in one line and leaves nothing behind; a notice's life is kept step by step."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SIGNER = ("--signer", "lee@stars.example", "--signer-name", "Lee Ångström")


def _confirm(likeness, detection_id: int) -> None:
    assert likeness("detections", "review", detection_id, "confirmed").exit_code == 0


def _pdf_text(path: str) -> str:
    import pypdf

    with open(path, "rb") as stream:
        reader = pypdf.PdfReader(io.BytesIO(stream.read()))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def test_a_confirmed_clone_becomes_a_dmca_notice_citing_a_bundle_that_verifies(likeness, found, home):
    detection = found["detection"]
    _confirm(likeness, detection["id"])
    drafted = likeness("notice", "draft", detection["id"], "--basis", "dmca", *SIGNER, "--json")
    assert drafted.exit_code == 0, drafted.stderr
    notice = drafted.json
    assert {k: notice[k] for k in ("detection_ids", "basis", "status", "to")} == {
        "detection_ids": [detection["id"]], "basis": "dmca", "status": "drafted", "to": "copyright@site.example"}
    pdf_text = _pdf_text(notice["pdf"])
    for element in ("§ 512(c)(3)", f"{found['site'].url}/voice.mp3", f"{found['site'].url}/clips.html",
                    "1 Music Row, Nashville, TN 37203", "+1 615 555 0100", "lee@stars.example",
                    "under penalty of perjury", "good faith belief", "/s/ Lee Ångström", notice["evidence"]["sha256"]):
        assert element in notice["text"] and element in pdf_text, element
    verified = likeness("evidence", "verify", notice["evidence"]["bundle"], "--json")
    assert verified.exit_code == 0 and verified.json["fingerprint"] == notice["evidence"]["fingerprint"]
    assert Path(notice["pdf"]).parent == home / "notices" / str(notice["id"])
    assert likeness("notice", "show", notice["id"], "--json").json == notice
    assert likeness("notice", "list", "--status", "drafted", "--json").json == [notice]
    trail = likeness("audit", "list", "--json").json
    assert any(entry["action"] == "notice.draft" for entry in trail)
    later = likeness("evidence", "export", detection["id"], "-o", home / "later.zip")  # the notice in its custody
    assert later.exit_code == 0 and likeness("evidence", "verify", home / "later.zip").exit_code == 0
    with zipfile.ZipFile(home / "later.zip") as bundle:
        custody = [json.loads(line) for name in bundle.namelist() if name.startswith("custody")
                   for line in bundle.read(name).splitlines()]
    assert [e["details"]["notice_id"] for e in custody if e["event"] == "notice"] == [notice["id"]]


@pytest.mark.parametrize("basis", ["publicity", "platform"])
def test_a_voice_clone_gets_a_publicity_demand_or_a_platform_form(likeness, found, basis):
    _confirm(likeness, found["detection"]["id"])
    drafted = likeness("notice", "draft", found["detection"]["id"], "--basis", basis, *SIGNER,
                       "--to", "https://site.example/report", "--json")
    assert drafted.exit_code == 0, drafted.stderr
    assert drafted.json["to"] == "https://site.example/report"
    assert ("ELVIS" if basis == "publicity" else "Person affected") in _pdf_text(drafted.json["pdf"])


def test_what_cannot_be_a_notice_is_refused_in_one_line_and_leaves_nothing(likeness, found, home):
    detection_id = found["detection"]["id"]
    refusals = [
        ((detection_id, "--basis", "dmca", *SIGNER), "is new, not confirmed"),
    ]
    _check_refusals(likeness, refusals)
    _confirm(likeness, detection_id)
    assert likeness("user", "add", "ann@stars.example", "--agency", found["agency"], "--role", "agent").exit_code == 0
    refusals = [
        ((detection_id, "--basis", "dmca"), "a notice needs a signer"),
        ((detection_id, "--basis", "dmca", "--signer", "lee@stars.example"), "the name its signer signs with"),
        ((detection_id, "--basis", "dmca", "--signer", "ann@stars.example", "--signer-name", "Ann"),
         "is agent at"),
        ((detection_id, "--basis", "dmca", "--signer", "who@else.example", "--signer-name", "Who"),
         "is not a user of"),
        ((detection_id, "--basis", "take-it-down", *SIGNER), "covers intimate images and videos"),
        ((detection_id + 1000, "--basis", "dmca", *SIGNER), f"no detection with id {detection_id + 1000}"),
        ((detection_id, "--basis", "dmca", *SIGNER, "--to", "http://site.example/form"), "https:// URL"),
    ]
    _check_refusals(likeness, refusals)
    likeness("agency", "contact", found["agency"], "--address", "")
    _check_refusals(likeness, [((detection_id, "--basis", "dmca", *SIGNER), "postal address")])
    (home / "config.toml").write_text((home / "config.toml").read_text().split("[notices.contacts]")[0])
    _check_refusals(likeness, [((detection_id, "--basis", "publicity", *SIGNER), "no contact for")])
    assert likeness("notice", "list", "--json").json == []
    assert not list((home / "notices").glob("*"))  # nor any file of a draft


def _check_refusals(likeness, refusals) -> None:
    for args, reason in refusals:
        refused = likeness("notice", "draft", *args)
        assert refused.exit_code != 0 and reason in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr


def test_a_notice_moves_only_along_its_life_and_keeps_each_date(likeness, found):
    _confirm(likeness, found["detection"]["id"])
    notice = likeness("notice", "draft", found["detection"]["id"], "--basis", "publicity", *SIGNER, "--json").json
    refused = likeness("notice", "mark", notice["id"], "removed")
    assert refused.exit_code == 1 and "is drafted: it can become sent or withdrawn, not removed" in refused.stderr
    for status, note in (("sent", "through the platform's form"), ("acknowledged", "case 4411"), ("removed", None)):
        marked = likeness("notice", "mark", notice["id"], status, *(("--note", note) if note else ()), "--json")
        assert marked.exit_code == 0, marked.stderr
    shown = likeness("notice", "show", notice["id"], "--json").json
    assert [(s["status"], s["note"]) for s in shown["history"]] == [
        ("drafted", None), ("sent", "through the platform's form"), ("acknowledged", "case 4411"), ("removed", None)]
    assert shown["status"] == "removed" and shown["updated_at"] == shown["history"][-1]["at"]
    assert likeness("notice", "list", "--status", "sent", "--json").json == []
    assert likeness("notice", "mark", notice["id"] + 1, "sent").stderr.strip().startswith("error: no notice with id")


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on 127.0.0.1 that the notices are e-mailed through."""
    from tests.support.mailserver import MailServer

    server = MailServer()
    server.start()
    monkeypatch.setenv("LIKENESS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LIKENESS_SMTP_PORT", str(server.port))
    monkeypatch.setenv("LIKENESS_SMTP_FROM", "Stars Agency <notices@stars.example>")
    yield server
    server.stop()


def test_a_notice_is_emailed_with_its_pdf_once_and_recorded_sent(likeness, found, smtp):
    _confirm(likeness, found["detection"]["id"])
    notice = likeness("notice", "draft", found["detection"]["id"], "--basis", "dmca", *SIGNER, "--json").json
    sent = likeness("notice", "send", notice["id"], "--json")
    assert sent.exit_code == 0, sent.stderr
    [received] = smtp.messages
    assert received.recipients == ["copyright@site.example"]
    message = received.message
    assert message["Reply-To"] == "lee@stars.example" and message["Subject"].startswith("Notice of claimed")
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n").strip() == notice["text"].strip()
    [pdf] = [part for part in message.iter_attachments() if part.get_content_type() == "application/pdf"]
    with open(notice["pdf"], "rb") as stream:
        assert pdf.get_content() == stream.read()  # the same bytes as the PDF drafted
    assert sent.json["status"] == "sent" and message["Message-ID"] in sent.json["history"][-1]["note"]
    again = likeness("notice", "send", notice["id"])
    assert again.exit_code == 1 and "is sent: only a drafted" in again.stderr and len(smtp.messages) == 1


def test_a_notice_the_mail_server_refuses_stays_drafted(likeness, found, smtp):
    _confirm(likeness, found["detection"]["id"])
    notice = likeness("notice", "draft", found["detection"]["id"], "--basis", "dmca", *SIGNER, "--json").json
    smtp.rcpt_reply = "550 5.1.1 no such mailbox"
    refused = likeness("notice", "send", notice["id"])
    assert refused.exit_code == 1 and f"notice {notice['id']} was not sent" in refused.stderr
    assert "no such mailbox" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert likeness("notice", "show", notice["id"], "--json").json["status"] == "drafted"


def test_a_notice_for_a_form_is_pasted_not_emailed(likeness, found, smtp):
    _confirm(likeness, found["detection"]["id"])
    notice = likeness("notice", "draft", found["detection"]["id"], "--basis", "platform", *SIGNER,
                      "--to", "https://site.example/report", "--json").json
    refused = likeness("notice", "send", notice["id"])
    assert refused.exit_code == 1 and f"likeness notice mark {notice['id']} sent" in refused.stderr
    assert smtp.messages == []
