"""Delivery of one alert message: e-mail over SMTP, a signed JSON webhook, or any Apprise URL.

Every failure is a :class:`DeliveryError` with a one-line reason free of passwords and tokens, and
``permanent`` telling the outbox whether trying again later can help.

Signed webhooks (``json://`` → POST to ``http://``, ``jsons://`` → ``https://``; same host, port,
path and query; ``user:password@`` becomes HTTP Basic authentication). The body is the compact JSON
of :meth:`Message.as_json` plus ``"sent_at"`` (UTC, ISO 8601). Headers::

    Content-Type: application/json
    X-Likeness-Timestamp: 1700000000                 (Unix seconds when sent)
    X-Likeness-Signature: sha256=<64 hex digits>

The signature is ``HMAC-SHA256(key=LIKENESS_WEBHOOK_SECRET (UTF-8), msg=f"{timestamp}.".encode() + body)``
over the raw body bytes as received. A receiver recomputes it, compares with ``hmac.compare_digest``
and refuses a timestamp far from its own clock (say over 5 minutes), so a captured request cannot be
replayed later. Without the secret nothing is sent: a plain webhook is always signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import smtplib
import socket
import ssl
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from enrollment.errors import LikenessError, error_line
from monitor.alerts.message import Message
from monitor.alerts.redaction import redact, scrub, url_secrets
from monitor.config import ConfigError, SmtpSettings

# redact is re-exported: the outbox names a URL delivery's recipient with it.
__all__ = ["DeliveryError", "redact", "send_email", "send_to_url", "sign"]

USER_AGENT = "LikenessMonitor/0.1 (alerts; +https://github.com/likeness-monitor)"
SIGNED_SCHEMES = {"json": "http", "jsons": "https"}
MAX_REASON = 300  # characters of a server's or library's reason kept in an error message


class DeliveryError(LikenessError):
    """A message was not delivered. ``permanent``: True when retrying the same message cannot help."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(" ".join(reason.split()))  # always one line
        self.permanent = permanent


# ------------------------------------------------------------------------------------------ e-mail


def send_email(smtp: SmtpSettings, message: EmailMessage) -> None:
    """Send a composed message through the configured server (``LIKENESS_SMTP_*`` applied).

    Envelope sender and recipients come from the message's From and To/Cc/Bcc headers (meant for one
    recipient). Raises DeliveryError on every failure: permanent for a 5xx reply to the message itself
    (recipient, sender or message refused); temporary for what the operator can fix (an unset host, bad
    settings, a rejected login, a server lacking STARTTLS/AUTH) and for refused connections, timeouts,
    TLS failures, disconnects and 4xx replies.
    """
    try:
        smtp = smtp.effective()
    except ConfigError as error:
        raise DeliveryError(f"e-mail settings: {error}", permanent=False) from None
    if not smtp.host:
        raise DeliveryError("e-mail is not configured: set smtp.host or LIKENESS_SMTP_HOST", permanent=False)
    password = smtp.password
    where = f"e-mail via {smtp.host}:{smtp.port}"
    try:
        refused = _smtp_transaction(smtp, password, message)
        if refused:  # some recipients accepted, others not (a message is meant for one)
            raise smtplib.SMTPRecipientsRefused(refused)
    except (smtplib.SMTPException, OSError, ValueError, UnicodeError) as error:
        reason, permanent = _smtp_failure(error, smtp)
        # smtplib's errors may echo what was sent: the password never leaves in a message.
        secrets = _login_secrets(smtp.username, password) if smtp.username else []
        raise DeliveryError(scrub(f"{where}: {reason}", secrets), permanent=permanent) from None


