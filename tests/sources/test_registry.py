"""The registry of source kinds: what kind a document is, the media kind, and that no input breaks a parser."""

from __future__ import annotations

import gzip
import random

import pytest

from monitor.sources import KINDS, PARSERS, detect_kind, media
from monitor.sources.base import Found
from tests.support.documents import PODCAST, SITE, SM, html

NOISE = random.Random(0).randbytes
GARBAGE = [
    b"",
    NOISE(4096),
    bytes(range(256)) * 64,
    b"\x00" * 10_000,
    b"<" * 100_000,
    b"<a href='" + b"x" * 200_000,
    b"<div>" * 50_000,
    b"\xff\xfe<\x00r\x00s\x00",
    b"\x1f\x8b\x08\x00garbage-not-gzip",
    gzip.compress(NOISE(2048)),
    b'<?xml version="1.0"?><urlset><url><loc>http://a/</loc></url',
]


def test_media_is_the_url_itself():
    assert media.parse(b"", "https://example.com/a.mp3#t=1", "audio/mpeg") == Found(["https://example.com/a.mp3"])
    assert media.parse(b"", "file:///etc/passwd", None) == Found()


def test_registry():
    assert set(PARSERS) == {"page", "feed", "sitemap", "media"}
    assert KINDS == ("page", "feed", "sitemap", "folder", "media")


@pytest.mark.parametrize("kind", sorted(PARSERS))
@pytest.mark.parametrize("body", GARBAGE, ids=range(len(GARBAGE)))
def test_no_input_breaks_a_parser(kind, body):
    found = PARSERS[kind](body, SITE, "text/html")
    assert isinstance(found, Found)
    for url in found.media_urls + found.page_urls:
        assert url.startswith(("http://", "https://")) and "#" not in url
    assert len(set(found.media_urls)) == len(found.media_urls)


@pytest.mark.parametrize(
    ("body", "url", "content_type", "kind"),
    [
        (b"ID3\x03", "https://e.com/a", "audio/mpeg", "media"),
        (b"<html></html>", "https://e.com/v", "video/mp4; codecs=x", "media"),
        (b"\x89PNG\r\n\x1a\n", "https://e.com/download", "application/octet-stream", "media"),
        (b"\x00\x00\x00\x18ftypmp42", "https://e.com/x", None, "media"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "https://e.com/x", None, "media"),
        (b"???", "https://e.com/x/clip.webm?sig=1", "application/octet-stream", "media"),
        (b"<html></html>", "https://e.com/x.mp3", "text/html", "page"),
        (PODCAST, "https://e.com/feed", "text/xml", "feed"),
        (b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- c --><feed xmlns="urn:atom"/>', "https://e.com/", None, "feed"),
        (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="x"/>', "https://e.com/", "application/xml", "feed"),
        (b"not xml at all", "https://e.com/", "application/rss+xml", "feed"),
        (f"<urlset {SM}/>".encode(), "https://e.com/s", "text/xml", "sitemap"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><sitemapindex/>', "https://e.com/s", None, "sitemap"),
        (gzip.compress(f"<urlset {SM}/>".encode()), "https://e.com/s.xml.gz", "application/x-gzip", "sitemap"),
        (gzip.compress(PODCAST), "https://e.com/f.gz", "application/gzip", "feed"),
        (b"https://e.com/a\nhttps://e.com/b\n", "https://e.com/sitemap.txt", "text/plain", "sitemap"),
        (b"hello world", "https://e.com/readme.txt", "text/plain", "page"),
        (html("<p>x</p>"), "https://e.com/", "text/html; charset=utf-8", "page"),
        (b"", "https://e.com/", None, "page"),
        (NOISE(512).replace(b"\x1f", b""), "https://e.com/", "text/html", "page"),
    ],
)
def test_detect_kind(body, url, content_type, kind):
    assert detect_kind(body, url, content_type) == kind
