"""The crawler's HTTP client (monitor/fetch/http.py) fetching pages from a real HTTP server on 127.0.0.1:
headers, validators, errors, redirects, timeouts, size limits, refused URLs.

Each test starts its own server on a random loopback port, allowed through LIKENESS_ALLOWED_HOSTS.
"""

from __future__ import annotations

import socket
import time
from datetime import UTC
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support.fetching import fetch, one
from tests.support.http_server import hang, page, redirect, send, trickle


def test_a_page_comes_back_with_headers_and_our_user_agent(server, config, store):
    server.routes["/index.html"] = page("<html>hello</html>", X_Thing="1")
    started = time.monotonic()
    got = one(config, store, "page", server.url("/index.html"))
    took = time.monotonic() - started  # the page's exchange is part of this
    assert (got.status, got.body, got.error, got.truncated) == (200, b"<html>hello</html>", None, False)
    assert got.ok and got.final_url == got.url == server.url("/index.html") and got.redirects == []
    assert got.headers["content-type"] == "text/html" and got.headers["x-thing"] == "1"
    assert got.request_headers["user-agent"] == config.fetch.user_agent
    assert got.fetched_at.tzinfo is UTC and 0 < got.elapsed_s < took and got.server_ip == "127.0.0.1"
    assert server.paths() == ["/robots.txt", "/index.html"]
    assert {headers["user-agent"] for _, _, headers in server.hits} == {config.fetch.user_agent}


@pytest.mark.parametrize(("validator", "header", "value"), [
    ("etag", "if-none-match", '"v1"'),
    ("last_modified", "if-modified-since", "Wed, 21 Oct 2015 07:28:00 GMT"),
])
def test_an_unchanged_page_answers_304(server, config, store, validator, header, value):
    def conditional(handler: BaseHTTPRequestHandler) -> None:
        if handler.headers.get(header) == value:
            send(handler, 304, headers={"ETag": '"v1"'})
        else:
            send(handler, 200, b"<html>v1</html>", {"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT"})

    server.routes["/doc"] = conditional
    first, again = fetch(config, store, ("page", server.url("/doc")), ("page", server.url("/doc"), {validator: value}))
    assert (first.status, first.body, first.not_modified) == (200, b"<html>v1</html>", False)
    assert (again.status, again.body, again.not_modified, again.error) == (304, b"", True, None)
    assert again.request_headers[header] == value


@pytest.mark.parametrize(("status", "error"), [(404, "HTTP 404 Not Found"), (500, "HTTP 500 Internal Server Error")])
def test_an_http_error_is_one_line(server, config, store, status, error):
    server.routes["/x"] = page("oops", status=status)
    got = one(config, store, "page", server.url("/x"))
    assert (got.status, got.error, got.body, got.ok) == (status, error, b"", False)


def test_a_redirect_chain_within_the_limit_is_followed(server, config, store):
    server.routes |= {"/a": redirect(server.url("/b"), 301), "/b": redirect("/c", 307), "/c": redirect("d", 308),
                      "/d": page("<html>end</html>")}
    got = one(config, store, "page", server.url("/a"))
    assert (got.status, got.body, got.error) == (200, b"<html>end</html>", None)
    assert got.redirects == [server.url("/a"), server.url("/b"), server.url("/c")]
    assert got.final_url == server.url("/d")


def test_too_many_redirects_are_refused(server, config, store):
    for n in range(10):
        server.routes[f"/loop{n}"] = redirect(f"/loop{n + 1}")
    got = one(config.replace("fetch", max_redirects=2), store, "page", server.url("/loop0"))
    assert got.error == "too many redirects (2)"
    assert server.paths()[1:] == ["/loop0", "/loop1", "/loop2"]  # after /robots.txt


def test_a_silent_server_times_out(server, config, store):
    server.routes["/slow"] = hang()  # no robots.txt to read first: it too would have only 0.3 s on a loaded machine
    started = time.monotonic()
    got = one(config.replace("fetch", timeout_s=0.3, respect_robots_txt=False), store, "page", server.url("/slow"))
    assert got.error == "timed out after 0.3 s" and got.status is None
    assert time.monotonic() - started < 30  # ended by the timeout: the route never answers, max_total_s is 60 s


def test_a_trickling_server_hits_the_total_deadline(server, config, store):
    server.routes["/drip"] = trickle(0.05)  # a body that never ends; and no robots.txt to read in 0.5 s first
    got = one(config.replace("fetch", max_total_s=0.5, respect_robots_txt=False), store, "page", server.url("/drip"))
    assert got.error == "took longer than fetch.max_total_s = 0.5 s"
    assert got.elapsed_s < 30  # ended by the deadline: the body never ends, the read timeout is not reached


def test_a_large_page_is_cut_off_at_max_page_bytes(server, config, store):
    server.routes |= {"/big": page(b"x" * 5000), "/exact": page(b"y" * 1000)}
    big, exact = fetch(config.replace("fetch", max_page_bytes=1000), store,
                       ("page", server.url("/big")), ("page", server.url("/exact")))
    assert (len(big.body), big.truncated, big.error) == (1000, True, None)
    assert (exact.body, exact.truncated) == (b"y" * 1000, False)


def test_a_closed_port_cannot_be_connected_to(config, store):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    got = one(config, store, "page", f"http://127.0.0.1:{port}/", ignore_robots=True)
    assert got.error.startswith(f"cannot connect to 127.0.0.1:{port}: ")


@pytest.mark.parametrize(("url", "error"), [
    ("ftp://127.0.0.1/file.mp3", "refused: only http and https URLs are fetched, not ftp"),
    ("/relative/page.html", "refused: only http and https URLs are fetched, not a relative URL"),
    ("http://", "invalid URL: no host name"),
    ("http://[::1/", "invalid URL: "),
])
def test_bad_urls_are_refused(config, store, url, error):
    assert one(config, store, "page", url).error.startswith(error)