def _smtp_failure(error: Exception, smtp: SmtpSettings) -> tuple[str, bool]:
    """(one-line reason, permanent) for an exception of an SMTP transaction."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        listed = "; ".join(f"{rcpt}: {_reply(code, text)}" for rcpt, (code, text) in error.recipients.items())
        return f"recipient refused ({listed})", all(code >= 500 for code, _text in error.recipients.values())
    if isinstance(error, smtplib.SMTPAuthenticationError):
        # our own settings are wrong, not the recipient: kept for a retry once the operator fixes them
        return f"login as {smtp.username!r} refused ({_reply(error.smtp_code, error.smtp_error)})", False
    if isinstance(error, smtplib.SMTPResponseException):  # sender or data refused, HELO refused, 421 …
        return _reply(error.smtp_code, error.smtp_error), error.smtp_code >= 500
    if isinstance(error, smtplib.SMTPNotSupportedError):  # no STARTTLS or no AUTH: a setting to change, then retry
        return error_line(error), False
    if isinstance(error, smtplib.SMTPServerDisconnected) and not isinstance(error.__context__, TimeoutError):
        return f"the server hung up ({error_line(error)})", False
    if isinstance(error, (TimeoutError, smtplib.SMTPServerDisconnected)):  # smtplib wraps a read's timeout
        return f"no answer within {smtp.timeout_s:g} s", False
    if isinstance(error, ConnectionRefusedError):
        return "connection refused", False
    if isinstance(error, socket.gaierror):
        return "cannot resolve the host name", False
    if isinstance(error, ssl.SSLError):  # certificate checks included: the server's side may be fixed
        return f"TLS failed ({error.reason or error_line(error)})", False
    if isinstance(error, (smtplib.SMTPException, OSError)):
        return f"{type(error).__name__}: {error_line(error)}", False
    return f"unsendable message: {error_line(error)}", True  # ValueError: no From, bad address …


def _smtp_transaction(smtp: SmtpSettings, password: str, message: EmailMessage) -> dict:
    """Connect, secure, log in and send; returns smtplib's refused-recipients dict."""
    context = ssl.create_default_context()
    if smtp.security == "ssl":
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout_s, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_s)
    try:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, password)
        return client.send_message(message)
    finally:
        _close(client)


def _close(client: smtplib.SMTP) -> None:
    # QUIT after a sent message is politeness: its failure must not turn a delivery into an error.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _reply(code: int, text: bytes | str) -> str:
    """An SMTP reply as one short line: ``"550 5.1.1 no such user"``."""
    text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(text.split())}"[:MAX_REASON]


def _login_secrets(username: str, password: str) -> list[str]:
    """The password and the forms smtplib sends it in (AUTH PLAIN and LOGIN are base64), for scrubbing."""
    if not password:
        return []
    encoded = [base64.b64encode(raw.encode()).decode() for raw in (password, f"\0{username}\0{password}")]
    return [password, repr(password)[1:-1], *encoded]


# ------------------------------------------------------------------------------------------- URLs


