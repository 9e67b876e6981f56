"""The page parser: embedded media, links, Open Graph and JSON-LD in document order, and no markup that
breaks it or makes it slow.

Every document is written inline; nothing touches the network. The contract (monitor/sources/base.py):
absolute http(s) URLs only, in document order, no duplicates, and never an exception on bad input.

Times are this thread's CPU time (``time.thread_time``): what parsing costs, however loaded the machine.
"""

from __future__ import annotations

import time

import pytest

from monitor.sources import page
from monitor.sources.base import Found
from tests.support.documents import SITE, html


def test_page_finds_embedded_media_in_document_order():
    doc = html(
        '<audio src="a.ogg"></audio><video src="v.mp4" poster="/poster.jpg">'
        '<source src="v.webm" type="video/webm"><source srcset="s1.webp 1x, s2.webp 2x"></video>'
        '<img src="i.png" srcset="i-640.png 640w, i-1280.png 1280w"><img src="i.png"><img alt="no source">'
    )
    found = page.parse(doc, SITE, "text/html")
    base = "https://example.com/dir/"
    names = ["a.ogg", "v.mp4", "poster.jpg", "v.webm", "s1.webp", "s2.webp", "i.png", "i-640.png", "i-1280.png"]
    expected = [base + n if n != "poster.jpg" else "https://example.com/poster.jpg" for n in names]
    assert found.media_urls == expected
    assert found.page_urls == []


def test_page_links_to_media_files_are_media_and_other_links_are_pages():
    doc = html(
        '<a href="song.MP3?dl=1">a</a><a href="clip.mov">b</a><a href="https://other.org/p">c</a>'
        '<a href="next.html#part">d</a><a href="next.html">e</a><a href="archive.zip">f</a><a href="photo.jpeg">g</a>'
        '<a href="javascript:void(0)">h</a><a href="mailto:x@y.z">i</a><a href="#top">j</a><a>k</a>'
    )
    found = page.parse(doc, SITE, None)
    base = "https://example.com/dir/"
    assert found.media_urls == [base + "song.MP3?dl=1", base + "clip.mov", base + "photo.jpeg"]
    assert found.page_urls == ["https://other.org/p", base + "next.html", base + "archive.zip"]


def test_page_open_graph_twitter_and_feeds():
    head = (
        '<meta property="og:audio" content="/og.mp3"><meta property="og:audio:secure_url" content="/og-s.mp3">'
        '<meta property="og:video:url" content="https://cdn.example.com/og.mp4">'
        '<meta property="og:image" content="/og.jpg">'
        '<meta property="og:image:secure_url" content="/og.jpg"><meta name="twitter:image" content="/tw.png">'
        '<meta name="twitter:player:stream" content="/tw.mp4"><meta property="og:title" content="OG title">'
        '<meta name="description" content="/not-media.jpg">'
        '<link rel="alternate" type="application/rss+xml" href="/feed.rss">'
        '<link rel="alternate" type="application/atom+xml; charset=utf-8" href="/feed.atom">'
        '<link rel="alternate" hreflang="fr" href="/fr/"><link rel="stylesheet" href="/s.css">'
    )
    found = page.parse(html("", head), SITE, None)
    e = "https://example.com/"
    assert found.media_urls == [
        e + "og.mp3", e + "og-s.mp3", "https://cdn.example.com/og.mp4", e + "og.jpg", e + "tw.png", e + "tw.mp4"
    ]
    assert found.page_urls == [e + "feed.rss", e + "feed.atom"]
    assert found.title == "OG title"


def test_page_json_ld_content_url_anywhere_but_not_embed_url():
    head = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": ['
        '{"@type": "VideoObject", "embedUrl": "https://player.example.com/e/1", "contentUrl": "/v1.mp4"},'
        '{"@type": "WebPage", "about": {"video": [{"contentUrl": ["/v2.mp4", "/v3.mp4"]}, {"contentUrl": 7}]}}'
        "]}</script>"
        '<script type="application/ld+json">{"contentUrl": "/broken.mp4",</script>'
        '<script type="application/ld+json">' + "[" * 100_000 + "]" * 100_000 + "</script>"
        '<script type="application/json">{"contentUrl": "/not-ld.mp4"}</script>'
        '<script type="application/ld+json">[{"contentUrl": "/v4.mp3"}]</script>'
    )
    found = page.parse(html("", head), SITE, None)
    assert found.media_urls == [f"https://example.com/v{i}.{'mp3' if i == 4 else 'mp4'}" for i in (1, 2, 3, 4)]


