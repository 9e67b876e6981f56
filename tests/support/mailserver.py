"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the alert tests: every accepted message kept, parsed.

``MailServer()`` → ``.start()`` (a free port, or the same port again after ``.stop()``), ``.messages``
(envelope sender, recipients, the parsed message). Optional AUTH (``username``/``password``, PLAIN and
LOGIN allowed without TLS), implicit TLS (``tls="ssl"``) or STARTTLS (``tls="starttls"``) with a
certificate for 127.0.0.1 made by :func:`make_certificate`, and ``rcpt_reply`` to refuse recipients
("550 …") or fail them for now ("451 …").

Fixtures (tests/alerts/conftest.py): ``mail_server`` (started, plain), ``certificate`` (session-wide
(cert, key) paths made by :func:`make_certificate`; skips where the openssl command is missing).
"""

from __future__ import annotations

import email
import socket
import ssl
import subprocess
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

READY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Received:
    """One accepted message: envelope sender and recipients as given in MAIL FROM / RCPT TO."""

    sender: str
    recipients: list[str]
    message: EmailMessage


class MailServer:
    """An SMTP server on 127.0.0.1 in a thread of its own; see the module docstring."""

    def __init__(self, username: str | None = None, password: str | None = None,
                 tls: str | None = None, certificate: tuple[Path, Path] | None = None) -> None:
        if tls not in (None, "ssl", "starttls") or (tls and certificate is None):
            raise ValueError("tls is None, 'ssl' or 'starttls', and needs a certificate")
        self.username, self.password = username, password
        self.tls, self.certificate = tls, certificate
        self.messages: list[Received] = []
        self.logins: list[str] = []  # user names of successful logins
        self.rcpt_reply: str | None = None  # None accepts; "550 5.1.1 …" or "451 4.3.0 …" refuses every recipient
        self.port = 0
        self._controller: Controller | None = None

    def start(self) -> int:
        """Listen (again) and return the port; the same port as before once one was chosen."""
        if self._controller is not None:
            return self.port
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        kwargs: dict = {}
        if self.username is not None:
            kwargs |= {"authenticator": self._authenticate, "auth_require_tls": False}
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, self.certificate))
            kwargs["ssl_context" if self.tls == "ssl" else "tls_context"] = context
        # A new controller each time: a stopped one has closed its event loop. ready_timeout: how long start()
        # waits for the server to answer its own probe (5 s by default, which a loaded machine can exceed).
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      ready_timeout=READY_TIMEOUT_S, **kwargs)
        self._controller.start()
        return self.port

    def stop(self) -> None:
        """Stop listening; open connections are dropped. ``start()`` listens on the same port again."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: object) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (auth_data.login.decode(), auth_data.password.decode()) == (self.username, self.password)
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if self.server.rcpt_reply:
            return self.server.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command: (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key

