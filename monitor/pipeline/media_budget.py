"""How many media downloads a crawl may still try: per source, and per host while the host keeps failing.

A failed download costs a request and a polite wait like a good one, so it counts towards
``crawl.max_files_per_run`` too; a host whose downloads fail ``crawl.max_host_failures`` times in a row is
left alone for the rest of the pass. What is not tried is counted, reported once per source and reason, and
tried by a later pass (URLs that failed before go after those never tried).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from monitor.config import Config


class MediaBudget:
    """One crawl pass's download budget. Used from the event loop only (no locks)."""

    def __init__(self, config: Config) -> None:
        self.max_per_source = config.crawl.max_files_per_run
        self.max_host_failures = config.crawl.max_host_failures
        self.per_host = config.fetch.per_host_concurrency
        self.tried: Counter[int] = Counter()  # source id → downloads tried this pass
        self.failures_in_a_row: Counter[str] = Counter()  # host → failed downloads since its last good one
        self.skipped: Counter[tuple[int, str]] = Counter()  # (source id, reason) → media links not tried
        self._turns: dict[str, asyncio.Semaphore] = {}

    @asynccontextmanager
    async def turn(self, source_id: int, url: str) -> AsyncIterator[bool]:
        """Inside, the download of ``url`` may go ahead (True) or is skipped (False, counted).

        Each host's downloads take turns, as many at once as ``fetch.per_host_concurrency``, so the decision is
        made when the download could start, knowing how the ones before it went. Call :meth:`done` inside.
        """
        host = _host(url)
        turn = self._turns.setdefault(host, asyncio.Semaphore(self.per_host))
        async with turn:
            reason = self._refusal(source_id, host)
            if reason:
                self.skipped[(source_id, reason)] += 1
            else:
                self.tried[source_id] += 1
            yield reason is None

    def done(self, url: str, failed: bool) -> None:
        host = _host(url)
        self.failures_in_a_row[host] = self.failures_in_a_row[host] + 1 if failed else 0

    def skipped_lines(self, source_id: int) -> list[str]:
        """One line per reason why some of this source's media links were not tried."""
        return [f"{count} media link{'s' if count > 1 else ''} not tried this run: {reason}"
                for (skipped_source, reason), count in self.skipped.items() if skipped_source == source_id]

    def _refusal(self, source_id: int, host: str) -> str | None:
        if self.tried[source_id] >= self.max_per_source:
            return f"crawl.max_files_per_run = {self.max_per_source} reached (downloads tried, failed ones too)"
        if self.failures_in_a_row[host] >= self.max_host_failures:
            return f"{host} failed {self.max_host_failures} downloads in a row (crawl.max_host_failures)"
        return None


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
