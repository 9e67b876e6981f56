"""Source kind ``media``: one direct media URL (an audio, video or image file), nothing to parse.

The crawler downloads the file itself; ``parse`` only hands the URL back, normalised like every other
URL (absolute http(s), fragment dropped), so that the crawler treats all kinds alike.
"""

from __future__ import annotations

from monitor.sources.base import Found
from monitor.sources.links import Collector


def parse(body: bytes, url: str, content_type: str | None) -> Found:
    """``Found(media_urls=[url])``; empty when ``url`` is not an http(s) URL. ``body`` is not read."""
    found = Collector(url)
    found.media(url)
    return found.found()
