"""What every source kind has in common: a parser from one fetched document to the links it holds.

A source kind (page, feed, sitemap, ...) is a module with one function,
``parse(body: bytes, url: str, content_type: str | None) -> Found``: pure (no I/O), tolerant of
broken input (a malformed document gives what could be read, never an exception), and returning
absolute http(s) URLs only. The crawler does the fetching, the politeness and the bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Found:
    """Links found in one document.

    ``media_urls``: audio, video and image files to download and scan, in document order, no duplicates.
    ``page_urls``: further documents of the same source to visit (pages, feeds, sitemaps); the crawler
    applies depth and same-site rules. ``title``: the document's title, for reports.
    """

    media_urls: list[str] = field(default_factory=list)
    page_urls: list[str] = field(default_factory=list)
    title: str | None = None
