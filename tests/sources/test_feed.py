"""The feed parser: podcast enclosures, Media RSS, iTunes images and Atom links; malformed feeds, bombs and
slow encodings are harmless.

Times are this thread's CPU time (``time.thread_time``): what parsing costs, however loaded the machine.
"""

from __future__ import annotations

import time

from monitor.sources import feed
from monitor.sources.base import Found
from tests.support.documents import BOMB_DTD, PODCAST, SITE, html


def test_feed_podcast_enclosures_media_rss_and_itunes_images():
    found = feed.parse(PODCAST, "https://pod.example.com/feed.xml", "application/rss+xml")
    assert found.title == "The Show"
    assert found.media_urls == [
        "https://pod.example.com/cover.jpg",
        "https://cdn.example.com/ep1.mp3",
        "https://pod.example.com/ep1.png",
        "https://pod.example.com/ep2.m4a",
        "https://pod.example.com/ep2.mp4",
        "https://pod.example.com/ep2-thumb.jpg",
    ]
    assert found.page_urls == ["https://pod.example.com/ep/1", "https://pod.example.com/ep/2"]


def test_feed_atom_links():
    atom = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom T</title>
    <link rel="self" href="/atom.xml"/><link rel="next" href="/atom.xml?page=2"/>
    <entry><title>E</title><link rel="alternate" href="/posts/1"/><link rel="edit" href="/api/1"/>
    <link rel="enclosure" type="audio/ogg" href="/e1.ogg"/><link rel="related" href="/pic.webp"/></entry></feed>"""
    found = feed.parse(atom, "https://blog.example.com/atom.xml", None)
    assert found.title == "Atom T"
    assert found.media_urls == ["https://blog.example.com/e1.ogg", "https://blog.example.com/pic.webp"]
    assert found.page_urls == ["https://blog.example.com/atom.xml?page=2", "https://blog.example.com/posts/1"]


def test_feed_malformed_still_yields_what_was_recovered():
    broken = PODCAST.replace(b"</channel></rss>", b"<item><title>Ep & 3<enclosure url='x")
    found = feed.parse(broken, "https://pod.example.com/feed.xml", None)
    assert "https://cdn.example.com/ep1.mp3" in found.media_urls
    assert "https://pod.example.com/ep/1" in found.page_urls


def test_feed_of_a_non_feed_is_empty_and_bombs_are_harmless(tmp_path):
    assert feed.parse(html('<a href="/x">x</a>', "<title>Page</title>"), SITE, "text/html") == Found()
    laughs = (BOMB_DTD + '<rss version="2.0"><channel><title>&lol9;</title></channel></rss>').encode()
    entity = "A" * 10_000  # feedparser keeps "safe" text entities: 30 KB of &a; would be a 100 MB title
    quadratic = f'<!DOCTYPE rss [\n<!ENTITY a "{entity}">\n]>\n<rss version="2.0"><channel><title>{"&a;" * 10_000}'
    for bomb in (laughs, quadratic.encode(), quadratic.encode("utf-16")):
        start = time.thread_time()
        found = feed.parse(bomb, SITE, None)
        assert time.thread_time() - start < 2.0 and len(found.title or "") <= len(bomb)
    local = tmp_path / "feed.xml"  # a body that names a local file must not be opened as one
    local.write_bytes(PODCAST)
    assert feed.parse(str(local).encode(), SITE, None) == Found()


def test_feed_encodings():
    expected = feed.parse(PODCAST, "https://pod.example.com/feed.xml", None)
    assert feed.parse(PODCAST.decode().encode("utf-16"), "https://pod.example.com/feed.xml", None) == expected
    latin = PODCAST.replace(b' encoding="UTF-8"', b"").replace(b"The Show", "Caf\xe9".encode("cp1252"))
    assert feed.parse(latin, "https://pod.example.com/feed.xml", None).title == "Café"
    slow = '<?xml version="1.0" encoding="punycode"?><rss version="2.0"><channel><title>' + "é" * 300_000 + "</title>"
    start = time.thread_time()  # feedparser would decode with any codec named, punycode (quadratic) included
    assert feed.parse(slow.encode(), SITE, "application/rss+xml; charset=punycode").title.startswith("é")
    assert time.thread_time() - start < 2.0
