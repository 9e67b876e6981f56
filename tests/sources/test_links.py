"""Links found in documents: only absolute http(s) URLs, without fragments, and not too many of them."""

from __future__ import annotations

import pytest

from monitor.sources import links, page
from monitor.sources.links import absolute, srcset_urls
from tests.support.documents import SITE, html


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


def test_links_per_document_are_capped(monkeypatch):
    monkeypatch.setattr(links, "MAX_URLS", 3)
    found = page.parse(html("".join(f'<a href="/p{i}">p</a><img src="/i{i}.png">' for i in range(10))), SITE, None)
    assert len(found.page_urls) == 3 and len(found.media_urls) == 3
