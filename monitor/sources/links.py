"""Helpers shared by the source parsers: absolute URLs, the media-extension test, ordered de-duplication.

Every URL a parser returns goes through :func:`absolute`, so the rules live in one place: resolved
against the document's base, fragment dropped, scheme http or https with a host, no whitespace or
control characters, at most :data:`MAX_URL_CHARS` characters. Anything else (``javascript:``,
``mailto:``, ``data:``, an unparsable host, a runaway string) is dropped, never raised.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from enrollment.errors import printable
from monitor.sources.base import Found

AUDIO_EXTENSIONS = frozenset({"mp3", "m4a", "aac", "ogg", "oga", "opus", "wav", "flac", "weba"})
VIDEO_EXTENSIONS = frozenset({"mp4", "m4v", "mov", "webm", "mkv", "avi"})
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "webp", "gif", "bmp"})
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS | IMAGE_EXTENSIONS

# Longer URLs are junk or hostile; browsers and servers commonly stop near this length too.
MAX_URL_CHARS = 8192
# A document's links beyond this many media files (or pages) are ignored.
MAX_URLS = 100_000
# A title longer than this is cut (titles are for reports).
MAX_TITLE_CHARS = 300

_STRIPPED = re.compile(r"[\t\n\r]")  # browsers remove these anywhere in a URL ...
_C0_AND_SPACE = "".join(map(chr, range(33)))  # ... and these at either end
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")  # not allowed in a host, whatever the encoding
_PATH_SAFE = "/:@!$&'()*+,;=%~"
_QUERY_SAFE = _PATH_SAFE + "?"
_SRCSET_URL = re.compile(r"[\s,]*(\S*)")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# An http(s) URL with a plain host and nothing to quote or normalise: the common case, built without urllib.
_PLAIN = re.compile(
    r"(https?)://([A-Za-z0-9.\-]+)(?::([0-9]{1,5}))?(/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?(\?[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?",
    re.IGNORECASE,
)


def absolute(ref: object, base: str) -> str | None:
    """``ref`` resolved against ``base`` as an absolute http(s) URL without fragment, or None."""
    if not isinstance(ref, str):
        return None
    ref = _STRIPPED.sub("", ref).strip(_C0_AND_SPACE)
    if not ref or ref.startswith("#") or len(ref) > MAX_URL_CHARS:  # "#x": this document itself
        return None
    scheme = _SCHEME.match(ref)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        return None  # javascript:, mailto:, data:, tel:, ftp:, ...
    joined = None
    if scheme and ref.startswith("//", scheme.end()):
        joined = ref
    elif not scheme and not ref.startswith("?") and (origin := _origin(base)):
        if ref.startswith("//"):
            joined = origin[0] + ":" + ref
        else:
            joined = (origin[1] if ref.startswith("/") else origin[2]) + ref
    plain = _PLAIN.fullmatch(joined.partition("#")[0]) if joined and "/." not in joined else None
    if plain and (not plain.group(3) or int(plain.group(3)) <= 65535):
        scheme_name, host, port, path, query = plain.groups()
        url = f"{scheme_name.lower()}://{host.lower()}{':' + port if port else ''}{path or '/'}{query or ''}"
        return url if len(url) <= MAX_URL_CHARS else None
    try:
        parts = urlsplit(urljoin(base, ref))
        scheme_name = parts.scheme.lower()
        if scheme_name not in ("http", "https") or not parts.hostname or _BAD_CHARS.search(parts.netloc):
            return None
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number in range)
        netloc = parts.netloc if "@" in parts.netloc else parts.netloc.lower()
        path = quote(parts.path, safe=_PATH_SAFE) or "/"
        query = quote(parts.query, safe=_QUERY_SAFE)
        url = urlunsplit((scheme_name, netloc, path, query, ""))
    except (ValueError, UnicodeError):
        return None
    return url if len(url) <= MAX_URL_CHARS else None


@lru_cache(maxsize=64)
def _origin(base: str) -> tuple[str, str, str] | None:
    """(scheme, "scheme://host[:port]", "scheme://host[:port]/directory/") of an http(s) base URL, or None."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.netloc:
        return None
    origin = f"{scheme}://{parts.netloc}"
    return scheme, origin, origin + parts.path[: parts.path.rfind("/") + 1] if parts.path else origin + "/"


