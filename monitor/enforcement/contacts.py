"""Where a notice goes: the directory of ``[notices] contacts`` (host → e-mail address or form URL)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from enrollment.errors import LikenessError

_EMAIL = re.compile(r"[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


def host_of(location: str) -> str | None:
    """The lower-case host of an http(s) URL; None for a local path or anything else."""
    parts = urlsplit(location)
    return parts.hostname.lower().rstrip(".") if parts.scheme in ("http", "https") and parts.hostname else None


def contact_for(host: str, contacts: dict) -> str | None:
    """The directory's entry for ``host`` or the nearest domain above it (``m.videos.example`` → the entry of
    ``videos.example``); None where there is none. ConfigError-like one line for an entry that is neither an
    e-mail address nor an https:// URL."""
    labels = host.split(".")
    for start in range(len(labels) - 1):
        entry = contacts.get(".".join(labels[start:]))
        if entry is not None:
            return checked_recipient(entry, f"notices.contacts[{'.'.join(labels[start:])!r}]")
    return None


def checked_recipient(value: object, what: str = "--to") -> str:
    """``value`` if it is an e-mail address or an https:// URL (a platform's form), else one line saying so."""
    text = value.strip() if isinstance(value, str) else ""
    if _EMAIL.fullmatch(text) or (text.startswith("https://") and host_of(text) and len(text) <= 2000
                                  and not any(c.isspace() for c in text)):
        return text
    raise LikenessError(f"{what} must be an e-mail address or a form's https:// URL, not {str(value)[:80]!r}")
