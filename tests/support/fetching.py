"""Driving the crawler's HTTP client (monitor.fetch.http.Fetcher) from a test: calls run concurrently in one
Fetcher, as a crawl makes them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.config import Config
from monitor.fetch.http import Exchange, Fetcher
from monitor.storage.content_store import ContentStore


def fetch(config: Config, store: ContentStore, *calls: tuple[str, str] | tuple[str, str, dict]) -> list[Exchange]:
    """Run ``("page" | "media", url[, keywords])`` calls concurrently in one Fetcher."""

    async def main() -> list[Exchange]:
        async with Fetcher(config, store) as fetcher:
            jobs = [getattr(fetcher, f"get_{kind}")(url, **(extra[0] if extra else {})) for kind, url, *extra in calls]
            return list(await asyncio.gather(*jobs))

    return asyncio.run(main())


def one(config: Config, store: ContentStore, kind: str, url: str, **keywords) -> Exchange:
    return fetch(config, store, (kind, url, keywords))[0]


def stored_files(store: ContentStore) -> list[Path]:
    return [path for path in store.root.rglob("*") if path.is_file()] if store.root.exists() else []
