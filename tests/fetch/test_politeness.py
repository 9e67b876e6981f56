"""Politeness of the crawler's HTTP client towards a real HTTP server on 127.0.0.1: concurrency per host and
in all, and request starts to one host spaced.
"""

from __future__ import annotations

import itertools

from tests.support.fetching import fetch
from tests.support.http_server import held_until_concurrent, page, slow


def test_per_host_concurrency_is_never_exceeded(server, config, store, requests_in_flight):
    for n in range(6):  # the first two requests wait for each other: that two may overlap is certain, not timing
        server.routes[f"/p{n}"] = held_until_concurrent(2, slow(0.15, page()))
    fetch(config.replace("fetch", per_host_concurrency=2, respect_robots_txt=False), store,
          *[("page", server.url(f"/p{n}")) for n in range(6)])
    assert requests_in_flight.most == 2


def test_global_concurrency_is_never_exceeded(server, config, store, requests_in_flight):
    for n in range(3):
        server.routes[f"/p{n}"] = slow(0.15, page())
    fetch(config.replace("fetch", per_host_concurrency=3, max_concurrency=1, respect_robots_txt=False), store,
          *[("page", server.url(f"/p{n}")) for n in range(3)])
    assert requests_in_flight.most == 1


def test_request_starts_to_one_host_are_spaced(server, config, store, request_starts):
    for n in range(4):
        server.routes[f"/p{n}"] = page()
    fetch(config.replace("fetch", per_host_delay_s=0.25, per_host_concurrency=4), store,
          *[("page", server.url(f"/p{n}")) for n in range(4)])
    starts = request_starts  # as the fetcher sent them: the server's arrival times add a loaded machine's jitter
    assert len(starts) == 5  # robots.txt and 4 pages
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.2
