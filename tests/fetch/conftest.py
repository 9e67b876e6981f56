"""The fetcher's tests: a server of their own on 127.0.0.1, a config allowed to reach it, a content store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.config import Config, load_config
from monitor.fetch.http import Fetcher
from monitor.storage.content_store import ContentStore
from tests.support.http_server import Server


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    running.start()
    yield running
    running.stop()


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Config:
    """Loopback allowed, no spacing between requests; timeouts are safety nets only (a test of a timeout sets its
    own, against a route that never answers in time)."""
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "127.0.0.1")
    return load_config(tmp_path).replace("fetch", per_host_delay_s=0.0, timeout_s=30.0, connect_timeout_s=30.0,
                                         max_total_s=60.0)


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


@pytest.fixture
def request_starts(monkeypatch) -> list[float]:
    """When each request of a Fetcher started (monotonic clock), as the fetcher sent it: taken as the request
    leaves its turn (``Fetcher._turn``) for ``Fetcher._hop``, in the same step of the event loop. The server's
    arrival times would add the jitter of a loaded machine's threads."""
    starts: list[float] = []
    hop = Fetcher._hop

    async def timed_hop(fetcher, *args, **keywords):
        starts.append(time.monotonic())
        return await hop(fetcher, *args, **keywords)

    monkeypatch.setattr(Fetcher, "_hop", timed_hop)
    return starts


@dataclass
class InFlight:
    now: int = 0
    most: int = 0


@pytest.fixture
def requests_in_flight(monkeypatch) -> InFlight:
    """How many requests a Fetcher had in flight at once (``most``), counted where it sends them
    (``Fetcher._hop``, inside its turn). The server's count would race its own threads: on a loaded machine a
    handler may not have counted its request done when the client, answered already, sends the next one."""
    counted = InFlight()
    hop = Fetcher._hop

    async def counted_hop(fetcher, *args, **keywords):
        counted.now += 1
        counted.most = max(counted.most, counted.now)
        try:
            return await hop(fetcher, *args, **keywords)
        finally:
            counted.now -= 1

    monkeypatch.setattr(Fetcher, "_hop", counted_hop)
    return counted
