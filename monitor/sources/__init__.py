"""Source kinds: every kind of place the crawler can watch, and the one registry that names them.

Each kind is an extension point: a module ``monitor/sources/<kind>.py`` with one function,
``parse(body: bytes, url: str, content_type: str | None) -> Found`` (contract in
:mod:`monitor.sources.base`: pure, never raises on bad input, absolute http(s) URLs only, in document
order, without duplicates), entered in :data:`PARSERS`. The kinds:

``page``
    An HTML page (:mod:`monitor.sources.page`). Media embedded or linked: ``<audio>``, ``<video>``
    (``src``, ``poster``), ``<source>``, ``<img>`` (``src`` and every ``srcset`` candidate), ``<a href>``
    to media files, Open Graph ``og:audio``/``og:video``/``og:image``, ``twitter:image``, JSON-LD
    ``contentUrl``. Pages: other links and announced RSS/Atom feeds; the crawler follows same-site
    links to the source's depth (``crawl.default_depth``).

``feed``
    An RSS, Atom or podcast feed (:mod:`monitor.sources.feed`, via feedparser): enclosures,
    ``media:content``, ``media:thumbnail``, ``itunes:image``. Pages: entry links (episode pages).

``sitemap``
    A sitemap or sitemap index, XML (optionally gzipped) or plain text (:mod:`monitor.sources.sitemap`).
    Pages: listed pages and further sitemaps. Media: the image and video sitemap extensions.

``folder``
    A local directory, walked recursively by the crawler with :func:`monitor.sources.folder.walk`: there
    is no document to parse, so it has no entry in :data:`PARSERS`.

``media``
    One direct media URL (:mod:`monitor.sources.media`): the URL itself is the only media file.

``--kind auto`` calls :func:`detect_kind` on the first response to choose among them. A new kind is a
new module, an entry in :data:`PARSERS` and :data:`KINDS`, and, if it can be recognised from a
response, a rule in :func:`detect_kind`. Shared by the parsers: :mod:`monitor.sources.links` (the URL
rules, media extensions, ordered de-duplication) and :mod:`monitor.sources.markup` (decoding HTML and
picking out its tags in linear time).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from monitor.sources import feed, media, page, sitemap
from monitor.sources.base import Found
from monitor.sources.links import is_media_url

__all__ = ["KINDS", "PARSERS", "Found", "detect_kind"]

Parser = Callable[[bytes, str, str | None], Found]

PARSERS: dict[str, Parser] = {
    "page": page.parse,
    "feed": feed.parse,
    "sitemap": sitemap.parse,
    "media": media.parse,
}
KINDS = ("page", "feed", "sitemap", "folder", "media")

FEED_CONTENT_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})
MEDIA_CONTENT_TYPES = frozenset({"application/ogg", "application/mp4"})
GENERIC_CONTENT_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/unknown"})
FEED_ROOTS = frozenset({"rss", "feed", "RDF"})
SITEMAP_ROOTS = frozenset({"urlset", "sitemapindex"})
SNIFF_BYTES = 65536
# Signatures of media files, for responses whose content type says nothing: (offset, bytes).
MEDIA_MAGIC = (
    (0, b"ID3"),
    (0, b"fLaC"),
    (0, b"OggS"),
    (0, b"\x1aE\xdf\xa3"),
    (4, b"ftyp"),
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"\xff\xd8\xff"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
)
RIFF_MEDIA = (b"WAVE", b"AVI ", b"WEBP")
_NAME = re.compile(r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?")


def detect_kind(body: bytes, url: str, content_type: str | None) -> str:
    """The kind of the response ``body`` to ``url``: "feed", "sitemap", "media" or "page".

    In order: an audio/video/image content type is media; an XML root ``rss``, ``feed`` or ``rdf:RDF``
    is a feed and ``urlset`` or ``sitemapindex`` a sitemap (gzipped bodies are looked into); an RSS or
    Atom content type is a feed; with a generic content type (none, application/octet-stream) a media
    extension in the URL or a media file signature is media; a text body of URLs, one per line, is a text
    sitemap; anything else is a page.
    """
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if mime.startswith(("audio/", "video/", "image/")) or mime in MEDIA_CONTENT_TYPES:
        return "media"
    gzipped = body.startswith(sitemap.GZIP_MAGIC)
    head = sitemap.gunzip(body[: SNIFF_BYTES * 4], SNIFF_BYTES) if gzipped else body[:SNIFF_BYTES]
    root = xml_root(head)
    if root in FEED_ROOTS:
        return "feed"
    if root in SITEMAP_ROOTS:
        return "sitemap"
    if mime in FEED_CONTENT_TYPES:
        return "feed"
    if mime in GENERIC_CONTENT_TYPES and not gzipped and (is_media_url(url) or _media_magic(body)):
        return "media"
    if (gzipped or mime in GENERIC_CONTENT_TYPES or mime == "text/plain") and _url_lines(head):
        return "sitemap"
    return "page"


def xml_root(head: bytes) -> str | None:
    """Local name of the first element of an XML document's start (prolog, comments, DOCTYPE skipped)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="replace")
    else:
        text = head.decode("utf-8", errors="replace")
    i, n = 0, len(text)
    while i < n:
        while i < n and (text[i].isspace() or text[i] == "\ufeff"):
            i += 1
        if text.startswith("<?", i):
            end = text.find("?>", i) + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i) + 3
        elif text.startswith("<!", i):  # DOCTYPE, possibly with an internal subset in brackets
            close, bracket = text.find(">", i), text.find("[", i)
            if bracket != -1 and (close == -1 or bracket < close):
                close = text.find(">", max(text.find("]", bracket), bracket))
            end = close + 1
        elif text.startswith("<", i):
            match = _NAME.match(text, i + 1)
            return match.group().rpartition(":")[2] if match else None
        else:
            return None
        if end <= i:  # the construct is not closed within the head
            return None
        i = end
    return None


def _media_magic(body: bytes) -> bool:
    if body.startswith(b"RIFF") and body[8:12] in RIFF_MEDIA:
        return True
    return any(body[offset : offset + len(magic)] == magic for offset, magic in MEDIA_MAGIC)


def _url_lines(head: bytes) -> bool:
    """Whether the first non-blank line of ``head`` is an absolute http(s) URL (a text sitemap)."""
    for line in head.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if line:
            return line.lower().startswith(("http://", "https://")) and not any(c.isspace() for c in line)
    return False
