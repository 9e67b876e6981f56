"""A notice as an e-mail: its text as the body, its PDF attached, replies to the signer."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr


def notice_email(text: str, pdf: bytes, notice_id: int, from_address: str, to: str, reply_to: str) -> EmailMessage:
    """The message of notice ``notice_id``: Subject its title (the text's first line), To one recipient,
    Reply-To the signer, ``notice-ID.pdf`` attached. ValueError for a header with a line break."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    message["Reply-To"] = reply_to
    message["Subject"] = text.split("\n", 1)[0].strip()
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = parseaddr(from_address)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(f"notice-{notice_id}", domain=domain)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"notice-{notice_id}.pdf")
    return message
