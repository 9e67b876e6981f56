"""Downloading one URL given to `likeness scan`, through the crawler's polite and safe client.

The same address rules, timeouts, caps and content sniffing as a crawl apply (``monitor.fetch.http``);
robots.txt does not, because a person asked for this one URL.
"""

from __future__ import annotations

from enrollment.errors import MediaError
from monitor.config import Config
from monitor.storage.content_store import ContentStore


def is_url(text: str) -> bool:
    """Whether a `scan` target is meant as an http(s) URL (it may still be malformed: the download says so)."""
    return text.lstrip().lower().startswith(("http://", "https://"))


def download(url: str, store: ContentStore, config: Config) -> tuple[str, int]:
    """Fetch ``url`` into ``store``; returns (sha256, size). Failures raise a one-line MediaError."""
    import asyncio

    from monitor.fetch.http import Fetcher

    async def fetch():
        async with Fetcher(config, store) as fetcher:
            return await fetcher.get_media(url, ignore_robots=True)

    exchange = asyncio.run(fetch())
    if exchange.error:
        raise MediaError(exchange.error)
    return exchange.sha256, exchange.size_bytes