def send_to_url(url: str, message: Message, timeout_s: float) -> None:
    """Deliver a message to one alert URL: ``json://`` / ``jsons://`` ourselves (signed), others via Apprise.

    ``timeout_s``: seconds to wait for a connection and for the answer. Raises DeliveryError:
    permanent for a URL nobody can use, a 4xx answer other than 408/429 or a redirect; temporary for
    a missing LIKENESS_WEBHOOK_SECRET (a setting to fix), connection failures, timeouts, 408, 429 and
    5xx, and for any failure Apprise reports.
    """
    scheme = url.partition("://")[0].strip().lower()
    if scheme in SIGNED_SCHEMES:
        _post_signed(url, message, timeout_s)
    else:
        _notify_apprise(url, message, timeout_s)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Likeness-Signature`` value: ``"sha256=" + hex HMAC-SHA256(secret, f"{timestamp}." + body)``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _post_signed(url: str, message: Message, timeout_s: float) -> None:
    import requests  # slow to import: only when a webhook is actually sent

    where = f"webhook {redact(url)}"
    secret = os.environ.get("LIKENESS_WEBHOOK_SECRET", "")
    if not secret:
        # a setting to fix: the delivery waits for it (until alerts.give_up_after_s)
        raise DeliveryError(f"{where}: set LIKENESS_WEBHOOK_SECRET; json(s):// webhooks are always signed", False)
    parts = urlsplit(url.strip())
    userinfo, _, hostport = parts.netloc.rpartition("@")
    if not hostport:
        raise DeliveryError(f"{where}: the URL names no host", permanent=True)
    target = urlunsplit((SIGNED_SCHEMES[parts.scheme.lower()], hostport, parts.path or "/", parts.query, ""))
    user, _, password = userinfo.partition(":")
    auth = (unquote(user), unquote(password)) if userinfo else None
    timestamp = int(time.time())
    payload = {**message.as_json(), "sent_at": datetime.fromtimestamp(timestamp, UTC).isoformat()}
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Likeness-Timestamp": str(timestamp),
        "X-Likeness-Signature": sign(secret, timestamp, body),
    }
    try:
        # No redirects: a POST would turn into a GET, and the signed body would go elsewhere.
        with requests.post(target, data=body, headers=headers, auth=auth, timeout=timeout_s,
                           allow_redirects=False, stream=True) as response:
            status, reason = response.status_code, response.reason or ""
    except requests.Timeout:
        raise DeliveryError(f"{where}: no answer within {timeout_s:g} s") from None
    except requests.exceptions.SSLError as error:
        raise DeliveryError(f"{where}: TLS failed ({_root_cause(error)})") from None
    except requests.ConnectionError as error:
        raise DeliveryError(f"{where}: {_root_cause(error)}") from None
    except (requests.RequestException, ValueError) as error:  # an address requests cannot use
        raise DeliveryError(f"{where}: not a usable URL ({type(error).__name__})", permanent=True) from None
    if 200 <= status < 300:
        return
    permanent = status < 500 and status not in (408, 429)
    raise DeliveryError(f"{where}: answered HTTP {status} {reason[:80]}", permanent=permanent)


def _root_cause(error: BaseException) -> str:
    """A short reason from an exception chain, without the URL that requests' messages repeat."""
    seen: object = error
    for _depth in range(12):  # requests → urllib3 MaxRetryError → NewConnectionError → OSError
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, socket.gaierror):
            return "cannot resolve the host name"
        if isinstance(seen, ssl.SSLError):
            return seen.reason or type(seen).__name__
        if not isinstance(seen, BaseException):
            break
        wrapped = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        seen = getattr(seen, "reason", None) if isinstance(getattr(seen, "reason", None), BaseException) else (
            seen.__cause__ or wrapped or seen.__context__)
    return f"connection failed ({type(error).__name__})"


def _notify_apprise(url: str, message: Message, timeout_s: float) -> None:
    import apprise  # slow to import: only when such a URL is actually used

    where = redact(url)
    asset = apprise.AppriseAsset(app_id="Likeness Monitor", app_desc="Likeness Monitor alerts",
                                 app_url="https://github.com/likeness-monitor")
    service = apprise.Apprise.instantiate(url.strip(), asset=asset)
    if service is None:
        raise DeliveryError(f"not a URL Apprise knows: {redact(url)}", permanent=True)
    query = {name.lower() for name, _value in parse_qsl(urlsplit(url.strip()).query)}
    # Apprise waits 4 s by default; use ours unless the URL chose (cto=, rto=).
    if "cto" not in query:
        service.socket_connect_timeout = timeout_s
    if "rto" not in query:
        service.socket_read_timeout = timeout_s
    notifier = apprise.Apprise(asset=asset)
    notifier.add(service)
    result = notifier.notify(body=message.text, title=message.subject, log_level=logging.WARNING)
    if result:
        return
    logged = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR", "CRITICAL")]
    reason = scrub(" ".join(logged[-2:]) or "Apprise reported a failure", url_secrets(url))
    raise DeliveryError(f"{where}: {reason[:MAX_REASON]}", permanent=False)


def _first_line(error: BaseException) -> str:
    return ((str(error) or type(error).__name__).splitlines() or [""])[0][:MAX_REASON]
