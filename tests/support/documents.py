"""Documents the source parsers' tests share: the page they are found on, markup, a podcast feed, an entity bomb."""

from __future__ import annotations

SITE = "https://example.com/dir/index.html"
SM = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
BOMB_DTD = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + "]>"
)


def html(body: str, head: str = "") -> bytes:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>".encode()


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
