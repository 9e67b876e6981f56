"""Source kind ``feed``: RSS, Atom and podcast feeds, read by feedparser.

Media: every enclosure, ``media:content`` url, ``media:thumbnail`` url, ``itunes:image`` href (of the
feed and of each entry), the feed's ``<image>``, and entry links whose path ends in a media extension or
whose type is audio/video/image. Pages: each entry's link (the episode page; the crawler decides whether
to follow it) and ``rel="next"`` links of paged feeds. Title: the feed's title.

feedparser recovers what it can from a malformed feed ("bozo"), and that is returned; a document that is
no feed at all (no ``rss``, ``feed`` or ``rdf:RDF`` element in its first 64 KB) gives an empty Found.
feedparser gets the document decoded here (UTF-8, entity declarations disarmed) and as a stream: given a
string, it would open it as a file name or URL.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterable
from typing import Any

import feedparser

from monitor.sources.base import Found
from monitor.sources.links import Collector, is_media_url
from monitor.sources.markup import WEB_CODECS

MEDIA_TYPE_PREFIXES = ("audio/", "video/", "image/")
SNIFF_CHARS = 65536
_FEED_ELEMENT = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(?:rss|feed|RDF)[\s/>]", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([A-Za-z0-9_.:-]{1,40})")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def parse(body: bytes, url: str, content_type: str | None) -> Found:
    """Media and entry links of the feed ``body`` fetched from ``url``."""
    text = decode(body, content_type)
    if _FEED_ELEMENT.search(text, 0, SNIFF_CHARS) is None:
        return Found()  # feedparser would spend a second a megabyte finding nothing
    # No entity declarations: feedparser keeps "safe" ones, and a 1 MB entity used a million times is not safe.
    data = text.replace("<!ENTITY", "<!-ENTITY").encode("utf-8", errors="replace")
    headers = {"content-location": url, "content-type": "application/xml; charset=utf-8"}
    try:
        parsed = feedparser.parse(
            io.BytesIO(data), response_headers=headers, resolve_relative_uris=False, sanitize_html=False
        )
        return _collect(parsed, url)
    except Exception:  # feedparser is built to recover; this guards against the unforeseen
        return Found()


def decode(body: bytes, content_type: str | None) -> str:
    """The text of an XML document: by BOM, else the content type's charset, else the XML declaration's
    encoding, else UTF-8 (or windows-1252 if that fails). Only the encodings of the web are honoured: given
    the name, feedparser would decode with any codec Python has, punycode (quadratic) included."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace")
    if body.startswith((b"<\x00", b"\x00<")):
        return body.decode("utf-16-le" if body[0] == 0x3C else "utf-16-be", errors="replace")
    declared = [_param(content_type, "charset")]
    if match := _XML_ENCODING.match(body[:1024]):
        declared.append(match.group(1).decode("ascii"))
    for name in filter(None, declared):
        try:
            codec = codecs.lookup(name).name
            if codec.startswith(WEB_CODECS) or codec.startswith(("utf-16", "utf-32")):
                return body.decode(codec, errors="replace")
        except (LookupError, ValueError):
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


def _collect(parsed: Any, url: str) -> Found:
    entries = parsed.get("entries") or []
    if not parsed.get("version") and not entries:
        return Found()  # not a feed (an HTML page, garbage): whatever feedparser guessed is not wanted
    feed = parsed.get("feed") or {}
    found = Collector(url)
    _media_of(feed, found)
    for link in _dicts(feed.get("links")):
        if link.get("rel") == "next":
            found.page(link.get("href"))
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        _media_of(entry, found)
        if isinstance(entry.get("link"), str):
            found.link(entry["link"])
        for link in _dicts(entry.get("links")):
            rel = link.get("rel") or "alternate"
            if rel == "enclosure" or _is_media_type(link.get("type")):
                found.media(link.get("href"))
            elif rel == "alternate" or is_media_url(str(link.get("href"))):  # not self, edit, replies, ...
                found.link(link.get("href"))
    return found.found(feed.get("title"))


def _media_of(item: dict, found: Collector) -> None:
    """The media files of a feed or an entry: enclosures, media:content, media:thumbnail, images."""
    for enclosure in _dicts(item.get("enclosures")):
        found.media(enclosure.get("href") or enclosure.get("url"))
    for content in _dicts(item.get("media_content")):
        found.media(content.get("url"))
    for thumbnail in _dicts(item.get("media_thumbnail")):
        found.media(thumbnail.get("url"))
    image = item.get("image")  # itunes:image (href), or RSS <image><url> (href)
    if isinstance(image, dict):
        found.media(image.get("href") or image.get("url"))


def _param(content_type: str | None, name: str) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == name:
            return value.strip().strip("\"'") or None
    return None


def _dicts(value: object) -> Iterable[dict]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _is_media_type(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower().startswith(MEDIA_TYPE_PREFIXES)
