"""Source kind ``page``: an HTML page, with the media it embeds or links to and the links it holds.

Media: ``<audio src>``, ``<video src>`` and ``poster``, ``<source src>`` and ``srcset``, ``<img src>`` and
``srcset`` (every candidate), ``<a href>`` whose path ends in a media extension, Open Graph
``og:audio``/``og:video``/``og:image`` (with ``:url`` and ``:secure_url``), ``twitter:image`` and
``twitter:player:stream``, and every JSON-LD ``contentUrl`` (``embedUrl`` is a player page, not media).
Pages: every other ``<a href>`` (any host: the crawler applies the same-site rule) and RSS/Atom feeds
announced by ``<link rel="alternate">``. ``<base href>`` is respected; the title is ``<title>`` or
``og:title``. The tags are picked out by :func:`monitor.sources.markup.flatten` in linear time and parsed
by lexbor (selectolax), which decodes attributes and character references and recovers from any bytes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from selectolax.lexbor import LexborHTMLParser, LexborNode

from monitor.sources.base import Found
from monitor.sources.links import Collector, absolute, srcset_urls
from monitor.sources.markup import decode, flatten

MEDIA_META = frozenset(
    f"og:{kind}{suffix}" for kind in ("audio", "video", "image") for suffix in ("", ":url", ":secure_url")
) | {"twitter:image", "twitter:image:src", "twitter:player:stream"}
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml"})
SELECTOR = "base, title, meta, link, a, img, audio, video, source, script"
# JSON-LD blocks bigger than this are skipped (they are data dumps, not page metadata).
MAX_JSON_LD_CHARS = 2_000_000


def parse(body: bytes, url: str, content_type: str | None) -> Found:
    """Media and page links of the HTML document ``body`` fetched from ``url``."""
    try:
        tree = LexborHTMLParser(flatten(decode(body, content_type)))
        nodes = tree.css(SELECTOR)
    except Exception:  # selectolax recovers from anything; this guards against the unforeseen
        return Found()
    base = url
    for node in nodes:
        if node.tag == "base" and node.attributes.get("href"):
            base = absolute(node.attributes["href"], url) or url
            break
    found = Collector(base)
    title = og_title = None
    for node in nodes:
        attrs = node.attributes
        tag = node.tag
        if tag == "title" and title is None:
            title = node.text() or None
        elif tag == "meta":
            key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
            if key in MEDIA_META:
                found.media(attrs.get("content"))
            elif key == "og:title" and og_title is None:
                og_title = attrs.get("content")
        elif tag == "link":
            rel = (attrs.get("rel") or "").lower().split()
            if "alternate" in rel and _mime(attrs.get("type")) in FEED_TYPES:
                found.page(attrs.get("href"))
        elif tag == "a":
            found.link(attrs.get("href"))
        elif tag in ("audio", "video", "img", "source"):
            found.media(attrs.get("src"))
            if tag == "video":
                found.media(attrs.get("poster"))
            for candidate in srcset_urls(attrs.get("srcset")):
                found.media(candidate)
        elif tag == "script" and _mime(attrs.get("type")) == "application/ld+json":
            for content_url in _json_ld_content_urls(node):
                found.media(content_url)
    return found.found(title if title and title.strip() else og_title)


def _mime(value: str | None) -> str:
    """The media type of a ``type`` attribute, lower-cased, without parameters."""
    return (value or "").split(";", 1)[0].strip().lower()


def _json_ld_content_urls(node: LexborNode) -> Iterator[object]:
    """Every ``contentUrl`` value in a JSON-LD block, at any depth, in document order; bad JSON gives none."""
    text = node.text(deep=True) or ""
    if len(text) > MAX_JSON_LD_CHARS:
        return
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return
    stack = [iter([(None, data)])]
    while stack:  # depth-first without recursion: JSON nested ten thousand deep is no threat
        try:
            key, value = next(stack[-1])
        except StopIteration:
            stack.pop()
            continue
        if key == "contentUrl":
            yield from value if isinstance(value, list) else [value]
        elif isinstance(value, dict):
            stack.append(iter(value.items()))
        elif isinstance(value, list):
            stack.append((None, v) for v in value)
