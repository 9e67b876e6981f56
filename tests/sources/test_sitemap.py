"""The sitemap parser: urlsets with image and video extensions, indexes, gzip and plain text; bombs and deep
XML are refused at once.

Times are this thread's CPU time (``time.thread_time``): what parsing costs, however loaded the machine.
"""

from __future__ import annotations

import gzip
import time

from monitor.sources import sitemap
from monitor.sources.base import Found
from tests.support.documents import BOMB_DTD, SM

IMG = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'
VID = 'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"'


def test_sitemap_urlset_with_image_and_video_extensions():
    doc = f"""<?xml version="1.0" encoding="UTF-8"?><urlset {SM} {IMG} {VID}>
    <url><loc> https://example.com/a </loc><image:image><image:loc>https://example.com/a.jpg</image:loc></image:image>
    <video:video><video:thumbnail_loc>https://example.com/t.jpg</video:thumbnail_loc>
      <video:content_loc>https://example.com/v.mp4</video:content_loc>
      <video:player_loc>https://example.com/player?v=1</video:player_loc><video:title>T</video:title></video:video></url>
    <url><loc>https://example.com/b</loc></url><url><loc>https://example.com/direct.mp3</loc></url>
    <url><loc>https://example.com/a</loc></url></urlset>""".encode()
    found = sitemap.parse(doc, "https://example.com/sitemap.xml", "application/xml")
    assert found.page_urls == ["https://example.com/a", "https://example.com/b"]
    assert found.media_urls == [
        "https://example.com/a.jpg", "https://example.com/t.jpg", "https://example.com/v.mp4",
        "https://example.com/direct.mp3",
    ]


def test_sitemap_namespaces_by_uri_not_prefix():
    doc = b"""<s:urlset xmlns:s="http://www.sitemaps.org/schemas/sitemap/0.9"
      xmlns:pic="http://www.google.com/schemas/sitemap-image/1.1" xmlns:o="urn:other">
      <s:url><s:loc>https://example.com/p</s:loc><pic:image><pic:loc>https://example.com/i.png</pic:loc></pic:image>
      <o:image><o:loc>https://example.com/not-sitemap.png</o:loc></o:image></s:url></s:urlset>"""
    found = sitemap.parse(doc, "https://example.com/sitemap.xml", None)
    assert found == Found(media_urls=["https://example.com/i.png"], page_urls=["https://example.com/p"])
    bare = b"<urlset><url><loc>/relative</loc></url></urlset>"
    assert sitemap.parse(bare, "https://example.com/s.xml", None).page_urls == ["https://example.com/relative"]


def test_sitemap_index_gzipped_and_text():
    index = f"""<sitemapindex {SM}><sitemap><loc>https://example.com/s1.xml.gz</loc></sitemap>
    <sitemap><loc>https://example.com/s2.xml</loc></sitemap></sitemapindex>""".encode()
    expected = ["https://example.com/s1.xml.gz", "https://example.com/s2.xml"]
    assert sitemap.parse(index, "https://example.com/index.xml", None).page_urls == expected
    assert sitemap.parse(gzip.compress(index), "https://example.com/index.xml.gz", None).page_urls == expected
    text = b"https://example.com/one\r\n\n  https://example.com/two.webm \nnot a url\nftp://x/y\n/relative\n"
    found = sitemap.parse(text, "https://example.com/sitemap.txt", "text/plain")
    assert found == Found(media_urls=["https://example.com/two.webm"], page_urls=["https://example.com/one"])


def test_sitemap_truncated_keeps_what_came_before_the_cut():
    doc = f"<urlset {SM}><url><loc>https://example.com/1</loc></url><url><loc>https://example.com/2</lo".encode()
    assert sitemap.parse(doc, "https://example.com/s.xml", None).page_urls == ["https://example.com/1"]


def test_sitemap_entity_bomb_and_external_entity_are_refused_at_once():
    bomb = (BOMB_DTD + f"<urlset {SM}><url><loc>https://example.com/&lol9;</loc></url></urlset>").encode()
    xxe = f'<!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]><urlset {SM}><url><loc>&x;</loc></url></urlset>'
    start = time.thread_time()
    assert sitemap.parse(bomb, "https://example.com/s.xml", None) == Found()
    assert sitemap.parse(gzip.compress(bomb), "https://example.com/s.xml.gz", None) == Found()
    assert sitemap.parse(xxe.encode(), "https://example.com/s.xml", None) == Found()
    assert time.thread_time() - start < 1.0


def test_sitemap_deep_xml_is_dropped_early():
    start = time.thread_time()
    assert sitemap.parse(b"<urlset>" + b"<url>" * 1_000_000, "https://example.com/s.xml", None) == Found()
    assert time.thread_time() - start < 1.0


def test_gzip_decompression_is_capped():
    bomb = gzip.compress(b" " * 5_000_000, compresslevel=1)
    assert len(sitemap.gunzip(bomb, limit=1000)) == 1000
    assert len(sitemap.gunzip(bomb[: len(bomb) // 2] + b"corrupt" * 100)) > 0
    assert sitemap.gunzip(b"\x1f\x8b not gzip") == b""