def test_page_base_href_and_relative_urls():
    doc = html('<img src="i.jpg"><a href="../up.html">u</a><a href="/root">r</a>', '<base href="/media/x/">')
    found = page.parse(doc, SITE, None)
    assert found.media_urls == ["https://example.com/media/x/i.jpg"]
    assert found.page_urls == ["https://example.com/media/up.html", "https://example.com/root"]
    two_bases = '<base target="_blank"><base href="https://cdn.example.net/"><base href="/ignored/">'
    other = page.parse(html('<img src="i.jpg">', two_bases), SITE, None)
    assert other.media_urls == ["https://cdn.example.net/i.jpg"]
    bad = page.parse(html('<img src="i.jpg">', '<base href="javascript:x">'), SITE, None)
    assert bad.media_urls == ["https://example.com/dir/i.jpg"]


def test_page_title_and_charset():
    assert page.parse(html("", "<title>\n  Hello \t world </title>"), SITE, None).title == "Hello world"
    assert page.parse(html(""), SITE, None).title is None
    latin = "<html><head><title>Café</title></head></html>".encode("latin-1")
    assert page.parse(latin, SITE, "text/html; charset=ISO-8859-1").title == "Café"
    assert page.parse(latin, SITE, "text/html; charset=no-such-charset").title is not None


def test_page_of_five_megabytes_parses_fast():
    chunk = '<div class="post"><p>Lorem ipsum dolor sit amet</p><a href="/p/{0}">more</a><img src="/i/{0}.jpg"></div>'
    doc = html("".join(chunk.format(i) for i in range(50_000)))
    assert len(doc) > 5_000_000
    start = time.thread_time()
    found = page.parse(doc, SITE, "text/html")
    assert time.thread_time() - start < 3.0
    assert len(found.media_urls) == 50_000 and len(found.page_urls) == 50_000


@pytest.mark.parametrize(
    "hostile",
    [
        "<div>" * 200_000,  # nesting: quadratic tree building in lexbor
        "<ul><li>" * 100_000,
        "<span>" * 500 + "</foo>" * 200_000,  # end tags against a deep stack
        "".join(f"<b {i}>" for i in range(20_000)) + "".join(f"<i {i}>" for i in range(20_000)) + "x</b>" * 20_000,
        "<a href='" * 100_000,  # unclosed quotes
        "<!--" * 200_000 + "-->",
        "<svg><title>" + "<div>" * 100_000,
    ],
    ids=["div", "ul-li", "end-tags", "formatting-elements", "quotes", "comments", "svg-title"],
)
def test_page_hostile_markup_is_linear(hostile):
    start = time.thread_time()
    found = page.parse((hostile + '<img src="last.jpg">').encode(), SITE, None)
    assert time.thread_time() - start < 2.0
    assert isinstance(found, Found)


def test_page_follows_the_tokenizer_rules_that_matter():
    doc = html(
        '<!-- <img src="commented.jpg"> --><!--><img src="after-empty-comment.jpg">'
        '<script>var s = \'<img src="in-script.jpg">\';</script>'
        '<style>a { background: url(<img src="in-style.jpg">) }</style><textarea><img src="in-textarea.jpg"></textarea>'
        '<IMG ALT="a > b" SRC="quoted-gt.jpg"><img/src="slash.jpg"><noscript><img src="noscript.jpg"></noscript>'
        '<a href="/q?a=1&amp;b=2">amp</a><svg><![CDATA[<img src="cdata.jpg">]]><image href="svg.png"/></svg>'
        '<img src="after-svg.jpg"><img src="data:image/png;base64,AAAA" srcset="data:x 1x">'
    )
    found = page.parse(doc, SITE, None)
    base = "https://example.com/dir/"
    names = ("after-empty-comment.jpg", "quoted-gt.jpg", "slash.jpg", "noscript.jpg", "after-svg.jpg")
    assert found.media_urls == [base + name for name in names]
    assert found.page_urls == ["https://example.com/q?a=1&b=2"]


def test_page_decoding():
    assert page.parse("<title>Café</title>".encode("utf-16"), SITE, None).title == "Café"
    cp1252 = '<meta charset="windows-1252"><title>Caf\xe9 \x93q\x94</title>'.encode("latin-1")
    assert page.parse(cp1252, SITE, None).title == "Café “q”"
    slow = "<title>é</title>".encode() + "é".encode() * 500_000  # punycode decoding is quadratic
    start = time.thread_time()
    assert page.parse(slow, SITE, "text/html; charset=punycode").title == "é"
    assert time.thread_time() - start < 2.0
