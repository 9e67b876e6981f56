"""Source kind ``sitemap``: XML sitemaps and sitemap indexes, gzipped or not, and plain-text sitemaps.

Pages: ``<sitemapindex><sitemap><loc>`` (further sitemaps) and ``<urlset><url><loc>``. Media: the image
extension (``image:image/image:loc``) and the video extension (``video:video/video:content_loc`` and
``video:thumbnail_loc``; ``video:player_loc`` is a player page, not a media file). A ``<loc>`` whose path
ends in a media extension is counted as media, since fetching it as a page would only waste the page budget.

Elements are matched by namespace, not prefix: the sitemap namespace (0.9, the old 0.84, or none) and
Google's ``sitemap-image`` and ``sitemap-video`` namespaces. A body starting with the gzip magic is
decompressed up to :data:`MAX_DECOMPRESSED_BYTES` (the rest is dropped). The XML goes through defusedxml
with DTDs forbidden, so an entity bomb or external entity gives an empty Found at once; a truncated or
broken document gives the links read before the error. A body that is not XML is read as a text sitemap:
one absolute http(s) URL per line.
"""

from __future__ import annotations

import io
import zlib
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from monitor.sources.base import Found
from monitor.sources.links import Collector

GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED_BYTES = 50_000_000
GUNZIP_CHUNK = 4096
# Deeper XML is not a sitemap (they are four elements deep); reading stops there.
MAX_DEPTH = 32
SITEMAP_NAMESPACES = frozenset(
    {"", "http://www.sitemaps.org/schemas/sitemap/0.9", "http://www.google.com/schemas/sitemap/0.84"}
)
IMAGE_NAMESPACE_MARK = "sitemap-image"  # http://www.google.com/schemas/sitemap-image/1.1
VIDEO_NAMESPACE_MARK = "sitemap-video"  # http://www.google.com/schemas/sitemap-video/1.1
# (parent, element) as ((namespace kind, local name), (namespace kind, local name)).
PAGE_ELEMENTS = frozenset({(("sitemap", "url"), ("sitemap", "loc")), (("sitemap", "sitemap"), ("sitemap", "loc"))})
MEDIA_ELEMENTS = frozenset(
    {
        (("image", "image"), ("image", "loc")),
        (("video", "video"), ("video", "content_loc")),
        (("video", "video"), ("video", "thumbnail_loc")),
    }
)
_BOM = b"\xef\xbb\xbf"


def parse(body: bytes, url: str, content_type: str | None) -> Found:
    """Pages (further sitemaps, listed pages) and media (images, videos) of the sitemap ``body``."""
    if body.startswith(GZIP_MAGIC):
        body = gunzip(body)
    found = Collector(url)
    try:
        head = body[:1024].lstrip()
        if head.startswith((b"<", _BOM, b"\xff\xfe", b"\xfe\xff")):
            _read_xml(body, found)
        else:
            _read_text(body, found)
    except DefusedXmlException:  # a DTD, an entity declaration, an external reference: refused outright
        return Found()
    return found.found()


def gunzip(body: bytes, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The gzip stream ``body`` decompressed, at most ``limit`` bytes; a corrupt stream gives what was read."""
    inflater, out = zlib.decompressobj(16 + zlib.MAX_WBITS), bytearray()
    for start in range(0, len(body), GUNZIP_CHUNK):  # piecewise, so that a corrupt tail loses little
        try:
            out += inflater.decompress(body[start : start + GUNZIP_CHUNK], limit - len(out))
        except zlib.error:
            break
        if len(out) >= limit or inflater.unconsumed_tail or inflater.eof:
            break
    return bytes(out)


def _local(tag: str) -> tuple[str, str]:
    """(namespace, local name) of an ElementTree tag ``{namespace}name``."""
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _kind(namespace: str) -> str:
    if namespace in SITEMAP_NAMESPACES:
        return "sitemap"
    if IMAGE_NAMESPACE_MARK in namespace:
        return "image"
    if VIDEO_NAMESPACE_MARK in namespace:
        return "video"
    return "other"


def _read_xml(body: bytes, found: Collector) -> None:
    """Add the links of an XML sitemap to ``found``, stopping quietly at the first parse error."""
    path: list[tuple[str, str]] = []  # (kind, local name) of the open elements
    root = None
    events = iterparse(io.BytesIO(body), events=("start", "end"), forbid_dtd=True)
    try:
        for event, element in events:
            if event == "start":
                if len(path) >= MAX_DEPTH:
                    return  # sitemaps are four deep: this is no sitemap, and its tree would only eat memory
                namespace, name = _local(element.tag)
                path.append((_kind(namespace), name))
                root = element if root is None else root
                continue
            kind, name = path.pop()
            parent = path[-1] if path else ("", "")
            text = (element.text or "").strip()
            if (parent, (kind, name)) in PAGE_ELEMENTS:
                found.link(text)
            elif (parent, (kind, name)) in MEDIA_ELEMENTS:
                found.media(text)
            if len(path) == 1 and root is not None:
                root.clear()  # a finished <url> or <sitemap>: free it, a sitemap may hold 50 000
    except (ParseError, ValueError, LookupError, UnicodeError) as error:
        if isinstance(error, DefusedXmlException):
            raise
        # Malformed or truncated: keep what was read before the error.


def _read_text(body: bytes, found: Collector) -> None:
    """Add the URLs of a text sitemap (one absolute URL per line) to ``found``."""
    text = body.decode("utf-8", errors="replace")
    for line in text.splitlines():
        line = line.strip()
        if line[:8].lower().startswith(("http://", "https://")) and not any(c.isspace() for c in line):
            found.link(line)
