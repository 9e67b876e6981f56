"""Exchanges of the crawler's HTTP client archived as WARC records, exactly as received.
"""

from __future__ import annotations

import gzip
import os

import pytest
from warcio.archiveiterator import ArchiveIterator

from monitor.fetch.http import Exchange
from monitor.fetch.warc import write_warc
from tests.support.fetching import fetch, one
from tests.support.http_server import AUDIO, page


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
