"""Fuzzing the parsers (page, feed, sitemap, media), the kind detector and the URL rules: whatever a server
sends, they return absolute http(s) URLs without duplicates, never an exception (monitor.sources.base).

Seeds are real documents of each kind (tests/support/documents.py); Hypothesis splices hostile fragments
into them (markup, entities, encodings, NULs, huge numbers, bidi and control characters) or sends bytes
and text of its own. Derandomised (tests/support/fuzzing.py).
"""

from __future__ import annotations

import gzip

from hypothesis import given
from hypothesis import strategies as st

from monitor.fetch.download import is_url
from monitor.sources import PARSERS, detect_kind
from monitor.sources.links import absolute, srcset_urls
from tests.support.documents import PODCAST, SITE, SM, html
from tests.support.fuzzing import fuzz

FUZZ = fuzz(150)
CONTENT_TYPES = (None, "", "text/html", "text/html; charset=utf-16", "application/rss+xml; charset=bogus",
                 "application/xml", "text/plain; charset=latin-1", "application/gzip", "audio/mpeg")
HOSTILE = (
    "<", ">", "&", "&#0;", "&#x110000;", "&amp", "]]>", "<![CDATA[", "<!--", "<!DOCTYPE x [<!ENTITY a 'b'>]>",
    "&a;", "\x00", "\ufeff", "\u202e", "\r", "\t", '"', "'", "javascript:alert(1)", "http://[::1", "http://x:99999/",
    "https://%zz/", "//evil.example/a.mp3", "data:audio/mp3;base64,AAAA", "\udcff", "9" * 400, "<a href=",
    "<img srcset=", "<enclosure url=", "<loc>", "</loc>", "<url>", "<sitemap>",
    "<?xml version='1.0' encoding='utf-32'?>", "<" * 100, "<div>" * 300,
)
SEEDS = {
    "page": html('<a href="/a.html">A</a><audio src="clip.mp3"></audio><img src="x.jpg" srcset="y.jpg 2x, z.png 3x">'
                 '<video poster="p.jpg"><source src="v.mp4"></video>',
                 '<title>T</title><meta property="og:video" content="https://cdn.example.com/o.mp4">'),
    "feed": PODCAST,
    "sitemap": (f'<?xml version="1.0"?><urlset {SM}><url><loc>https://example.com/p1</loc></url>'
                '<url><loc>https://example.com/p2.html</loc></url></urlset>').encode(),
    "media": b"\xff\xfb\x90\x00" + bytes(64),
}


def _assert_found_holds_to_the_contract(found) -> None:
    for urls in (found.media_urls, found.page_urls):
        assert all(isinstance(url, str) and url.startswith(("http://", "https://")) for url in urls), urls
        assert len(urls) == len(set(urls))
    assert found.title is None or found.title.isprintable()  # shown on terminals as a stranger wrote it


@st.composite
def spliced(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(sorted(SEEDS)))
    text = SEEDS[kind].decode("utf-8", "surrogateescape")
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)))
        text = text[:at] + piece + text[at:]
    body = text.encode("utf-8", "surrogateescape")
    if draw(st.booleans()) and kind == "sitemap":
        body = gzip.compress(body)
    return kind, body


@FUZZ
@given(document=spliced(), content_type=st.sampled_from(CONTENT_TYPES))
def test_a_spliced_document_of_any_kind_parses_to_absolute_urls_without_raising(document, content_type):
    kind, body = document
    for parser_kind in (kind, detect_kind(body, SITE, content_type)):
        _assert_found_holds_to_the_contract(PARSERS[parser_kind](body, SITE, content_type))


@FUZZ
@given(body=st.binary(max_size=2048), content_type=st.sampled_from(CONTENT_TYPES),
       kind=st.sampled_from(sorted(PARSERS)))
def test_any_bytes_parse_to_absolute_urls_without_raising(body, content_type, kind):
    assert detect_kind(body, SITE, content_type) in PARSERS
    _assert_found_holds_to_the_contract(PARSERS[kind](body, SITE, content_type))


@FUZZ
@given(ref=st.one_of(st.text(max_size=200), st.sampled_from(HOSTILE)),
       base=st.one_of(st.just(SITE), st.text(max_size=60), st.sampled_from(HOSTILE)))
def test_a_link_resolves_to_an_absolute_http_url_or_to_nothing(ref, base):
    url = absolute(ref, base)
    assert url is None or url.startswith(("http://", "https://"))
    for candidate in srcset_urls(ref):
        resolved = absolute(candidate, SITE)
        assert resolved is None or resolved.startswith(("http://", "https://"))
    assert isinstance(is_url(ref), bool)
