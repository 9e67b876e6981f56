"""The crawler's HTTP client (monitor/fetch/http.py) against a real HTTP server on 127.0.0.1.

Each test starts its own server on a random loopback port, allowed through LIKENESS_ALLOWED_HOSTS.
Nothing beyond loopback is ever contacted: the private-address refusals use literal IPs (refused
before any connection) and ``localhost`` (resolved from /etc/hosts).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from yarl import URL

from monitor.config import Config, load_config
from monitor.fetch.addresses import (
    ConnectionRefusedByRule,
    GuardedResolver,
    address_kind,
    guarded_socket_factory,
    parse_ip,
)
from monitor.fetch.http import Exchange, Fetcher
from monitor.fetch.robots import RobotsRules
from monitor.fetch.warc import write_warc
from monitor.storage.content_store import ContentStore

Route = Callable[[BaseHTTPRequestHandler], None]
AUDIO = b"ID3\x03\x00\x00\x00" + bytes(range(256)) * 40  # binary: not sniffed as text


class Server:
    """A threaded HTTP/1.0 server; ``routes`` maps a path to a function answering through the handler.

    Records every request (path, arrival time on the monotonic clock, headers) and the most requests
    it ever had in progress at once.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: list[tuple[str, float, dict[str, str]]] = []
        self.active = self.max_active = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with server.lock:
                    server.hits.append((self.path, time.monotonic(), {k.lower(): v for k, v in self.headers.items()}))
                    server.active += 1
                    server.max_active = max(server.max_active, server.active)
                try:
                    server.routes.get(self.path, lambda h: send(h, 404, b"not here"))(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeouts, refusals): expected
                finally:
                    with server.lock:
                        server.active -= 1

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.hits]

    def starts(self, path_prefix: str) -> list[float]:
        return [at for path, at, _ in self.hits if path.startswith(path_prefix)]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
         length: bool = True) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def page(body: bytes | str = b"<html><body>hi</body></html>", status: int = 200, **headers: str) -> Route:
    data = body.encode() if isinstance(body, str) else body
    return lambda h: send(h, status, data, {"Content-Type": "text/html", **{k.replace("_", "-"): v
                                                                            for k, v in headers.items()}})


def redirect(location: str, status: int = 302) -> Route:
    return lambda h: send(h, status, headers={"Location": location})


def slow(seconds: float, route: Route) -> Route:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)
        route(handler)

    return answer


