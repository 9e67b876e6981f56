"""The crawler's HTTP client downloading media from a real HTTP server on 127.0.0.1: stored under its
sha256 as it streams in, and nothing stored when it is refused or cut off.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.support.fetching import one, stored_files
from tests.support.http_server import AUDIO, page, send, trickle


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
    server.routes["/drip.mp3"] = trickle(0.01, "audio/mpeg")  # never ends; no robots.txt to read in 0.5 s first
    got = one(config.replace("fetch", max_total_s=0.5, respect_robots_txt=False), store, "media",
              server.url("/drip.mp3"))
    assert got.error == "took longer than fetch.max_total_s = 0.5 s"
    assert stored_files(store) == []