def extension(url: str) -> str:
    """The lower-cased extension of the URL's path (its last segment, before any ``;params``), without the
    dot; "" when none."""
    path = url.partition("#")[0].partition("?")[0]
    authority = path.find("://")
    if authority >= 0:
        slash = path.find("/", authority + 3)
        path = path[slash:] if slash >= 0 else ""
    name = path.rpartition("/")[2].partition(";")[0]
    if "%" in name:
        name = unquote(name)
    dot = name.rfind(".")
    return name[dot + 1 :].lower() if dot > 0 else ""


def is_media_url(url: str) -> bool:
    """Whether the URL's path ends in an audio, video or image extension."""
    return extension(url) in MEDIA_EXTENSIONS


def clean_title(text: object) -> str | None:
    """Whitespace collapsed, anything a terminal could act on escaped (a title is shown as given by a stranger),
    cut to :data:`MAX_TITLE_CHARS`; None when empty or not text."""
    if not isinstance(text, str):
        return None
    text = printable(" ".join(text.split()))
    return text[:MAX_TITLE_CHARS] or None


def srcset_urls(srcset: object) -> list[str]:
    """The URL of every candidate in a ``srcset`` value, descriptors ("1x", "640w") dropped.

    Follows the HTML algorithm: a candidate's URL runs to the next whitespace; trailing commas end it;
    descriptors run to the next comma outside parentheses. Commas inside a URL therefore survive.
    """
    if not isinstance(srcset, str):
        return []
    urls: list[str] = []
    pos, length = 0, len(srcset)
    while pos < length:
        match = _SRCSET_URL.match(srcset, pos)
        url, pos = match.group(1), match.end()
        if url.endswith(","):
            url = url.rstrip(",")
        else:  # descriptors, up to the comma that ends this candidate (commas in parentheses do not)
            while pos < length:
                comma = srcset.find(",", pos)
                paren = srcset.find("(", pos, comma if comma >= 0 else length)
                if paren >= 0:
                    close = srcset.find(")", paren)
                    pos = close + 1 if close >= 0 else length
                else:
                    pos = comma + 1 if comma >= 0 else length
                    break
        if url:
            urls.append(url)
    return urls


class Collector:
    """Gathers the links of one document in order, resolved against its base, without duplicates.

    At most :data:`MAX_URLS` of each sort are kept: more than any crawl budget can use.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        self._media: dict[str, None] = {}
        self._pages: dict[str, None] = {}
        self._resolved: dict[object, str | None] = {}  # the same reference recurs a lot in a page

    def _absolute(self, ref: object) -> str | None:
        if not isinstance(ref, str):
            return None
        if ref not in self._resolved:
            self._resolved[ref] = absolute(ref, self.base)
        return self._resolved[ref]

    def media(self, ref: object) -> None:
        """Record a media file (audio, video or image), whatever its extension."""
        _add(self._media, self._absolute(ref))

    def page(self, ref: object) -> None:
        """Record a further document to visit."""
        _add(self._pages, self._absolute(ref))

    def link(self, ref: object) -> None:
        """Record a plain link: media when its path has a media extension, else a page."""
        url = self._absolute(ref)
        if url:
            _add(self._media if is_media_url(url) else self._pages, url)

    def found(self, title: object = None) -> Found:
        return Found(media_urls=list(self._media), page_urls=list(self._pages), title=clean_title(title))


def _add(urls: dict[str, None], url: str | None) -> None:
    if url and len(urls) < MAX_URLS:
        urls.setdefault(url)
