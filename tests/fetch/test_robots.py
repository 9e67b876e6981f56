"""robots.txt, read once per origin by the crawler's HTTP client: its rules obeyed (unless ignored or turned
off), its absence allowing everything, its failure refusing everything, its Crawl-delay spacing requests.
"""

from __future__ import annotations

import itertools

import pytest

from monitor.fetch.robots import RobotsRules
from tests.support.fetching import fetch, one
from tests.support.http_server import page


def test_robots_txt_disallow_is_obeyed_unless_ignored(server, config, store):
    server.routes["/robots.txt"] = page("User-agent: *\nDisallow: /private\n", Content_Type="text/plain")
    server.routes |= {"/private/a": page(), "/public": page()}
    blocked, allowed, forced = fetch(config, store, ("page", server.url("/private/a")), ("page", server.url("/public")),
                                     ("page", server.url("/private/a"), {"ignore_robots": True}))
    assert (blocked.error, blocked.status) == ("blocked by robots.txt", None)
    assert allowed.error is None and forced.error is None
    assert sorted(server.paths()) == ["/private/a", "/public", "/robots.txt"]  # robots.txt once, /private once


def test_robots_txt_group_for_our_user_agent_applies(server, config, store):
    server.routes["/robots.txt"] = page("User-agent: LikenessMonitor\nDisallow: /\n\nUser-agent: *\nDisallow:\n")
    server.routes["/page"] = page()
    assert one(config, store, "page", server.url("/page")).error == "blocked by robots.txt"


def test_missing_robots_txt_allows_everything(server, config, store):
    server.routes["/page"] = page()
    assert one(config, store, "page", server.url("/page")).error is None
    assert server.paths() == ["/robots.txt", "/page"]


def test_robots_txt_server_error_disallows_everything(server, config, store):
    server.routes |= {"/robots.txt": page("down", status=503), "/page": page()}
    got = one(config, store, "page", server.url("/page"))
    assert got.error == "blocked by robots.txt (robots.txt could not be fetched: HTTP 503 Service Unavailable)"
    assert server.paths() == ["/robots.txt"]


def test_robots_txt_is_not_read_when_respect_robots_txt_is_off(server, config, store):
    server.routes |= {"/robots.txt": page("User-agent: *\nDisallow: /\n"), "/page": page()}
    assert one(config.replace("fetch", respect_robots_txt=False), store, "page", server.url("/page")).error is None
    assert server.paths() == ["/page"]


def test_crawl_delay_spaces_requests(server, config, store, request_starts):
    server.routes |= {"/robots.txt": page("User-agent: *\nCrawl-delay: 0.4\n"), "/1": page(), "/2": page()}
    fetch(config, store, ("page", server.url("/1")), ("page", server.url("/2")))
    starts = request_starts  # as the fetcher sent them: the server's arrival times add a loaded machine's jitter
    assert len(starts) == 3 and all(b - a >= 0.95 for a, b in itertools.pairwise(starts))  # 0.4 → 1 s


@pytest.mark.parametrize(("status", "allowed"), [(200, True), (401, True), (403, True), (404, True), (410, True),
                                                 (429, False), (500, False), (None, False)])
def test_robots_txt_status_rules(status, allowed):
    rules = RobotsRules.from_response(status, b"", None if status else "timed out after 2 s", "LikenessMonitor/0.1")
    assert rules.allows("http://example.test/page", "LikenessMonitor/0.1") is allowed
