"""Alert delivery against real servers on 127.0.0.1: aiosmtpd for e-mail, an HTTP receiver for webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from monitor.alerts.channels import DeliveryError, redact, send_email, send_to_url
from monitor.alerts.message import Finding, Message
from monitor.config import SmtpSettings
from tests.support.mailserver import MailServer
from tests.support.receiver import Receiver

# Apprise imports the deprecated imghdr module (its PGP support); not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

SECRET = "test-webhook-secret-0123456789"
PASSWORD = "s3cret-Pa55word!"
TIMEOUT_S = 30.0  # the servers here answer at once: a timeout is only a safety net (the silent server's is its own)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the developer's shell leaks in; no proxy stands between us and 127.0.0.1."""
    for name in ("HOST", "PORT", "USERNAME", "PASSWORD", "FROM", "SECURITY"):
        monkeypatch.delenv(f"LIKENESS_SMTP_{name}", raising=False)
    for name in ("LIKENESS_WEBHOOK_SECRET", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def smtp_settings(port: int, **changes) -> SmtpSettings:
    values = {"host": "127.0.0.1", "port": port, "username": "", "from_address": "Likeness <alerts@example.org>",
              "security": "none", "timeout_s": TIMEOUT_S} | changes
    return SmtpSettings(**values)


def mail(to: str = "agent@example.org", subject: str = "Possible voice clone of Ada") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Likeness <alerts@example.org>"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("A recording at https://media.example.org/x.mp3 sounds like Ada (score 0.97).")
    message.add_alternative("<p>A recording sounds like <b>Ada</b>.</p>", subtype="html")
    return message


def alert() -> Message:
    finding = Finding(
        detection_id=7, performer_id=1, performer_name="Ada Lovelace", modality="voice", score=0.97,
        similarity=0.91, threshold=0.5, segments=[{"start_s": 1.0, "end_s": 9.5, "score": 0.97}],
        found_url="https://media.example.org/x.mp3", found_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        media_sha256="ab" * 32, media_type="audio", duration_s=12.0,
    )
    return Message(subject="Possible voice clone of Ada Lovelace", text="A recording sounds like Ada — score 0.97.",
                   html="<p>…</p>", findings=[finding])


def assert_no_password(error: DeliveryError, password: str, username: str = "") -> None:
    text = str(error)
    assert "\n" not in text
    for form in (password, base64.b64encode(password.encode()).decode(),
                 base64.b64encode(f"\0{username}\0{password}".encode()).decode()):
        assert form not in text


# ------------------------------------------------------------------------------------------ e-mail


def test_mail_reaches_the_server(mail_server: MailServer) -> None:
    send_email(smtp_settings(mail_server.port), mail())
    [received] = mail_server.messages
    assert received.sender == "alerts@example.org"
    assert received.recipients == ["agent@example.org"]
    assert received.message["Subject"] == "Possible voice clone of Ada"
    assert "sounds like Ada (score 0.97)" in received.message.get_body(("plain",)).get_content()
    assert "<b>Ada</b>" in received.message.get_body(("html",)).get_content()


def test_login_with_the_password_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    server = MailServer(username="alerts", password=PASSWORD)
    server.start()
    try:
        monkeypatch.setenv("LIKENESS_SMTP_PASSWORD", PASSWORD)
        send_email(smtp_settings(server.port, username="alerts"), mail())
        assert server.logins == ["alerts"] and len(server.messages) == 1

        monkeypatch.setenv("LIKENESS_SMTP_PASSWORD", "wrong-" + PASSWORD)
        with pytest.raises(DeliveryError, match="login as 'alerts' refused") as caught:
            send_email(smtp_settings(server.port, username="alerts"), mail())
        assert not caught.value.permanent  # our setting to fix, then the alert goes out
        assert_no_password(caught.value, "wrong-" + PASSWORD, "alerts")
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_server_down_is_temporary_and_back_up_delivers(mail_server: MailServer) -> None:
    settings = smtp_settings(mail_server.port)
    send_email(settings, mail(subject="first"))
    mail_server.stop()
    with pytest.raises(DeliveryError, match="connection refused") as caught:
        send_email(settings, mail(subject="second"))
    assert not caught.value.permanent
    assert mail_server.start() == settings.port  # the same port again
    send_email(settings, mail(subject="second"))
    assert [r.message["Subject"] for r in mail_server.messages] == ["first", "second"]


@pytest.mark.parametrize(("reply", "permanent"), [("550 5.1.1 No such mailbox", True),
                                                  ("451 4.3.0 Try again later", False)])
def test_refused_recipient(mail_server: MailServer, reply: str, permanent: bool) -> None:
    mail_server.rcpt_reply = reply
    with pytest.raises(DeliveryError) as caught:
        send_email(smtp_settings(mail_server.port), mail())
    assert caught.value.permanent is permanent
    assert reply in str(caught.value) and "agent@example.org" in str(caught.value)
    assert mail_server.messages == []


def test_environment_overrides_the_settings(mail_server: MailServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIKENESS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LIKENESS_SMTP_PORT", str(mail_server.port))
    monkeypatch.setenv("LIKENESS_SMTP_SECURITY", "NONE")
    send_email(smtp_settings(1, host="mail.invalid", security="ssl"), mail())
    assert len(mail_server.messages) == 1


def test_unset_host_waits() -> None:
    with pytest.raises(DeliveryError) as caught:
        send_email(smtp_settings(25, host=""), mail())
    assert str(caught.value) == "e-mail is not configured: set smtp.host or LIKENESS_SMTP_HOST"
    assert not caught.value.permanent


def test_silent_server_times_out() -> None:
    with socket.socket() as silent:  # accepts connections (the backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match=r"no answer within 0\.5 s") as caught:
            send_email(smtp_settings(silent.getsockname()[1], timeout_s=0.5), mail())
    assert not caught.value.permanent and time.monotonic() - started < 30  # the timeout ended the wait, not the test


@pytest.mark.parametrize("security", ["ssl", "starttls"])
def test_tls_with_a_trusted_certificate(security: str, certificate: tuple[Path, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    server = MailServer(username="alerts", password=PASSWORD, tls=security, certificate=certificate)
    server.start()
    try:
        monkeypatch.setenv("LIKENESS_SMTP_PASSWORD", PASSWORD)
        settings = smtp_settings(server.port, username="alerts", security=security)
        with pytest.raises(DeliveryError, match="TLS failed") as caught:  # not trusted yet
            send_email(settings, mail())
        assert not caught.value.permanent
        assert_no_password(caught.value, PASSWORD, "alerts")
        # ssl.create_default_context() loads OpenSSL's default paths, which honour SSL_CERT_FILE.
        monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
        send_email(settings, mail())
        assert server.logins == ["alerts"] and len(server.messages) == 1
    finally:
        server.stop()


def test_starttls_missing_on_the_server_waits_for_the_setting_to_change(mail_server: MailServer) -> None:
    with pytest.raises(DeliveryError, match="STARTTLS") as caught:
        send_email(smtp_settings(mail_server.port, security="starttls"), mail())
    assert not caught.value.permanent and mail_server.messages == []


# ------------------------------------------------------------------------------------------ webhooks


def test_signed_webhook(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIKENESS_WEBHOOK_SECRET", SECRET)
    send_to_url(f"json://127.0.0.1:{receiver.port}/hooks/likeness?team=a", alert(), TIMEOUT_S)
    [posted] = receiver.requests
    assert posted.path == "/hooks/likeness?team=a"
    assert posted.header("Content-Type") == "application/json"
    assert "Likeness" in posted.header("User-Agent")
    timestamp = posted.header("X-Likeness-Timestamp")
    assert abs(int(timestamp) - time.time()) < 60

    def signature(body: bytes) -> str:  # what a receiver computes, from the module's documentation
        return "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()

    assert hmac.compare_digest(signature(posted.body), posted.header("X-Likeness-Signature"))
    tampered = posted.body.replace(b"0.97", b"0.10")
    assert tampered != posted.body
    assert not hmac.compare_digest(signature(tampered), posted.header("X-Likeness-Signature"))

    payload = json.loads(posted.body)
    assert payload["subject"] == "Possible voice clone of Ada Lovelace"
    assert payload["findings"][0]["found_url"] == "https://media.example.org/x.mp3"
    assert datetime.fromisoformat(payload["sent_at"]).timestamp() == int(timestamp)


def test_webhook_without_secret_is_refused(receiver: Receiver) -> None:
    with pytest.raises(DeliveryError, match="LIKENESS_WEBHOOK_SECRET") as caught:
        send_to_url(f"json://127.0.0.1:{receiver.port}/hook", alert(), TIMEOUT_S)
    assert not caught.value.permanent and receiver.requests == []  # waits for the setting


@pytest.mark.parametrize(("status", "permanent"), [(500, False), (503, False), (429, False), (400, True),
                                                   (404, True), (301, True)])
def test_webhook_answers(receiver: Receiver, monkeypatch: pytest.MonkeyPatch, status: int, permanent: bool) -> None:
    monkeypatch.setenv("LIKENESS_WEBHOOK_SECRET", SECRET)
    receiver.status = status
    with pytest.raises(DeliveryError, match=f"answered HTTP {status}") as caught:
        send_to_url(f"json://hook:{PASSWORD}@127.0.0.1:{receiver.port}/hook?key=k3y", alert(), TIMEOUT_S)
    assert caught.value.permanent is permanent
    assert PASSWORD not in str(caught.value) and "k3y" not in str(caught.value)
    assert receiver.requests[0].header("Authorization") == "Basic " + base64.b64encode(
        f"hook:{PASSWORD}".encode()).decode()


def test_webhook_down_is_temporary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIKENESS_WEBHOOK_SECRET", SECRET)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError, match="connection refused") as caught:
        send_to_url(f"json://127.0.0.1:{port}/hook", alert(), TIMEOUT_S)
    assert not caught.value.permanent


# ------------------------------------------------------------------------------------------ Apprise


@pytest.mark.parametrize("url", ["bogus://somewhere/x", "slack://", "not a url",
                                 f"msteams://{PASSWORD}/tokenb/"])
def test_url_apprise_cannot_use_is_permanent(url: str) -> None:
    with pytest.raises(DeliveryError, match="not a URL Apprise knows") as caught:
        send_to_url(url, alert(), TIMEOUT_S)
    assert caught.value.permanent and PASSWORD not in str(caught.value)


def test_apprise_delivers_to_the_receiver(receiver: Receiver) -> None:
    send_to_url(f"form://127.0.0.1:{receiver.port}/apprise", alert(), TIMEOUT_S)
    send_to_url(f"xml://127.0.0.1:{receiver.port}/apprise-xml", alert(), TIMEOUT_S)
    form, xml = receiver.requests
    assert form.path == "/apprise" and b"title=Possible+voice+clone+of+Ada+Lovelace" in form.body
    assert xml.path == "/apprise-xml" and b"Possible voice clone of Ada Lovelace" in xml.body


def test_apprise_failure_is_temporary_with_its_reason(receiver: Receiver) -> None:
    receiver.status = 500
    with pytest.raises(DeliveryError) as caught:
        send_to_url(f"form://hook:{PASSWORD}@127.0.0.1:{receiver.port}/apprise", alert(), TIMEOUT_S)
    assert not caught.value.permanent
    assert "500" in str(caught.value) and PASSWORD not in str(caught.value)
    assert str(caught.value).startswith(f"form://****@127.0.0.1:{receiver.port}/apprise [")


# ------------------------------------------------------------------------------------------ redaction


@pytest.mark.parametrize(("url", "shown"), [  # "[…]": 8 hex digits telling apart what is hidden
    ("json://user:pw@hooks.example.org:8443/alerts?key=abc&team=x",
     "json://****@hooks.example.org:8443/alerts?key=****&team=**** […]"),
    ("jsons://hooks.example.org/alerts", "jsons://hooks.example.org/alerts"),
    ("form://127.0.0.1:8080/hook?token=abc", "form://127.0.0.1:8080/hook?token=****"),
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general", "slack://****/****/****/#general […]"),
    ("discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://****/**** […]"),
    ("tgram://123456789:abcdefg_hijklmnop/12315544/", "tgram://****/****/ […]"),
    ("msteams://team@TokenA/TokenB/TokenC/", "msteams://****@****/****/****/ […]"),
    ("mailto://user:pass@gmail.com", "mailto://****@gmail.com […]"),
    ("mattermost://chat.example.org:8065/tokenxyz", "mattermost://chat.example.org:8065/**** […]"),
    ("https://discord.com/api/webhooks/4174216298/JHMHI8qBe7bk", "https://discord.com/****/****/****/**** […]"),
    ("not a url", "****"),
    ("http://[::1", "****"),
])
def test_redact(url: str, shown: str) -> None:
    assert re.fullmatch(re.escape(shown).replace(re.escape("[…]"), r"\[[0-9a-f]{8}\]"), redact(url)), redact(url)


def test_redacted_names_tell_destinations_apart_but_not_passwords() -> None:
    one, other = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js", "discord://4174216298/XHMHI8qBe7bk2ZwO5U711o3dV_js"
    assert redact(one) != redact(other) and redact(one) == redact(" " + one)
    # The password never enters the name: a short hash of a guessable password could be checked offline.
    assert redact("mailto://ada:first@gmail.com") == redact("mailto://ada:second@gmail.com")
    assert redact("mailto://ada:pw@gmail.com") != redact("mailto://bob:pw@gmail.com")


def test_no_slow_imports_for_the_cli() -> None:
    code = ("import sys, monitor.cli, monitor.alerts.channels; "
            "print(sorted(m for m in ('apprise', 'requests') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]"