def trickle(every_s: float, total_s: float, content_type: str = "text/html") -> Route:
    """Headers at once, then one byte every ``every_s`` for ``total_s`` (no Content-Length)."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        send(handler, 200, AUDIO[:10] if content_type.startswith("audio") else b"<html>",
             {"Content-Type": content_type}, length=False)
        deadline = time.monotonic() + total_s
        while time.monotonic() < deadline:
            time.sleep(every_s)
            handler.wfile.write(b"\0")
            handler.wfile.flush()

    return answer


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server()
    running.thread.start()
    yield running
    running.httpd.shutdown()
    running.httpd.server_close()


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Config:
    """Loopback allowed, no spacing between requests, short timeouts."""
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "127.0.0.1")
    return load_config(tmp_path).replace("fetch", per_host_delay_s=0.0, timeout_s=2.0, connect_timeout_s=2.0,
                                         max_total_s=5.0)


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    return ContentStore(tmp_path / "store")


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


# ------------------------------------------------------------------------------------------ pages


def test_a_page_comes_back_with_headers_and_our_user_agent(server, config, store):
    server.routes["/index.html"] = page("<html>hello</html>", X_Thing="1")
    got = one(config, store, "page", server.url("/index.html"))
    assert (got.status, got.body, got.error, got.truncated) == (200, b"<html>hello</html>", None, False)
    assert got.ok and got.final_url == got.url == server.url("/index.html") and got.redirects == []
    assert got.headers["content-type"] == "text/html" and got.headers["x-thing"] == "1"
    assert got.request_headers["user-agent"] == config.fetch.user_agent
    assert got.fetched_at.tzinfo is UTC and 0 < got.elapsed_s < 2 and got.server_ip == "127.0.0.1"
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
    server.routes["/slow"] = slow(1.5, page())
    started = time.monotonic()
    got = one(config.replace("fetch", timeout_s=0.3), store, "page", server.url("/slow"))
    assert got.error == "timed out after 0.3 s" and got.status is None
    assert time.monotonic() - started < 1.2


def test_a_trickling_server_hits_the_total_deadline(server, config, store):
    server.routes["/drip"] = trickle(0.05, 3.0)
    got = one(config.replace("fetch", max_total_s=0.5), store, "page", server.url("/drip"))
    assert got.error == "took longer than fetch.max_total_s = 0.5 s"
    assert got.elapsed_s < 1.0


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


# ------------------------------------------------------------------------------------------ media


def test_media_is_stored_under_its_sha256(server, config, store):
    data = AUDIO + os.urandom(200_000)
    server.routes["/a.mp3"] = page(data, Content_Type="audio/mpeg")
    got = one(config, store, "media", server.url("/a.mp3"))
    assert (got.error, got.sha256, got.size_bytes) == (None, hashlib.sha256(data).hexdigest(), len(data))
    assert got.body == b"" and store.path_for(got.sha256).read_bytes() == data
    assert got.request_headers["accept-encoding"] == "identity"
    assert stored_files(store) == [store.path_for(got.sha256)]


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "no-content-length"])
def test_oversized_media_is_refused_and_nothing_is_stored(server, config, store, declared):
    server.routes["/big.mp3"] = lambda h: send(h, 200, AUDIO * 3, {"Content-Type": "audio/mpeg"}, length=declared)
    limit = len(AUDIO)
    got = one(config.replace("media", max_file_bytes=limit), store, "media", server.url("/big.mp3"))
    assert got.error.startswith(f"larger than media.max_file_bytes = {limit:,} bytes")
    assert got.sha256 is None and stored_files(store) == []


def test_html_served_as_audio_is_refused(server, config, store):
    server.routes["/fake.mp3"] = page("<!DOCTYPE html><html><body>Not found</body></html>", Content_Type="audio/mpeg")
    got = one(config, store, "media", server.url("/fake.mp3"))
    assert got.error == "an HTML page, not audio, video or an image" and got.status == 200
    assert stored_files(store) == []


def test_media_interrupted_by_the_deadline_leaves_nothing(server, config, store):
    server.routes["/drip.mp3"] = trickle(0.01, 3.0, "audio/mpeg")
    got = one(config.replace("fetch", max_total_s=0.5), store, "media", server.url("/drip.mp3"))
    assert got.error == "took longer than fetch.max_total_s = 0.5 s"
    assert stored_files(store) == []


# --------------------------------------------------------------------------------------- robots.txt


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


def test_crawl_delay_spaces_requests(server, config, store):
    server.routes |= {"/robots.txt": page("User-agent: *\nCrawl-delay: 0.4\n"), "/1": page(), "/2": page()}
    fetch(config, store, ("page", server.url("/1")), ("page", server.url("/2")))
    starts = server.starts("/")
    assert len(starts) == 3 and all(b - a >= 0.95 for a, b in itertools.pairwise(starts))  # 0.4 → 1 s


# ------------------------------------------------------------------------------------ politeness


def test_per_host_concurrency_is_never_exceeded(server, config, store):
    for n in range(6):
        server.routes[f"/p{n}"] = slow(0.15, page())
    fetch(config.replace("fetch", per_host_concurrency=2, respect_robots_txt=False), store,
          *[("page", server.url(f"/p{n}")) for n in range(6)])
    assert server.max_active == 2


def test_global_concurrency_is_never_exceeded(server, config, store):
    for n in range(3):
        server.routes[f"/p{n}"] = slow(0.15, page())
    fetch(config.replace("fetch", per_host_concurrency=3, max_concurrency=1, respect_robots_txt=False), store,
          *[("page", server.url(f"/p{n}")) for n in range(3)])
    assert server.max_active == 1


def test_request_starts_to_one_host_are_spaced(server, config, store):
    for n in range(4):
        server.routes[f"/p{n}"] = page()
    fetch(config.replace("fetch", per_host_delay_s=0.25, per_host_concurrency=4), store,
          *[("page", server.url(f"/p{n}")) for n in range(4)])
    starts = server.starts("/")
    assert len(starts) == 5  # robots.txt and 4 pages
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.2  # arrival times at the server: some jitter


# ------------------------------------------------------------------------------------ addresses


def test_loopback_is_refused_unless_allowed(server, config, store, monkeypatch):
    monkeypatch.delenv("LIKENESS_ALLOWED_HOSTS")
    got = one(load_config(config.home), store, "page", server.url("/"))
    assert got.error == ("refused: 127.0.0.1 is a loopback address "
                         "(allow it with fetch.allowed_hosts or LIKENESS_ALLOWED_HOSTS)")
    assert server.hits == []


@pytest.mark.parametrize(("url", "kind"), [
    ("http://10.0.0.5/", "10.0.0.5 is a private"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local"),
    ("http://[::1]:9/", "::1 is a loopback"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1 is a loopback"),
    ("http://[::ffff:10.0.0.5]/", "::ffff:a00:5 is a private"),
    ("https://0.0.0.0/", "0.0.0.0 is an unspecified"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast"),
    ("http://[fe80::1]/", "fe80::1 is a link-local"),
    ("http://[fc00::1]/", "fc00::1 is a private"),
    ("http://100.64.0.1/", "100.64.0.1 is a non-public"),
])
def test_private_literal_addresses_are_refused(config, store, url, kind):
    got = one(config, store, "page", url)
    assert got.error.startswith(f"refused: {kind} address") and got.status is None


def test_an_allowed_literal_ip_and_name_are_case_insensitive(server, config, store, monkeypatch):
    monkeypatch.setenv("LIKENESS_ALLOWED_HOSTS", "LocalHost")
    server.routes["/p"] = page()
    got = one(load_config(config.home).replace("fetch", per_host_delay_s=0.0), store, "page",
              f"http://LOCALHOST:{server.port}/p")
    assert got.error is None and got.server_ip == "127.0.0.1"  # ::1 first, where resolved, fails over


@pytest.mark.parametrize(("location", "error"), [
    ("http://10.0.0.5/", "refused: 10.0.0.5 is a private address"),
    ("http://localhost:{port}/target", "refused: localhost resolves to"),
    ("file:///etc/passwd", "refused: only http and https URLs are fetched, not file"),
])
def test_a_redirect_to_a_refused_address_is_not_followed(server, config, store, location, error):
    location = location.format(port=server.port)
    server.routes |= {"/go": redirect(location), "/target": page()}
    got = one(config, store, "page", server.url("/go"))
    assert got.error.startswith(error)
    assert got.redirects == [server.url("/go")] and got.status == 302
    assert URL(got.final_url) == URL(location)
    assert "/target" not in server.paths()


def test_the_connection_itself_is_guarded(server, config, store, monkeypatch):
    """Even if the check before a request were fooled (DNS rebinding), the connection is refused."""

    async def approve(host: str, port: int, allowed: object) -> list[str]:
        return []

    monkeypatch.setattr("monitor.fetch.http.checked_addresses", approve)  # the pre-check only
    monkeypatch.delenv("LIKENESS_ALLOWED_HOSTS")
    got = one(load_config(config.home), store, "page", server.url("/"), ignore_robots=True)
    assert got.error.startswith("refused: 127.0.0.1 is a loopback address")
    assert server.hits == []

    with pytest.raises(ConnectionRefusedByRule, match=r"127\.0\.0\.1 is a loopback address"):
        guarded_socket_factory(frozenset(), set())((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    with pytest.raises(ConnectionRefusedByRule, match="localhost resolves to"):
        asyncio.run(GuardedResolver(frozenset(), set(), 5.0).resolve("localhost", server.port))
    assert server.hits == []


def test_an_allowed_name_lets_its_own_addresses_through_the_socket_factory():
    approved: set[str] = set()
    found = asyncio.run(GuardedResolver(frozenset({"localhost"}), approved, 5.0).resolve("localhost", 80))
    assert "127.0.0.1" in {entry["host"] for entry in found} and "127.0.0.1" in approved
    open_socket = guarded_socket_factory(frozenset({"localhost"}), approved)
    open_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80))).close()
    with pytest.raises(ConnectionRefusedByRule):  # allowing a name allows its addresses, not its network
        open_socket((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.2", 80)))


@pytest.mark.parametrize(("address", "kind"), [
    ("8.8.8.8", None), ("2001:4860:4860::8888", None), ("127.0.0.2", "loopback"), ("192.168.1.1", "private"),
    ("240.0.0.1", "reserved"), ("2002:a00:5::", "private"), ("64:ff9b::7f00:1", "loopback"),
    ("::ffff:169.254.1.1", "link-local"), ("::", "unspecified"), ("ff02::1", "multicast"),
])
def test_address_kinds(address, kind):
    assert address_kind(parse_ip(address)) == kind


# ------------------------------------------------------------------------------------------ WARC


def test_exchanges_are_archived_as_warc(server, config, store, tmp_path):
    data = AUDIO + os.urandom(50_000)
    server.routes |= {"/p.html": page("<html>evidence</html>", ETag='"e1"'),
                      "/a.mp3": page(data, Content_Type="audio/mpeg")}
    html, audio = fetch(config, store, ("page", server.url("/p.html")), ("media", server.url("/a.mp3")))
    warc = tmp_path / "crawl.warc.gz"
    write_warc(html, warc, None)
    write_warc(audio, warc, store.path_for(audio.sha256))
    with open(warc, "rb") as stream:
        records = [(r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
                   for r in ArchiveIterator(stream, check_digests=True)]
    assert [kind for kind, *_ in records] == ["warcinfo", "request", "response", "request", "response"]
    _, request, request_http, _ = records[1]
    _, response, response_http, body = records[2]
    assert request.get_header("WARC-Target-URI") == server.url("/p.html")
    assert request_http.protocol == "GET" and request_http.get_header("User-Agent") == config.fetch.user_agent
    assert response.get_header("WARC-Concurrent-To") == request.get_header("WARC-Record-ID")
    assert response.get_header("WARC-IP-Address") == "127.0.0.1"
    assert response_http.get_statuscode() == "200" and response_http.get_header("ETag") == '"e1"'
    assert body == b"<html>evidence</html>"
    assert records[4][3] == data and records[4][2].get_header("Content-Type") == "audio/mpeg"
    with pytest.raises(ValueError, match="nothing was received"):
        write_warc(Exchange(url="http://x/", final_url="http://x/", error="timed out"), warc, None)


def test_a_compressed_truncated_page_is_archived_as_received(server, config, store, tmp_path):
    text = b"<html>" + b"evidence " * 2000 + b"</html>"
    server.routes["/z.html"] = page(gzip.compress(text), Content_Encoding="gzip")
    got = one(config.replace("fetch", max_page_bytes=1000), store, "page", server.url("/z.html"))
    assert (got.body, got.truncated) == (text[:1000], True)
    warc = tmp_path / "z.warc.gz"
    write_warc(got, warc)
    with open(warc, "rb") as stream:
        response = next(r for r in ArchiveIterator(stream) if r.rec_type == "response")
        assert response.rec_headers.get_header("WARC-Truncated") == "length"
        assert response.http_headers.get_header("X-Original-Content-Encoding") == "gzip"
        assert response.http_headers.get_header("Content-Length") == "1000"
        assert response.content_stream().read() == text[:1000]


@pytest.mark.parametrize(("url", "error"), [
    ("ftp://127.0.0.1/file.mp3", "refused: only http and https URLs are fetched, not ftp"),
    ("/relative/page.html", "refused: only http and https URLs are fetched, not a relative URL"),
    ("http://", "invalid URL: no host name"),
    ("http://[::1/", "invalid URL: "),
])
def test_bad_urls_are_refused(config, store, url, error):
    assert one(config, store, "page", url).error.startswith(error)


@pytest.mark.parametrize(("status", "allowed"), [(200, True), (401, True), (403, True), (404, True), (410, True),
                                                 (429, False), (500, False), (None, False)])
def test_robots_txt_status_rules(status, allowed):
    rules = RobotsRules.from_response(status, b"", None if status else "timed out after 2 s", "LikenessMonitor/0.1")
    assert rules.allows("http://example.test/page", "LikenessMonitor/0.1") is allowed
