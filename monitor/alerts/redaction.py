"""Alert URLs made safe to store and log, and secrets scrubbed from libraries' messages.

An alert URL (Apprise or our json://) often carries its credentials: a password in ``user:password@``,
a token as the "host" or in the path (Slack, Discord, Telegram), an API key in the query.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, unquote, urlsplit

HIDDEN = "****"
# Schemes whose host and path are an address (kept by redact), not a token.
# http(s) is not among them: Apprise takes Slack's and Discord's own https webhook URLs, tokens in the path.
ADDRESS_SCHEMES = {"json", "jsons", "form", "forms", "xml", "xmls"}


def redact(url: str) -> str:
    """``url`` safe to store and log: scheme kept; user and password, query values and tokens hidden.

    For web addresses (json, form, xml and their secure forms) host, port and path are
    kept: ``json://****@hooks.example.org/alerts?key=**** [04f8996d]``. For service schemes (slack,
    discord, tgram, msteams, https, …) the host is kept only when it is a host name (self-hosted
    services), and every path segment is hidden, since that is where tokens go:
    ``discord://****/**** [3e30fd64]``. A fragment (Slack's ``#channel``) is kept for service schemes.

    The bracketed suffix, present when a user name, a host or path segments are hidden, is the first
    8 hex digits of SHA-256 over those hidden parts, so that two webhooks of one service get two
    names (the outbox names a recipient with this). Passwords and query values never enter it: a
    short hash of a guessable password could be checked offline. Never raises.
    """
    parts = split_url(url)
    if parts is None:
        return HIDDEN
    scheme, userinfo, hostport, path, query, fragment = parts
    address = scheme in ADDRESS_SCHEMES
    shown, hidden = [f"{scheme}://"], []
    if userinfo:
        shown.append(f"{HIDDEN}@")
        hidden.append(unquote(userinfo.partition(":")[0]))
    if address or _is_host_name(hostport):
        shown.append(hostport)
    else:
        shown.append(HIDDEN)
        hidden.append(hostport)
    if address:
        shown.append(path)
    else:
        segments = path.split("/")[1:]
        shown.append("".join(f"/{HIDDEN}" if segment else "/" for segment in segments))
        hidden += [segment for segment in segments if segment]
    if query:
        shown.append("?" + "&".join(f"{name}={HIDDEN}" for name, _value in parse_qsl(query, keep_blank_values=True)))
    if fragment and not address:
        shown.append(f"#{fragment}")
    if hidden:
        shown.append(f" [{hashlib.sha256(chr(0).join(hidden).encode()).hexdigest()[:8]}]")
    return "".join(shown)


def split_url(url: str) -> tuple[str, str, str, str, str, str] | None:
    """(scheme lower-cased, userinfo, host[:port], path, query, fragment), or None for no URL."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if not parts.scheme or not parts.netloc:
        return None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return parts.scheme.lower(), userinfo, hostport, parts.path, parts.query, parts.fragment


def _is_host_name(hostport: str) -> bool:
    """True for ``mail.example.org``, ``127.0.0.1:8080``, ``[::1]``, ``localhost``; False for bare tokens."""
    if hostport.startswith("["):  # an IPv6 literal
        return True
    host, colon, port = hostport.partition(":")
    if colon and not port.isdigit():
        return False  # "digits:letters" is Telegram's bot token, not host:port
    labels = host.lower().split(".")
    return host.lower() == "localhost" or (
        len(labels) > 1 and all(label and label.replace("-", "").isalnum() for label in labels))


def url_secrets(url: str) -> list[str]:
    """The parts of ``url`` that ``redact`` hides, to scrub them from a library's messages."""
    parts = split_url(url)
    if parts is None:
        return [url]
    _scheme, userinfo, hostport, path, query, _fragment = parts
    secrets = [piece for piece in userinfo.split(":") if piece]
    secrets += [value for _name, value in parse_qsl(query) if value]
    if parts[0] not in ADDRESS_SCHEMES:
        secrets += [segment for segment in path.split("/") if segment]
        if not _is_host_name(hostport):
            secrets += [hostport, *hostport.split(":")]
    return [*secrets, *(unquote(secret) for secret in secrets)]


def scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret replaced by ``****``, longest first (a secret may contain another)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
