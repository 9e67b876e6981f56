"""Source parsers: what each kind finds in a document, and that no document can break them.

Every document is written inline; nothing touches the network. The contract (monitor/sources/base.py):
absolute http(s) URLs only, in document order, no duplicates, and never an exception on bad input.
"""

from __future__ import annotations

import gzip
import random
import time

import pytest

from monitor.sources import KINDS, PARSERS, detect_kind, feed, links, media, page, sitemap
from monitor.sources.base import Found
from monitor.sources.links import absolute, srcset_urls

SITE = "https://example.com/dir/index.html"
NOISE = random.Random(0).randbytes
SM = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
IMG = 'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"'
VID = 'xmlns:video="http://www.google.com/schemas/sitemap-video/1.1"'
BOMB_DTD = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>"
)
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


def html(body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


# ------------------------------------------------------------------------------------- URL rules


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("a.mp3", "https://example.com/dir/a.mp3"),
        ("/a.mp3#t=10", "https://example.com/a.mp3"),
        ("//cdn.example.org/x.jpg", "https://cdn.example.org/x.jpg"),
        ("HTTP://Example.COM/A b.mp3", "http://example.com/A%20b.mp3"),
        ("  /with\n newline\t.jpg ", "https://example.com/with%20newline.jpg"),
        ("#top", None),
        ("javascript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("mailto:a@example.com", None),
        ("data:image/png;base64,AAAA", None),
        ("ftp://example.com/a.mp3", None),
        ("http://[::1", None),
        ("http://example.com:99999/", None),
        ("http:///nohost", None),
        ("http://exa mple.com/", None),
        ("/" + "a" * 10_000, None),
        (None, None),
    ],
)
def test_absolute_urls_only_http_and_https_without_fragment(ref, expected):
    assert absolute(ref, SITE) == expected


def test_srcset_descriptors_are_dropped():
    assert srcset_urls("a.jpg, b.jpg 2x,c.jpg 640w , d.jpg 1.5x") == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    assert srcset_urls("https://cdn/i,w_100.jpg 100w, https://cdn/i,w_200.jpg 200w") == [
        "https://cdn/i,w_100.jpg",
        "https://cdn/i,w_200.jpg",
    ]
    assert srcset_urls("") == [] and srcset_urls(None) == [] and srcset_urls(" , ,") == []


# ------------------------------------------------------------------------------------------ page


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
    start = time.perf_counter()
    found = page.parse(doc, SITE, "text/html")
    assert time.perf_counter() - start < 3.0
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
    start = time.perf_counter()
    found = page.parse((hostile + '<img src="last.jpg">').encode(), SITE, None)
    assert time.perf_counter() - start < 2.0
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
    start = time.perf_counter()
    assert page.parse(slow, SITE, "text/html; charset=punycode").title == "é"
    assert time.perf_counter() - start < 2.0


def test_links_per_document_are_capped(monkeypatch):
    monkeypatch.setattr(links, "MAX_URLS", 3)
    found = page.parse(html("".join(f'<a href="/p{i}">p</a><img src="/i{i}.png">' for i in range(10))), SITE, None)
    assert len(found.page_urls) == 3 and len(found.media_urls) == 3


# ------------------------------------------------------------------------------------------ feed

PODCAST = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:media="http://search.yahoo.com/mrss/">
<channel><title>The Show</title><link>https://pod.example.com/</link>
<itunes:image href="https://pod.example.com/cover.jpg"/>
<item><title>Ep 1</title><link>https://pod.example.com/ep/1</link>
  <enclosure url="https://cdn.example.com/ep1.mp3" length="1" type="audio/mpeg"/>
  <itunes:image href="https://pod.example.com/ep1.png"/></item>
<item><title>Ep 2</title><link>/ep/2</link>
  <media:content url="/ep2.mp4" type="video/mp4"><media:thumbnail url="/ep2-thumb.jpg"/></media:content>
  <enclosure url="ep2.m4a" type="audio/mp4"/></item>
</channel></rss>"""


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
        start = time.perf_counter()
        found = feed.parse(bomb, SITE, None)
        assert time.perf_counter() - start < 2.0 and len(found.title or "") <= len(bomb)
    local = tmp_path / "feed.xml"  # a body that names a local file must not be opened as one
    local.write_bytes(PODCAST)
    assert feed.parse(str(local).encode(), SITE, None) == Found()


def test_feed_encodings():
    expected = feed.parse(PODCAST, "https://pod.example.com/feed.xml", None)
    assert feed.parse(PODCAST.decode().encode("utf-16"), "https://pod.example.com/feed.xml", None) == expected
    latin = PODCAST.replace(b' encoding="UTF-8"', b"").replace(b"The Show", "Caf\xe9".encode("cp1252"))
    assert feed.parse(latin, "https://pod.example.com/feed.xml", None).title == "Café"
    slow = '<?xml version="1.0" encoding="punycode"?><rss version="2.0"><channel><title>' + "é" * 300_000 + "</title>"
    start = time.perf_counter()  # feedparser would decode with any codec named, punycode (quadratic) included
    assert feed.parse(slow.encode(), SITE, "application/rss+xml; charset=punycode").title.startswith("é")
    assert time.perf_counter() - start < 2.0


# --------------------------------------------------------------------------------------- sitemap


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
    start = time.perf_counter()
    assert sitemap.parse(bomb, "https://example.com/s.xml", None) == Found()
    assert sitemap.parse(gzip.compress(bomb), "https://example.com/s.xml.gz", None) == Found()
    assert sitemap.parse(xxe.encode(), "https://example.com/s.xml", None) == Found()
    assert time.perf_counter() - start < 1.0


def test_sitemap_deep_xml_is_dropped_early():
    start = time.perf_counter()
    assert sitemap.parse(b"<urlset>" + b"<url>" * 1_000_000, "https://example.com/s.xml", None) == Found()
    assert time.perf_counter() - start < 1.0


def test_gzip_decompression_is_capped():
    bomb = gzip.compress(b" " * 5_000_000, compresslevel=1)
    assert len(sitemap.gunzip(bomb, limit=1000)) == 1000
    assert len(sitemap.gunzip(bomb[: len(bomb) // 2] + b"corrupt" * 100)) > 0
    assert sitemap.gunzip(b"\x1f\x8b not gzip") == b""


# ----------------------------------------------------------------------------- media and registry


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
